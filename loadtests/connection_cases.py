"""Connection-level robustness cases: the client that attacks the connection, not the body.

Each case writes raw bytes (loadtests/rawhttp.py) to a running stack, in the stack's own
protocol, and records what came back: the status (None when no answer came), whether the body
was the contract's ErrorBody, the time to answer and, in words, what happened with the numbers
measured. It is judged like the bad-input matrix: pass (what the contract asks), declared (the
stack's documented deviation), undeclared (another 4xx), fail (a 5xx, no answer where one is
due, an answer to a request that should have been refused, or the stack unready afterwards).

Where a judgement needs time, it is relative to the same stack's baseline measured in the same
run (a fresh prediction on a new connection), never an absolute number of milliseconds.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import psutil

from loadtests import server_metrics
from loadtests.classify import is_error_body
from loadtests.rawhttp import Exchange, NoAnswer, RawConnection, RawResponse, chunked, request_head
from loadtests.verify import answer_problem
from servebench.results.kinds import CaseOutcome, CaseResult
from servers.process import ServerProcess
from servers.protocols import NativeRequest, NotAnAnswer
from servers.registry import Stack
from shared_model.cases import BAD, BadCase, GoldenCase
from shared_model.schemas import MAX_BATCH_ITEMS

# A fresh request while the idle connections are held is answered in time if it comes within
# this many times the baseline: a server that serves idle connections apart answers it in about
# one baseline, one whose workers sit on idle connections not before they give up on them.
FLOOD_PATIENCE = 50
BASELINE_SAMPLES = 5
PIPELINED = 3  # requests written at once on one connection
OVERSIZED_HEADER_BYTES = 1024 * 1024  # one header as large as the contract's largest body
UPLOAD_BYTES = 2 * 1024 * 1024

Meets = Literal["yes", "declared", "no"]


@dataclass(frozen=True)
class Seen:
    """What one case observed, and whether it is what the contract asks for."""

    status: int | None  # None: no answer (the connection closed or was reset, or nothing in time)
    error_body: bool
    latency_ms: float
    meets: Meets  # "declared": what the stack declares for a bad case this one amounts to
    detail: str


@dataclass(frozen=True)
class Probe:
    """A running stack, with what the cases need to judge it."""

    server: ServerProcess
    golden: Sequence[GoldenCase]
    timeout_s: float  # the longest any single exchange may take
    row_cost_s: float  # model time injected per row (SERVEBENCH_SLOWDOWN_US), 0 if none
    baseline_s: float = 0.0  # median fresh prediction on a new connection, measured first

    @property
    def stack(self) -> Stack:
        return self.server.stack

    def connect(self) -> RawConnection:
        return RawConnection(self.server.host, self.server.port, self.timeout_s)

    def head(self, native: NativeRequest, **headers: str) -> bytes:
        """The request line and headers of `native`, with these headers added (as given)."""
        return request_head(native.method, native.path, self.server.host, {**native.headers, **headers})

    def whole(self, native: NativeRequest) -> bytes:
        return self.head(native, **{"Content-Length": str(len(native.body))}) + native.body


@dataclass(frozen=True)
class ConnectionCase:
    name: str
    group: str
    expected: int  # the contract's status, as the matrix shows it
    run: Callable[[Probe], Seen]
    # The BAD case this one amounts to: the stack's declared answer to it is declared here too.
    amounts_to: str | None = None


def _bad(name: str) -> BadCase:
    return next(case for case in BAD if case.name == name)


def _single(probe: Probe, index: int = 0) -> NativeRequest:
    return probe.stack.protocol.request([probe.golden[index].request], False, probe.stack.paths)


def _exchange(probe: Probe, data: bytes, half_close: bool = False) -> tuple[Exchange, float]:
    started = time.perf_counter()
    with probe.connect() as connection:
        connection.send(data)
        if half_close:
            connection.half_close()
        answer = connection.read_response()
    return answer, (time.perf_counter() - started) * 1000


def _words(answer: Exchange) -> str:
    if isinstance(answer, NoAnswer):
        return str(answer)
    kind = answer.headers.get("content-type", "no content type").split(";")[0]
    return f"{answer.status} ({kind}{', ErrorBody' if is_error_body(answer.body) else ''})"


def _seen(answer: Exchange, latency_ms: float, meets: Meets, detail: str = "") -> Seen:
    status = answer.status if isinstance(answer, RawResponse) else None
    error_body = isinstance(answer, RawResponse) and is_error_body(answer.body)
    return Seen(status, error_body, round(latency_ms, 2), meets, detail or _words(answer))


def _refused(answer: Exchange, *statuses: int) -> bool:
    """Refused as the contract allows for a request that cannot be read: one of `statuses`, or
    the connection closed (or reset) without an answer; never a hang."""
    if isinstance(answer, NoAnswer):
        return answer.ending != "timeout"
    return answer.status in statuses


def _as_bad_case(probe: Probe, answer: Exchange, name: str) -> Meets:
    """Whether `answer` is the contract's answer to the BAD case `name` ("yes"), the answer the
    stack declares for it ("declared"), or neither."""
    if not isinstance(answer, RawResponse):
        return "no"
    case = _bad(name)
    if answer.status == case.status and is_error_body(answer.body):
        return "yes"
    status, body = probe.stack.expected_bad(case)
    declared = answer.status == status and answer.status < 500 and (is_error_body(answer.body) or not body)
    return "declared" if declared else "no"


def _golden_problem(probe: Probe, answer: Exchange, index: int) -> str | None:
    """None when `answer` is the golden answer for golden row `index`, else what is wrong."""
    if not isinstance(answer, RawResponse):
        return str(answer)
    if answer.status != 200:
        return f"status {answer.status}"
    try:
        (found,) = probe.stack.protocol.answers(answer.body, 1, False)
    except NotAnAnswer as error:
        return str(error)
    return answer_problem(found, probe.golden[index])


def measure_baseline(probe: Probe) -> float:
    """Median seconds of a fresh prediction on a new connection: the yardstick of the timed cases."""
    request = probe.whole(_single(probe))
    times = []
    for _ in range(BASELINE_SAMPLES):
        answer, latency_ms = _exchange(probe, request)
        if isinstance(answer, RawResponse) and answer.status == 200:
            times.append(latency_ms / 1000)
    return statistics.median(times) if times else probe.timeout_s / FLOOD_PATIENCE


# -- framing: requests whose length or chunking is broken --------------------------------------


def chunk_size_not_hex(probe: Probe) -> Seen:
    native = _single(probe)
    body = b"zz\r\n" + native.body + b"\r\n0\r\n\r\n"
    answer, ms = _exchange(probe, probe.head(native, **{"Transfer-Encoding": "chunked"}) + body)
    return _seen(answer, ms, "yes" if _refused(answer, 400) else "no")


def chunk_size_overflow(probe: Probe) -> Seen:
    """A chunk size of 2**64: a parser that wraps it to 0 sees an empty body; one that reads it
    waits for data that never comes, until the client half-closes."""
    native = _single(probe)
    body = f"{2**64:x}\r\n".encode() + native.body + b"\r\n0\r\n\r\n"
    head = probe.head(native, **{"Transfer-Encoding": "chunked"})
    answer, ms = _exchange(probe, head + body, half_close=True)
    return _seen(answer, ms, "yes" if _refused(answer, 400, 413) else "no")


def length_and_chunked(probe: Probe) -> Seen:
    """Content-Length and Transfer-Encoding together (the request-smuggling shape): refused, or
    read by its chunks alone and the connection closed after the answer (RFC 9112, 6.1)."""
    native = _single(probe)
    head = probe.head(native, **{"Content-Length": "5", "Transfer-Encoding": "chunked"})
    answer, ms = _exchange(probe, head + chunked(native.body))
    by_chunks = (isinstance(answer, RawResponse) and answer.closes
                 and _golden_problem(probe, answer, 0) is None)
    detail = _words(answer) + (", read by its chunks, connection closed" if by_chunks else "")
    return _seen(answer, ms, "yes" if _refused(answer, 400) or by_chunks else "no", detail)


def length_shorter_than_body(probe: Probe) -> Seen:
    """Content-Length covers half the body: the server judges that half (malformed JSON), or
    refuses the bytes that follow it as a request that cannot be read."""
    native = _single(probe)
    head = probe.head(native, **{"Content-Length": str(len(native.body) // 2)})
    answer, ms = _exchange(probe, head + native.body)
    meets = "yes" if _refused(answer, 400) else _as_bad_case(probe, answer, "malformed_json")
    return _seen(answer, ms, meets)


def length_longer_than_body(probe: Probe) -> Seen:
    """Content-Length promises more than is sent, then the client half-closes: the request never
    arrived whole and must not be answered as if it had."""
    native = _single(probe)
    head = probe.head(native, **{"Content-Length": str(len(native.body) + 64)})
    answer, ms = _exchange(probe, head + native.body, half_close=True)
    return _seen(answer, ms, "yes" if _refused(answer, 400) else "no")


def negative_length(probe: Probe) -> Seen:
    native = _single(probe)
    answer, ms = _exchange(probe, probe.head(native, **{"Content-Length": "-1"}) + native.body)
    return _seen(answer, ms, "yes" if _refused(answer, 400) else "no")


# -- the connection itself ---------------------------------------------------------------------


def connection_slots(stack: Stack) -> int:
    """How many requests the stack can work on at once, by its declared knobs: its processes
    times the threads each gives to connections."""
    knobs = stack.knobs
    per_worker = max(int(knobs.get("threads", 1)), int(knobs.get("http_threads", 1)), 1)
    return int(knobs.get("workers", 1)) * per_worker


def idle_connections(stack: Stack) -> int:
    """Four times the requests the stack can work on at once, and eight more: enough to occupy
    every worker or thread that waits on a connection, bounded by the stack's own knobs."""
    return 4 * connection_slots(stack) + 8


def idle_flood(probe: Probe) -> Seen:
    """Hold idle connections (opened, nothing sent), then time a fresh prediction."""
    held: list[RawConnection] = []
    failed_connects = 0
    for _ in range(idle_connections(probe.stack)):
        try:
            held.append(probe.connect())
        except OSError:
            failed_connects += 1
    patience_s = FLOOD_PATIENCE * probe.baseline_s
    started = time.perf_counter()
    with probe.connect() as fresh:
        fresh.send(probe.whole(_single(probe)))
        answer = fresh.read_response(patience_s)
        in_time = not isinstance(answer, NoAnswer) or answer.ending != "timeout"
        for connection in held:
            connection.close()
        if not in_time:  # how long it took once the idle connections were gone
            answer = fresh.read_response()
    ms = (time.perf_counter() - started) * 1000
    flood = f"{len(held)} idle connections"
    if failed_connects:
        flood += f" ({failed_connects} more could not connect)"
    if in_time:
        problem = _golden_problem(probe, answer, 0)
        detail = (f"answered in {ms:.0f} ms with {flood} held (baseline {probe.baseline_s * 1000:.0f} ms)"
                  if problem is None else f"{flood} held: {problem}")
        return _seen(answer, ms, "yes" if problem is None else "no", detail)
    late = f"answered {answer.status}" if isinstance(answer, RawResponse) else str(answer)
    detail = (f"no answer within {patience_s * 1000:.0f} ms ({FLOOD_PATIENCE} x the baseline) with {flood} "
              f"held; {late} {ms:.0f} ms after it was sent, once they had closed")
    return Seen(None, False, round(ms, 2), "no", detail)  # no answer in time, whatever came later


def oversized_headers(probe: Probe) -> Seen:
    native = _single(probe)
    padding = "a" * OVERSIZED_HEADER_BYTES
    head = probe.head(native, **{"Content-Length": str(len(native.body)), "X-Padding": padding})
    answer, ms = _exchange(probe, head + native.body)
    return _seen(answer, ms, "yes" if _refused(answer, 400, 413, 431) else "no")


def pipelined(probe: Probe) -> Seen:
    """Several predictions written at once on one connection: each answered, in order, or the
    answers stop after one that says `Connection: close` (the client knows what to resend)."""
    requests = [_single(probe, i) for i in range(PIPELINED)]
    started = time.perf_counter()
    answers: list[Exchange] = []
    with probe.connect() as connection:
        connection.send(b"".join(probe.whole(r) for r in requests))
        for _ in requests:
            answers.append(connection.read_response())
            if isinstance(answers[-1], NoAnswer):
                break
    ms = (time.perf_counter() - started) * 1000
    words = []
    meets: Meets = "yes"
    for index, answer in enumerate(answers):
        problem = _golden_problem(probe, answer, index)
        previous = answers[index - 1] if index else None
        after_close = isinstance(previous, RawResponse) and previous.closes
        if isinstance(answer, NoAnswer) and answer.ending != "timeout" and after_close:
            words.append(f"{len(requests) - index} unanswered after Connection: close (to be resent)")
            break
        words.append(f"{index + 1}: {problem or 'its answer'}")
        if problem is not None:
            meets = "no"
    first = answers[0]
    return Seen(first.status if isinstance(first, RawResponse) else None,
                isinstance(first, RawResponse) and is_error_body(first.body), round(ms, 2), meets,
                "; ".join(words))


def _batch(probe: Probe) -> NativeRequest:
    rows = [probe.golden[i % len(probe.golden)].request for i in range(MAX_BATCH_ITEMS)]
    return probe.stack.protocol.request(rows, True, probe.stack.paths)


def _counted(probe: Probe, before: str | None) -> tuple[bool, str]:
    """Whether the stack's contract metrics account for the abandoned batch exactly once."""
    after = server_metrics.scrape(probe.server.url_for("metrics"))
    if before is None or after is None:
        return False, "/metrics did not answer"
    found = server_metrics.delta(before, after)
    predicted = found.predictions.get("batch/success", 0.0)
    errors = {k: v for k, v in found.errors.items() if k.startswith("batch/") and v}
    if predicted == MAX_BATCH_ITEMS and not errors:
        return True, f"counted as {MAX_BATCH_ITEMS} rows predicted"
    if predicted == 0 and sum(errors.values()) == 1:
        return True, f"counted as an error ({', '.join(errors)})"
    return False, f"counters moved by {predicted:g} rows predicted and errors {errors or 'none'}"


def _left_open(probe: Probe, client_port: int) -> list[str]:
    """The server's side of a connection from `client_port`, if it still holds it."""
    return [c.status for c in psutil.net_connections(kind="tcp")
            if c.laddr and c.raddr and c.laddr.port == probe.server.port and c.raddr.port == client_port
            and c.status in (psutil.CONN_ESTABLISHED, psutil.CONN_CLOSE_WAIT)]


def disconnect_mid_request(probe: Probe) -> Seen:
    """A client gives up on a 100-row batch while the model computes it: the stack must neither
    crash nor keep the connection, and its counters must account for the request once."""
    request = probe.whole(_batch(probe))
    answer, connected_ms = _exchange(probe, request)  # the same batch, waited for: the yardstick
    if not isinstance(answer, RawResponse) or answer.status != 200:
        return _seen(answer, connected_ms, "no", f"the batch itself was not answered: {_words(answer)}")
    compute_s = probe.row_cost_s * MAX_BATCH_ITEMS
    # Half-way through the model call: everything before it (parsing, queueing) is in the
    # measured time, and the call is the last compute_s of it.
    leave_after_s = max(connected_ms / 1000 - compute_s / 2, connected_ms / 2000)
    before = server_metrics.scrape(probe.server.url_for("metrics"))
    started = time.perf_counter()
    with probe.connect() as connection:
        client_port = connection.sock.getsockname()[1]
        connection.send(request)
        time.sleep(leave_after_s)
    # The work it was left with ends within three times the whole batch: wait that long at most
    # for the connection to be released, then for the counters to move.
    deadline = time.monotonic() + 3 * connected_ms / 1000
    poll_s = connected_ms / 20000
    while _left_open(probe, client_port) and time.monotonic() < deadline:
        time.sleep(poll_s)
    held = _left_open(probe, client_port)
    metrics_deviation = probe.stack.deviation_for("ml_metrics")
    counted, counter = False, ""
    while metrics_deviation is None and time.monotonic() < deadline:
        counted, counter = _counted(probe, before)
        if counted:
            break
        time.sleep(poll_s)
    if metrics_deviation is not None:
        counter = f"no contract counters ({metrics_deviation.summary.split(':')[0]})"
    ms = (time.perf_counter() - started) * 1000
    after = _exchange(probe, probe.whole(_single(probe)))[0]
    golden = _golden_problem(probe, after, 0)
    parts = [f"left {leave_after_s * 1000:.0f} ms after sending (the batch takes {connected_ms:.0f} ms)",
             "connection still held: " + ", ".join(held) if held else "connection released",
             counter, "next prediction " + (golden or "answered correctly")]
    meets: Meets = "no" if held or golden else "yes" if counted else "declared" if metrics_deviation else "no"
    return Seen(None, False, round(ms, 2), meets, "; ".join(parts))


def upload_2mib(probe: Probe) -> Seen:
    """A 2 MiB body written as a client library writes it (buffer after buffer, reading only
    when done or when a write fails): does the client get to read the refusal?"""
    native = probe.stack.protocol.bad_request(_bad("body_2mib"), probe.stack.paths)
    assert native is not None
    started = time.perf_counter()
    with probe.connect() as connection:
        sent_all = connection.upload(probe.whole(native))
        answer = connection.read_response()
    ms = (time.perf_counter() - started) * 1000
    detail = _words(answer) + ("" if sent_all else ", after the server stopped reading the body")
    return _seen(answer, ms, _as_bad_case(probe, answer, "body_2mib"), detail)


CONNECTION_CASES: tuple[ConnectionCase, ...] = (
    ConnectionCase("chunk_size_not_hex", "framing", 400, chunk_size_not_hex),
    ConnectionCase("chunk_size_overflow", "framing", 400, chunk_size_overflow),
    ConnectionCase("length_and_chunked", "framing", 400, length_and_chunked),
    ConnectionCase("length_shorter_than_body", "framing", 422, length_shorter_than_body, "malformed_json"),
    ConnectionCase("length_longer_than_body", "framing", 400, length_longer_than_body),
    ConnectionCase("negative_length", "framing", 400, negative_length),
    ConnectionCase("oversized_headers", "connection", 431, oversized_headers),
    ConnectionCase("idle_flood", "connection", 200, idle_flood),
    ConnectionCase("pipelined", "connection", 200, pipelined),
    ConnectionCase("disconnect_mid_request", "connection", 200, disconnect_mid_request),
    ConnectionCase("upload_2mib", "size", 413, upload_2mib, "body_2mib"),
)


def judge(stack: Stack, case: ConnectionCase, seen: Seen, ready: bool) -> CaseOutcome:
    """The matrix's verdict, as loadtests/classify.py gives it for bad input: a 5xx or no answer
    where one is due is a failure even when the stack declares it."""
    if not ready:
        return "fail"
    if seen.meets == "yes":
        return "pass"
    if seen.meets == "declared":  # never a 5xx (see _as_bad_case), or a case that needs no answer
        return "declared"
    if seen.status is None or seen.status >= 500:
        return "fail"
    deviation = stack.deviation_for(case.name)
    if deviation is not None and seen.status == deviation.status and (
            seen.error_body or not deviation.error_body):
        return "declared"
    return "undeclared" if 400 <= seen.status < 500 else "fail"


def as_declared(stack: Stack, result: CaseResult) -> bool:
    """Whether a stack answered a case as the contract or its own declarations say: a failure
    the stack declares (a 5xx, or no answer) is still a failure in the matrix, but the declared one."""
    if result.outcome in ("pass", "declared"):
        return True
    if not result.ready_after:
        return False
    related = [(bad.name, bad.group) for c in CONNECTION_CASES if c.name == result.case and c.amounts_to
               for bad in (_bad(c.amounts_to),)]
    deviation = stack.deviation_for(result.case, *(n for pair in related for n in pair), result.group)
    if deviation is None:
        return False
    return deviation.no_answer if result.status is None else deviation.status == result.status


def declared_status(stack: Stack, case: ConnectionCase) -> int:
    """The status the stack declares for this case (the contract's when it declares none)."""
    deviation = stack.deviation_for(case.name)
    if deviation is not None and deviation.status is not None:
        return deviation.status
    if case.amounts_to is not None:
        return stack.expected_bad(_bad(case.amounts_to))[0]
    return case.expected
