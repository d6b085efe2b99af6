"""Dynamic batching on an asyncio loop: concurrent callers share one model call.

Design:
- One model thread. While it computes batch k, requests keep arriving and queue up.
- Before each model call the dispatcher lets the event loop finish what has already arrived:
  it yields for one loop round (the loop polls its sockets and runs the handlers that poll
  woke) and repeats while a round brings new requests, up to max_batch_size rows. On one
  core this is what makes batches large under load: every request parsed before the model
  call rides in it, instead of each model call taking the two or three requests that
  happened to be parsed the moment the model thread came free. An idle server spends one
  round (two passes of the loop) and no timer: a lone request is dispatched at once.
- It also waits for requests whose body is still being received (their handler started, the
  body is not complete): cheap to wait for, they fill the batch.
- max_wait_ms bounds all of this gathering: the first request of a batch waits for others
  at most that long.
- Idle fast path: a lone request with nothing else queued or arriving is predicted on the
  loop itself when a lone call of the model costs at most `inline_call_handoffs` times the
  hand-off to the model thread and back (a thread wake-up, a GIL hand-off, a loop wake-up).
  Both are measured here, at run time, as medians of the last few lone calls (the hop only
  when the thread made the call): the first lone requests take the thread, which measures
  both, and one lone request in REMEASURE_EVERY still does, so the hop's measure stays
  current. For a model as fast as a few hand-offs the hop is pure overhead at low load, and
  there is nothing for the loop to do meanwhile; a slow model would block the loop (probes,
  parsing) for longer than the hop saves, so it keeps the thread, as every batch does. Only
  ratios of times measured on this machine decide: the same model and server choose the same
  path on a fast or a slow CPU.
- The queue is bounded: a full queue rejects at once instead of growing latency forever.
"""

from __future__ import annotations

import asyncio
import math
import statistics
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from shared_model.predictor import Predictions

# How many recent measurements a decision rests on: the median of 9 ignores a cold first call
# or a preempted one, and follows a change of the model's cost within a few calls; no decision
# rests on fewer than MEASURED_FIRST.
LEARNED = 9
MEASURED_FIRST = 3
REMEASURE_EVERY = 64  # lone requests: one in this many takes the thread to measure the hop again


class QueueFull(Exception):
    """The batcher's queue holds max_queue rows already."""


@dataclass
class _Pending:
    rows: Sequence[Any]
    future: asyncio.Future[Predictions]
    enqueued: float = field(default_factory=time.perf_counter)


@dataclass
class BatcherStats:
    submitted: int = 0  # calls to submit()
    rows: int = 0
    batches: int = 0  # model calls
    rejected: int = 0
    failed_batches: int = 0
    inline_calls: int = 0  # model calls made on the loop (idle fast path)
    # The last few measurements: the hop to the model thread and back, and a lone model call.
    handoffs_s: deque[float] = field(default_factory=lambda: deque(maxlen=LEARNED))
    lone_calls_s: deque[float] = field(default_factory=lambda: deque(maxlen=LEARNED))
    lone_calls: int = 0  # every lone call, on the loop or the thread

    @property
    def handoff_s(self) -> float | None:
        return statistics.median(self.handoffs_s) if self.handoffs_s else None

    @property
    def lone_call_s(self) -> float | None:
        return statistics.median(self.lone_calls_s) if self.lone_calls_s else None


class Batcher:
    def __init__(
        self,
        infer: Callable[[Sequence[Any]], Predictions],
        max_batch_size: int = 64,
        max_wait_ms: float = 2.0,
        max_queue: int = 1024,
        on_queue_wait: Callable[[float], None] | None = None,
        inline_call_handoffs: float = 0.0,
    ) -> None:
        if max_batch_size < 1 or max_queue < 1 or max_wait_ms < 0 or inline_call_handoffs < 0:
            raise ValueError("max_batch_size and max_queue must be >= 1, max_wait_ms and "
                             "inline_call_handoffs >= 0")
        self._infer = infer
        self.max_batch_size = max_batch_size
        self.max_wait_s = max_wait_ms / 1000
        self.inline_call_handoffs = inline_call_handoffs
        self._last_call_s = math.inf
        self.max_queue = max_queue
        self._on_queue_wait = on_queue_wait
        self._queue: deque[_Pending] = deque()
        self._queued_rows = 0
        self._incoming = 0
        self._arrivals = 0
        self._changed = asyncio.Event()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="model")
        self._task: asyncio.Task[None] | None = None
        self.stats = BatcherStats()

    @property
    def queued_rows(self) -> int:
        return self._queued_rows

    @contextmanager
    def arrival(self) -> Iterator[None]:
        """Wrap body reading and parsing, so the dispatcher knows a request is on its way."""
        self._incoming += 1
        self._arrivals += 1
        try:
            yield
        finally:
            self._incoming -= 1
            self._changed.set()

    async def submit(self, rows: Sequence[Any]) -> Predictions:
        """Predict `rows` as part of whatever batch forms; raises QueueFull when full."""
        if self._queued_rows + len(rows) > self.max_queue:
            self.stats.rejected += 1
            raise QueueFull
        pending = _Pending(rows, asyncio.get_running_loop().create_future())
        self._queue.append(pending)
        self._queued_rows += len(rows)
        self.stats.submitted += 1
        self._changed.set()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._dispatch())
        return await pending.future

    def _inline(self) -> bool:
        """Whether a lone request should run on the loop: its call is cheap next to the hop."""
        stats = self.stats
        if len(stats.handoffs_s) < MEASURED_FIRST or stats.lone_calls % REMEASURE_EVERY == 0:
            return False
        handoff, call = stats.handoff_s, stats.lone_call_s
        return handoff is not None and call is not None and call <= self.inline_call_handoffs * handoff

    async def _dispatch(self) -> None:
        loop = asyncio.get_running_loop()
        while self._queue:
            await self._gather_stragglers(loop)
            batch = self._take()
            rows = [row for pending in batch for row in pending.rows]
            started = time.perf_counter()
            if self._on_queue_wait:
                for pending in batch:
                    self._on_queue_wait(started - pending.enqueued)
            self.stats.batches += 1
            self.stats.rows += len(rows)
            idle = len(batch) == 1 and not self._queue and not self._incoming
            try:
                if idle and self._inline():
                    self.stats.inline_calls += 1
                    result = self._call(rows)
                else:
                    hop_started = time.perf_counter()
                    result = await loop.run_in_executor(self._executor, self._call, rows)
                    if idle:  # an idle loop resumes at once: the hop's own cost, nothing else
                        hop = time.perf_counter() - hop_started - self._last_call_s
                        self.stats.handoffs_s.append(hop)
                if idle:
                    self.stats.lone_calls += 1
                    self.stats.lone_calls_s.append(self._last_call_s)
            except Exception as exc:  # only this batch's callers fail
                self.stats.failed_batches += 1
                for pending in batch:
                    if not pending.future.done():
                        pending.future.set_exception(exc)
                continue
            start = 0
            for pending in batch:
                end = start + len(pending.rows)
                if not pending.future.done():
                    pending.future.set_result(result.part(start, end))
                start = end

    def _call(self, rows: Sequence[Any]) -> Predictions:
        started = time.perf_counter()
        try:
            return self._infer(rows)
        finally:
            self._last_call_s = time.perf_counter() - started

    async def _gather_stragglers(self, loop: asyncio.AbstractEventLoop) -> None:
        deadline = loop.time() + self.max_wait_s
        while self._queued_rows < self.max_batch_size:
            arrivals = self._arrivals
            await _one_loop_round()
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            if self._arrivals != arrivals:
                continue  # the round brought requests: there may be more behind them
            if not self._incoming:
                return
            self._changed.clear()
            try:
                async with asyncio.timeout(remaining):  # unlike wait_for, no task per wait
                    await self._changed.wait()
            except TimeoutError:
                return

    def _take(self) -> list[_Pending]:
        batch = [self._queue.popleft()]
        size = len(batch[0].rows)
        while self._queue and size + len(self._queue[0].rows) <= self.max_batch_size:
            pending = self._queue.popleft()
            batch.append(pending)
            size += len(pending.rows)
        self._queued_rows -= size
        return batch

    async def close(self) -> None:
        """Finish what is queued, then stop the model thread."""
        if self._task is not None:
            await asyncio.shield(self._task)
        self._executor.shutdown(wait=True)


async def _one_loop_round() -> None:
    """Resume after the loop has polled its sockets once and run the handlers that woke.

    The first yield runs after the callbacks already scheduled; the loop then polls I/O and
    schedules the handlers of newly arrived requests behind us; the second yield lets those
    run (parse, submit) before we resume.
    """
    await asyncio.sleep(0)
    await asyncio.sleep(0)
