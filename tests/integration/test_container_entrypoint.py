"""The image's command, run for real on loopback, the way the container runs it:
configuration from the compose environment, a read-only artifact dir, a separate run dir."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from servebench.deploy import container
from servers.process import REPO_ROOT, free_port
from servers.registry import STACKS
from shared_model.cases import SEED_EXAMPLE
from shared_model.predictor import Predictor
from shared_model.profiles import PROFILES

READY_WITHIN_S = 60


@pytest.fixture(scope="module")
def readonly_artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("artifacts")
    profile = PROFILES[container.MODEL_PROFILE]
    for path in (profile.artifact, profile.metadata_path):
        shutil.copy(path, directory / path.name)
    directory.chmod(0o555)  # as in the image: the server must not need to write here
    yield directory
    directory.chmod(0o755)


def entrypoint() -> list[str]:
    """The runtime stage's CMD (the Dockerfile's last one), in exec form."""
    lines = (REPO_ROOT / "Dockerfile").read_text().splitlines()
    return json.loads([line for line in lines if line.startswith("CMD ")][-1][len("CMD "):])


def probe(port: int, path: str) -> int:
    command = [sys.executable, "-m", "servebench.probe", "--port", str(port), "--path", path]
    return subprocess.run(command, capture_output=True, timeout=10, check=False).returncode


@pytest.mark.parametrize("name", sorted(STACKS))
def test_image_command_serves_the_stack_from_its_environment(name, readonly_artifacts, tmp_path) -> None:
    stack = STACKS[name]
    # The image's command puts the stack's extra ports right after its port.
    port = _free_port_run(1 + len(stack.extra_ports))
    # A knob every stack with /info reports, set to a value unlike its default.
    changed_knob = "graceful_timeout_s" if "graceful_timeout_s" in stack.knobs else "blas_threads"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SERVEBENCH_", "PROMETHEUS_"))}
    env.update(container.environment(stack))
    env.update({
        "SERVEBENCH_PORT": str(port),
        "SERVEBENCH_ARTIFACTS": str(readonly_artifacts),
        "SERVEBENCH_RUN_DIR": str(tmp_path / "run"),
        f"SERVEBENCH_KNOB_{changed_knob.upper()}": "7",
        "PATH": f"{Path(sys.executable).parent}:{env.get('PATH', '')}",
    })
    command = entrypoint()
    # Loopback only here; in the image the same command binds 0.0.0.0.
    command[-1] = command[-1].replace("--host 0.0.0.0", "--host 127.0.0.1")
    log = tmp_path / "server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        deadline = time.monotonic() + READY_WITHIN_S
        while not _ready(f"http://127.0.0.1:{port}{stack.paths['ready']}"):
            assert proc.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.1)
        assert probe(port, stack.paths["ready"]) == 0  # the image's HEALTHCHECK command agrees
        if stack.deviation_for("info") is None:
            info = httpx.get(f"http://127.0.0.1:{port}{stack.paths['info']}", timeout=5).json()
            assert info["stack"] == name
            assert info["knobs"] == {**stack.knobs, changed_knob: 7}
            assert info["model"]["sha256"] == _recorded_sha(readonly_artifacts)
        else:  # no /info, as declared: the model it loaded answers as the artifact's does
            native = stack.protocol.request([SEED_EXAMPLE], False, stack.paths)
            answer = httpx.request(native.method, f"http://127.0.0.1:{port}{native.path}",
                                   content=native.body, headers=dict(native.headers),
                                   # a stack declared ready_early may still be loading its model
                                   timeout=READY_WITHIN_S)
            assert answer.status_code == 200, answer.text
            (got,) = stack.protocol.answers(answer.content, 1, False)
            assert got.prediction == Predictor.load(PROFILES[container.MODEL_PROFILE]).predict_rows(
                [SEED_EXAMPLE]).classes[0]
        if stack.aggregates_metrics:
            assert any((tmp_path / "run").glob(f"prometheus-{name}/*.db"))
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
    assert not list(readonly_artifacts.glob(".*.lock")), "the server tried to write next to the model"


def _free_port_run(count: int) -> int:
    """A free port followed by count - 1 free ones (other tests start servers meanwhile)."""
    for _ in range(100):
        port = free_port()
        if all(_bindable(port + i) for i in range(1, count)):
            return port
    raise AssertionError(f"no run of {count} free ports on loopback")


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _ready(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def _recorded_sha(directory: Path) -> str:
    name = PROFILES[container.MODEL_PROFILE].metadata_path.name
    return json.loads((directory / name).read_text())["sha256"]
