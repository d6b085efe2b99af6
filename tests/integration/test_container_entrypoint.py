"""The image's command, run for real on loopback, the way the container runs it:
configuration from the compose environment, a read-only artifact dir, a separate run dir."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from servebench.deploy import container
from servers.process import REPO_ROOT, free_port
from servers.registry import STACKS
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


def probe(port: int) -> int:
    command = [sys.executable, "-m", "servebench.probe", "--port", str(port)]
    return subprocess.run(command, capture_output=True, timeout=10, check=False).returncode


@pytest.mark.parametrize("name", sorted(STACKS))
def test_image_command_serves_the_stack_from_its_environment(name, readonly_artifacts, tmp_path) -> None:
    stack = STACKS[name]
    port = free_port()
    changed_knob = "graceful_timeout_s"  # every stack has it; a value unlike the default
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SERVEBENCH_", "PROMETHEUS_"))}
    env.update(container.environment(stack))
    env.update({
        "SERVEBENCH_PORT": str(port),
        "SERVEBENCH_ARTIFACTS": str(readonly_artifacts),
        "SERVEBENCH_RUN_DIR": str(tmp_path / "run"),
        "SERVEBENCH_KNOB_GRACEFUL_TIMEOUT_S": "7",
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
        assert probe(port) == 0  # the image's HEALTHCHECK command agrees
        info = httpx.get(f"http://127.0.0.1:{port}{stack.paths['info']}", timeout=5).json()
        assert info["stack"] == name
        assert info["knobs"] == {**stack.knobs, changed_knob: 7}
        assert info["model"]["sha256"] == _recorded_sha(readonly_artifacts)
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


def _ready(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def _recorded_sha(directory: Path) -> str:
    name = PROFILES[container.MODEL_PROFILE].metadata_path.name
    return json.loads((directory / name).read_text())["sha256"]
