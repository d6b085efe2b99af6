"""One stack session, the only way any kind of run starts a stack to measure it.

    start pinned -> ready within the stack's deadline -> verify -> the run kind's measurement
    -> always stop the whole process group

A failure anywhere (start, readiness, verification, a measurement, the server dying) ends the
session with its reason and the server's log tail, and the run goes on with the next stack.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

import httpx

from loadtests.generators.base import RemoteWorkers
from loadtests.verify import verify
from servebench.results.schema import PROCESS_MARK, Check, Topology
from servers.process import REPO_ROOT, ExternalServer, Server, ServerProcess, StackFailed, tail
from servers.registry import STACKS, Stack
from shared_model.cases import BadCase, GoldenCase, bad_cases, golden_cases
from shared_model.model_schema import ModelSchema
from shared_model.models import MODELS_DIR_ENV, RegisteredModel, get_model, models_dir
from shared_model.predictor import Predictor

# Registered golden answers must still be what the model answers in this environment.
GOLDEN_TOLERANCE = 1e-6

# full: golden answers, every bad input, /info; answers: golden answers and /info (a stack
# already verified in full in this run); none: nothing (the gate measures another commit too).
Verification = Literal["full", "answers", "none"]


class MeasurementFailed(RuntimeError):
    """A load generator produced no result; carries the tail of its log."""

    def __init__(self, reason: str, log_tail: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.log_tail = log_tail


class GoldenDrift(RuntimeError):
    """The model no longer gives the answers it gave when it was registered."""


def _same(case: GoldenCase, registered: dict[str, Any]) -> bool:
    if isinstance(case.prediction, float) and not isinstance(case.prediction, bool):
        return abs(case.prediction - float(registered["prediction"])) <= GOLDEN_TOLERANCE
    if case.prediction != registered["prediction"]:
        return False
    return all(abs(a - b) <= GOLDEN_TOLERANCE for a, b in zip(case.probability, registered["probability"],
                                                              strict=True))


def _checked_golden(model: RegisteredModel, predictor: Predictor) -> list[GoldenCase]:
    """Churn's golden answers computed here; a user model's registered ones, recomputed and
    compared: a library upgrade that changes the answers stops the run before any stack."""
    registered = model.registered_golden()
    if registered is None:
        return golden_cases(predictor)
    computed = golden_cases(predictor, [case["request"] for case in registered])
    for index, (case, written) in enumerate(zip(computed, registered, strict=True)):
        if not _same(case, written):
            raise GoldenDrift(
                f"model {model.name!r}: golden case {index} answers {case.prediction!r} "
                f"{list(case.probability)} in process, registered {written['prediction']!r} "
                f"{written['probability']}: the libraries changed since `servebench model add`; "
                "register it again (--force) to accept the new answers")
    return computed


@dataclass(frozen=True)
class ModelUnderTest:
    """The model every stack of a run serves, with its answers computed in-process."""

    name: str
    fingerprint: str
    version: str
    golden: list[GoldenCase]
    predictor: Predictor
    # The rows workloads send, each with its in-process answer (the user's sample; churn's
    # golden rows), and the bad cases asked of every stack.
    payload: list[GoldenCase] = field(default_factory=list)
    bad: tuple[BadCase, ...] = ()

    @classmethod
    def load(cls, name: str) -> ModelUnderTest:
        registered = get_model(name)
        predictor = Predictor.load(registered)
        golden = _checked_golden(registered, predictor)
        payload = golden if registered.builtin else golden_cases(predictor, registered.sample_rows())
        return cls(name, predictor.fingerprint, predictor.version, golden, predictor, payload,
                   bad_cases(registered.schema, churn=registered.builtin))

    @property
    def schema(self) -> ModelSchema:
        return self.predictor.schema

    @property
    def registered(self) -> RegisteredModel:
        return self.predictor.registered

    def server_env(self) -> dict[str, str]:
        """What a server process needs to serve this model."""
        return {"SERVEBENCH_MODEL": self.name, MODELS_DIR_ENV: str(models_dir())}

    def described(self) -> dict[str, str]:
        return {"profile": self.name, "sha256": self.fingerprint, "version": self.version,
                "kind": self.schema.kind}


@dataclass(frozen=True)
class External:
    """A service already running elsewhere, measured under `label` as a stack of the registry's
    kind `kind` (its protocol, paths and declared deviations)."""

    label: str
    kind: str
    url: str
    bad_inputs: bool = True  # verify with the bad inputs too (each is an error in its logs)

    def stack(self) -> Stack:
        base = STACKS[self.kind]
        return replace(base, name=self.label, title=f"{base.title} (external, at {self.url})")


def topology(server_host: str, remote: RemoteWorkers | None, external: External | None) -> Topology:
    """What a result records about where the load came from and what it measured."""
    return Topology(
        server_host=server_host, remote_workers=remote.count if remote else 0,
        locust_master=remote.address if remote else None,
        external_url=external.url if external else None, external_kind=external.kind if external else None)


@dataclass(frozen=True)
class Session:
    """A stack that is up, ready and verified: what a run kind's measurement is given."""

    server: Server
    model: ModelUnderTest
    ready_s: float
    checks: list[Check]


@dataclass
class Ended:
    """How a session went, for the result: ready time, checks, shutdown time, failure."""

    stack: Stack
    command: list[str]
    log: Path
    ready_s: float | None = None
    checks: list[Check] = field(default_factory=list)
    shutdown_s: float | None = None
    reason: str | None = None
    log_tail: str | None = None

    @property
    def failed(self) -> bool:
        return self.reason is not None

    def launch(self) -> dict[str, Any]:
        """The StackLaunch fields every result kind records about its stacks."""
        return {"stack": self.stack.name, "title": self.stack.title,
                "status": "failed" if self.failed else "ok", "reason": self.reason,
                "log_tail": self.log_tail, "knobs": dict(self.stack.knobs), "command": self.command,
                "time_to_ready_s": self.ready_s, "shutdown_s": self.shutdown_s, "checks": self.checks}


def _failed_checks(checks: list[Check]) -> str | None:
    failed = [c for c in checks if not c.ok]
    if not failed:
        return None
    return "verification failed: " + "; ".join(f"{c.name} ({c.detail})" for c in failed[:5]) + (
        " …" if len(failed) > 5 else "")


def run_session(stack: Stack, model: ModelUnderTest, cpus: tuple[int, ...] | None, log: Path,
                measure: Callable[[Session], None], verification: Verification = "full",
                env: Mapping[str, str] | None = None, cwd: Path = REPO_ROOT,
                external: External | None = None, host: str = "127.0.0.1") -> Ended:
    """Start, verify, measure, stop; never raises for the stack's own failures. `host`: the
    address the stack binds (loopback unless load comes from other hosts). With `external`,
    nothing is started or stopped: the service at its URL is verified and measured as `stack`."""
    server: Server = (
        ExternalServer(stack, external.url, external.kind, log) if external else
        ServerProcess(stack, host=host, cpus=cpus, env={**model.server_env(), **(env or {})},
                      log_path=log, cwd=cwd))
    ended = Ended(stack, server.command(), log)
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a") as opening:  # where this process's part of the log begins
        opening.write(f"{PROCESS_MARK} {datetime.now(UTC).isoformat(timespec='seconds')} "
                      f"{' '.join(ended.command)}\n")
    try:
        server.start()
        ended.ready_s = server.wait_ready()
        if isinstance(server, ExternalServer):
            ended.stack = server.stack = _with_reported_knobs(server)
        if verification != "none":
            ended.checks = verify(server, model.golden, model.name, model.fingerprint,
                                  bad_inputs=verification == "full", model=model.schema, bad=model.bad)
            problem = _failed_checks(ended.checks)
            if problem:
                raise server.failed(problem)
        measure(Session(server, model, ended.ready_s, ended.checks))
        if not server.alive():
            raise server.failed("exited during the measurement")
    except StackFailed as error:
        ended.reason, ended.log_tail = error.reason, error.log_tail
    except MeasurementFailed as error:
        if not server.alive():
            ended.reason, ended.log_tail = f"died during {error.reason}", tail(log)
        else:
            ended.reason, ended.log_tail = error.reason, error.log_tail
    except Exception as error:  # an engine fault must not cost the other stacks
        ended.reason, ended.log_tail = f"{type(error).__name__}: {error}", tail(log)
    finally:
        if server.proc is not None:
            ended.shutdown_s = server.stop()
    return ended


def _with_reported_knobs(server: ExternalServer) -> Stack:
    """The kind's declaration with the knobs the service reports on /info: what it runs with,
    recorded rather than compared. A kind without /info keeps its registry's knobs."""
    if server.stack.deviation_for("info") is not None:
        return server.stack
    try:
        knobs = httpx.get(server.url_for("info"), timeout=10.0).json().get("knobs")
    except (httpx.HTTPError, ValueError, AttributeError):
        return server.stack  # verification reports what /info answered
    if not isinstance(knobs, dict):
        return server.stack
    return replace(server.stack, knobs=MappingProxyType(dict(knobs)))
