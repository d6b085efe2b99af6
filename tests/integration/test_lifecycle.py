"""Start, readiness and stop semantics of every registered stack."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import httpx
import pytest

from servers.process import ServerProcess
from servers.registry import STACKS
from shared_model.cases import SEED_EXAMPLE
from shared_model.profiles import PROFILES
from shared_model.schemas import ErrorBody
from tests.integration.native import get, predict

# Long enough to outlast a framework's own start-up after the model load began (BentoML
# starts loading in the worker's constructor, well before its HTTP server answers).
LOAD_DELAY_S = 6.0


@pytest.mark.parametrize("name", list(STACKS))
def test_not_ready_until_the_model_is_loaded_then_clean_sigterm(name: str) -> None:
    stack = STACKS[name]
    declared = stack.deviation_for("not_ready")
    not_ready = declared.status if declared and declared.status else 503
    server = ServerProcess(stack, env={"SERVEBENCH_LOAD_DELAY_S": str(LOAD_DELAY_S)}).start()
    try:
        seen_not_ready = False
        deadline = time.monotonic() + stack.ready_timeout_s
        while time.monotonic() < deadline and server.alive():
            try:
                # A short timeout: a probe queued in a listening socket's backlog must not
                # sleep through the not-ready window.
                ready = get(server, "ready", timeout=1.0)
            except httpx.TransportError:
                # Port still closed: the only not-ready signal of such stacks.
                seen_not_ready |= stack.loads_before_listening
                time.sleep(0.05)
                continue
            if ready.status_code == 200:
                break
            assert not stack.loads_before_listening, "declared: no answer before the model"
            assert ready.status_code == not_ready, ready.text
            if declared is None or declared.error_body:
                assert ErrorBody.model_validate(ready.json()).error == "not_ready"
            assert get(server, "health").status_code == 200
            early, _ = predict(server, [SEED_EXAMPLE], batch=False)
            if early.status_code != 200:
                declared_early = stack.deviation_for("early_predict")
                assert early.status_code == (declared_early.status if declared_early else 503), early.text
            else:
                # The model finished loading between the two requests (or, with several
                # workers, another worker was already loaded): then readiness says so too.
                assert get(server, "ready").status_code == 200
            seen_not_ready = True
            time.sleep(0.1)
        if stack.deviation_for("ready_early") is None:
            assert seen_not_ready, "readiness never said not ready while the model was loading"
        # Declared ready early or not, a prediction is answered once readiness says so.
        assert predict(server, [SEED_EXAMPLE], batch=False)[0].status_code == 200
        processes = server.processes()
        assert processes
    finally:
        elapsed = server.stop()
    assert elapsed < stack.ready_timeout_s
    assert not any(p.is_running() and p.status() != "zombie" for p in processes)
    assert server.proc is not None and server.proc.returncode is not None


def test_a_tampered_artifact_is_refused_at_startup(tmp_path: Path) -> None:
    profile = PROFILES["default"]
    for source in (profile.artifact, profile.metadata_path):
        shutil.copy(source, tmp_path / source.name)
    blob = bytearray((tmp_path / profile.artifact.name).read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    (tmp_path / profile.artifact.name).write_bytes(bytes(blob))
    server = ServerProcess(STACKS["fastapi_inline"], env={"SERVEBENCH_ARTIFACTS": str(tmp_path)})
    server.start()
    try:
        assert server.proc is not None
        server.proc.wait(timeout=60)
        assert server.proc.returncode != 0
        assert "does not match its metadata" in server.log_path.read_text()
    finally:
        server.stop()
