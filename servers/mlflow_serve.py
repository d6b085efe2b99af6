"""MLflow stack: `python -m servers.mlflow_serve --host H --port P --workers N --timeout-s T`.

Saves the served model as an MLflow pyfunc model (servers/mlflow_model.py, with its artifact
and metadata as the model's artifacts and an explicit column signature from its declaration), then runs
`mlflow models serve --env-manager local` on it: MLflow's scoring server, a FastAPI app under
uvicorn, started by the CLI as `bash -c "exec uvicorn ..."`. Nothing is fetched at run time.

Settings the scoring server needs on a shared machine:
- PATH starts with this environment's bin directory: the CLI runs `uvicorn` by name.
- PYTHONPATH holds the repository: the model's code imports servers/ and shared_model/.
- No usage telemetry (MLFLOW_DISABLE_TELEMETRY): the benchmark measures serving only.
- No uvicorn access log (UVICORN_ACCESS_LOG=false), as on every other stack.
- The saved model lives in a temporary directory (under SERVEBENCH_RUN_DIR when set), removed
  when the server stops.
"""

from __future__ import annotations

import argparse
import atexit
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from importlib.metadata import version
from pathlib import Path
from types import FrameType

REPO_ROOT = Path(__file__).resolve().parent.parent


def column_type(field_type: str, nullable: bool) -> str:
    """A declared field's MLflow column type. A nullable integer or boolean column is read as a
    float column with NaN for the missing values: `long` and `boolean` columns refuse them."""
    if nullable and field_type in ("integer", "boolean"):
        return "double"
    return {"integer": "long", "number": "double", "boolean": "boolean", "categorical": "string"}[field_type]


def _prediction_type(classes: Sequence[object] | None) -> str:
    if classes is None:
        return "double"
    if all(isinstance(c, bool) for c in classes):
        return "boolean"
    return "long" if all(isinstance(c, int) for c in classes) else "string"


def save(directory: Path) -> Path:
    """The served model as an MLflow model directory (mlflow.pyfunc.save_model, models from code)."""
    import mlflow
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    from shared_model.models import model_from_env

    model = model_from_env()
    schema = model.schema
    path = directory / f"model-{model.name}"
    signature = ModelSignature(
        inputs=Schema([ColSpec(column_type(f.type, f.nullable), f.name, required=True)
                       for f in schema.fields]),
        outputs=Schema([ColSpec(_prediction_type(schema.classes), "prediction"),
                        *(ColSpec("double", label) for label in schema.labels)]),
    )
    mlflow.pyfunc.save_model(
        path,
        python_model=str(REPO_ROOT / "servers" / "mlflow_model.py"),
        artifacts={"model": str(model.artifact), "metadata": str(model.metadata_path)},
        signature=signature,
        # Stated, not inferred: inferring them loads the model once more in a subprocess.
        pip_requirements=[f"{name}=={version(name)}"
                          for name in ("mlflow", "scikit-learn", "numpy", "pandas", "skops")],
    )
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--timeout-s", type=int, default=60)
    parser.add_argument("--save-to", type=Path, help="only save the model into this directory")
    args = parser.parse_args()
    if args.save_to is not None:
        print(save(args.save_to))
        return
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    # uvicorn reads its options from UVICORN_* variables too: no per-request access log line, as
    # on every other stack (the CLI passes only host, port and workers).
    os.environ.setdefault("UVICORN_ACCESS_LOG", "false")
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, (str(REPO_ROOT), os.environ.get("PYTHONPATH"))))
    run_dir = os.environ.get("SERVEBENCH_RUN_DIR")
    if run_dir:
        Path(run_dir).mkdir(parents=True, exist_ok=True)
    directory = Path(tempfile.mkdtemp(prefix="mlflow-churn-", dir=run_dir))
    atexit.register(shutil.rmtree, directory, ignore_errors=True)

    def stop(signum: int, frame: FrameType | None) -> None:
        # uvicorn, in the same process group, gets the SIGTERM too and drains; this process
        # only cleans up (atexit) once it is gone.
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    # Saved by a child process, so that this one holds no more than `mlflow models serve` does.
    saved = subprocess.run([sys.executable, "-m", "servers.mlflow_serve", "--port", str(args.port),
                            "--save-to", str(directory)], check=True, capture_output=True, text=True)
    model = saved.stdout.strip().splitlines()[-1]

    from mlflow.cli import cli

    cli(args=["models", "serve", "--model-uri", model, "--env-manager", "local",
              "--host", args.host, "--port", str(args.port), "--workers", str(args.workers),
              "--timeout", str(args.timeout_s)], prog_name="mlflow")


if __name__ == "__main__":
    main()
