"""Models nobody wrote a declaration for, served by every stack.

Three models are trained here (tests/user_models.py: a multiclass classifier on a bare matrix, a
regressor on a frame, a Pipeline whose inputs hold text categories and missing values) and
registered with `servebench model add` as a user runs it. Then `servebench run --model NAME`
starts every registered stack on each: golden answers through the stack's own protocol (class
exact, probabilities and values within 1e-6, single and batch), every bad case generated from
the declaration answered with the stack's declared status, /info naming the model, and a short
measurement whose every answer is checked. The request schema, /docs and a tampered artifact are
asked of one stack.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from servebench.cli import main
from servebench.report.render import write_report
from servebench.results.store import load_run, result_dirs
from servers.process import ServerProcess, StackFailed
from servers.registry import STACKS
from shared_model.models import get_model
from tests.user_models import NAMES, add, train

# Three tests of minutes each (every stack on each model): started first (tests/conftest.py).
pytestmark = pytest.mark.long


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("models")
    work = tmp_path_factory.mktemp("trained")
    for name in NAMES:
        done = add(train(name, work), root)
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith(f"registered {name}:"), done.stdout
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SERVEBENCH_MODELS_DIR", str(root))
        yield root


def _serve(name: str, models_dir: Path, log: Path | None = None) -> ServerProcess:
    return ServerProcess(STACKS["fastapi_inline"], log_path=log,
                         env={"SERVEBENCH_MODEL": name, "SERVEBENCH_MODELS_DIR": str(models_dir)})


@pytest.mark.timeout(1200)  # every stack started in turn, about 5 minutes on 2 cores
@pytest.mark.parametrize("name", NAMES)
def test_every_stack_serves_the_model_verified_and_measured(name: str, models_dir: Path,
                                                            tmp_path: Path) -> None:
    code = main(["run", "--model", name, "--profile", "quick", "--workloads", "seed_mix", "--users", "4",
                 "--warmup-s", "0.5", "--measure-s", "1.0", "--results-dir", str(tmp_path / "results")])
    (root,) = result_dirs(tmp_path / "results")
    loaded = load_run(root)
    run = loaded.run
    failed = {o.stack: (o.reason, [c.name for c in o.checks if not c.ok][:5]) for o in run.stacks
              if o.status != "ok"}
    assert not failed, failed
    assert code == 0 and run.status == "complete"
    assert [o.stack for o in run.stacks] == list(STACKS)
    schema = get_model(name).schema
    generated = {f"bad_{spec.name}.missing_field" for spec in schema.fields}
    for outcome in run.stacks:
        checks = {c.name for c in outcome.checks}
        assert {"golden_single_0", "golden_batch"} <= checks, outcome.stack
        # Every field's generated cases the stack's protocol can carry were asked.
        assert generated & checks, outcome.stack
    measured = [r for r in loaded.records if r.stack != "floor"]
    assert {r.stack for r in measured} == set(STACKS)
    for record in measured:
        assert record.measured.requests > 0 and record.measured.failures == {}, record.record_id
    card = run.model_cards[name]
    assert (card.name, card.kind, card.builtin) == (name, schema.kind, False)
    assert [f.name for f in card.fields] == schema.field_names
    assert set(card.predict_batch) == {"1", "8", "64"} and card.json_to_input_us > 0
    assert run.model["profile"] == name and run.model["kind"] == schema.kind
    page = write_report(root, tmp_path / "reports").read_text()
    assert f"The model: {name}" in page and "JSON → model input" in page


def test_the_request_schema_and_docs_are_the_models_own(models_dir: Path) -> None:
    model = get_model("loans")
    with _serve("loans", models_dir) as server, httpx.Client(base_url=server.url, timeout=10.0) as client:
        document = client.get("/openapi.json").json()
        request = document["components"]["schemas"]["PredictRequest"]
        assert list(request["properties"]) == model.schema.field_names
        assert request["additionalProperties"] is False
        assert client.get("/docs").status_code == 200
        described = client.get("/api/v1/model").json()
        assert (described["name"], described["kind"]) == ("loans", "classifier")
        assert described["sha256"] == model.expected_sha256()
        assert [f["name"] for f in described["schema"]] == model.schema.field_names
        assert {"scikit-learn", "skops"} <= set(described["versions"])
        info = client.get("/info").json()["model"]
        assert (info["name"], info["kind"]) == ("loans", "classifier")
        assert info["sha256"] == model.expected_sha256()
        row = {**model.schema.example, "income": None, "region": None}
        answer = client.post("/api/v1/predict", content=json.dumps(row),
                             headers={"Content-Type": "application/json"})
        assert answer.status_code == 200, answer.text
        assert set(answer.json()["probability"]) == {"0", "1"}
        wrong = client.post("/api/v1/predict", content=json.dumps({**row, "plan": "platinum"}),
                            headers={"Content-Type": "application/json"})
        assert wrong.status_code == 422 and wrong.json()["error"] == "validation_error"


def test_a_tampered_user_artifact_is_refused_at_startup(models_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "models"
    shutil.copytree(models_dir / "iris", copy / "iris")
    artifact = copy / "iris" / get_model("iris").artifact.name
    blob = bytearray(artifact.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    artifact.write_bytes(bytes(blob))
    server = _serve("iris", copy, tmp_path / "iris.log")
    try:
        with pytest.raises(StackFailed, match="exited with code"):
            server.start()
            server.wait_ready(timeout_s=60)
    finally:
        server.stop()
    assert "does not match its metadata" in (tmp_path / "iris.log").read_text()
