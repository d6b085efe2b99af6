"""TorchServe stack: archive the model with torch-model-archiver, then run `torchserve --foreground`.

    python -m servers.torchserve_serve --host H --port P --management-port M --metrics-port X
        --grpc-inference-port G --grpc-management-port G2 --workers N --batch-size B ...

At start, in a fresh run directory (under SERVEBENCH_RUN_DIR when set, removed when the server
stops): `torch-model-archiver` packs the profile's artifact (--serialized-file), its metadata
(--extra-files), the handler (servers/torchserve_handler.py) and the model's frontend settings
(--config-file: workers, batch_size, max_batch_delay, response timeout) into churn.mar; a
config.properties names the addresses (loopback), the model store, Prometheus metrics mode and
the metrics configuration (TorchServe's default one plus the contract's ml_* metrics). Then
TorchServe's own launcher starts the Java frontend, which starts the Python worker(s).

Settings a shared machine needs: TorchServe's launcher keeps a pid file in the temp directory
and refuses to start while the pid it names runs, and the frontend puts its worker sockets
there too, so each server gets its own TMPDIR/TEMP; logs (LOG_LOCATION, METRICS_LOCATION) go
to the run directory, not the working directory; TorchServe's log4j2 configuration without
its per-request access log, as on every other stack. gRPC cannot be switched off in TorchServe:
its two gRPC servers get free loopback ports too.

Processes: this launcher, TorchServe's Python launcher, the Java frontend and one Python
worker per `workers`, all in the server's process group.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from types import FrameType

import psutil
import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
MODEL_NAME = "churn"

# The contract's metrics, declared for TorchServe's metrics configuration. TorchServe adds
# ModelName and Level to every custom model metric (they must come last).
_CONTRACT_MODEL_METRICS = {
    "counter": [
        {"name": "ml_predictions_total", "unit": "count",
         "dimensions": ["endpoint", "outcome", "ModelName", "Level"]},
        {"name": "ml_errors_total", "unit": "count",
         "dimensions": ["endpoint", "error", "ModelName", "Level"]},
    ],
    "histogram": [
        {"name": "ml_inference_duration_seconds", "unit": "s", "dimensions": ["ModelName", "Level"]},
        {"name": "ml_batch_size", "unit": "count", "dimensions": ["ModelName", "Level"]},
    ],
}


def _bin(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def metrics_config(path: Path) -> Path:
    import ts

    config = yaml.safe_load((Path(ts.__file__).parent / "configs" / "metrics.yaml").read_text())
    for kind, metrics in _CONTRACT_MODEL_METRICS.items():
        config["model_metrics"].setdefault(kind, []).extend(metrics)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def log_config(path: Path) -> Path:
    """TorchServe's own log4j2 configuration without its access log (a line per request, to the
    console and a file), as on every other stack; passed with --log-config."""
    import ts

    with zipfile.ZipFile(Path(ts.__file__).parent / "frontend" / "model-server.jar") as jar:
        config = jar.read("log4j2.xml").decode()
    access = '<Logger name="ACCESS_LOG" level="{}">'
    quiet = config.replace(access.format("info"), access.format("warn"))
    if quiet == config:
        raise RuntimeError("TorchServe's log4j2.xml has no ACCESS_LOG logger at level info")
    path.write_text(quiet)
    return path


def archive(store: Path, work: Path, args: argparse.Namespace) -> Path:
    """churn.mar in the model store, built by torch-model-archiver."""
    # The served model's files, named by a child process: this one stays small (no scikit-learn).
    named = subprocess.run(
        [sys.executable, "-c", "from shared_model.models import model_from_env as m; "
         "print(m().artifact); print(m().metadata_path)"],
        check=True, capture_output=True, text=True, cwd=REPO_ROOT,
    )
    artifact, metadata = named.stdout.split()[-2:]
    model_config = work / "model-config.yaml"
    model_config.write_text(yaml.safe_dump({
        "minWorkers": args.workers,
        "maxWorkers": args.workers,
        "batchSize": args.batch_size,
        "maxBatchDelay": args.max_batch_delay_ms,
        "responseTimeout": args.response_timeout_s,
    }))
    subprocess.run(
        [_bin("torch-model-archiver"), "--model-name", MODEL_NAME, "--version", "1.0",
         "--serialized-file", artifact, "--extra-files", metadata,
         "--handler", str(REPO_ROOT / "servers" / "torchserve_handler.py"),
         "--config-file", str(model_config), "--export-path", str(store), "--force"],
        check=True,
    )
    return store / f"{MODEL_NAME}.mar"


def properties(path: Path, store: Path, work: Path, args: argparse.Namespace) -> Path:
    host = args.host
    settings = {
        "inference_address": f"http://{host}:{args.port}",
        "management_address": f"http://{host}:{args.management_port}",
        "metrics_address": f"http://{host}:{args.metrics_port}",
        "grpc_inference_address": host,
        "grpc_inference_port": args.grpc_inference_port,
        "grpc_management_address": host,
        "grpc_management_port": args.grpc_management_port,
        "model_store": store,
        "load_models": f"{MODEL_NAME}={MODEL_NAME}.mar",
        "metrics_mode": "prometheus",
        "metrics_config": metrics_config(work / "metrics.yaml"),
        "disable_system_metrics": "false" if args.system_metrics else "true",
        # The handler validates the raw body with the contract's parsers.
        "decode_input_request": "false",
        "job_queue_size": args.job_queue_size,
        "max_request_size": args.max_request_bytes,
        "install_py_dep_per_model": "false",
    }
    path.write_text("".join(f"{key}={value}\n" for key, value in settings.items()))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    for name in ("management", "metrics", "grpc-inference", "grpc-management"):
        parser.add_argument(f"--{name}-port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--max-batch-delay-ms", type=int, default=100)
    parser.add_argument("--response-timeout-s", type=int, default=120)
    parser.add_argument("--job-queue-size", type=int, default=100)
    parser.add_argument("--max-request-bytes", type=int, default=6553500)
    parser.add_argument("--system-metrics", type=int, default=1)
    args = parser.parse_args()

    run_dir = os.environ.get("SERVEBENCH_RUN_DIR")
    if run_dir:
        Path(run_dir).mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="torchserve-", dir=run_dir))
    store, logs = work / "model-store", work / "logs"
    for directory in (store, logs):
        directory.mkdir()
    # TorchServe puts its workers' Unix sockets in TEMP, and a socket's path is limited to 107
    # bytes: a short directory of the system's, not one under a run directory of any depth.
    tmp = Path(tempfile.mkdtemp(prefix="ts-"))
    env = {
        **os.environ,
        "TMPDIR": str(tmp), "TEMP": str(tmp),
        "LOG_LOCATION": str(logs), "METRICS_LOCATION": str(logs),
        "PYTHONPATH": os.pathsep.join(filter(None, (str(REPO_ROOT), os.environ.get("PYTHONPATH")))),
    }
    launcher: subprocess.Popen[bytes] | None = None
    tree: list[psutil.Process] = []

    def stop(signum: int, frame: FrameType | None) -> None:
        # The whole process group got the signal: the frontend and its workers stop on their
        # own. Remember them, so that the run directory goes only when they are gone.
        if launcher is not None:
            with contextlib.suppress(psutil.Error):
                tree.extend(psutil.Process(launcher.pid).children(recursive=True))
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    try:
        mar = archive(store, work, args)
        config = properties(work / "config.properties", store, work, args)
        launcher = subprocess.Popen(
            [_bin("torchserve"), "--foreground", "--ts-config", str(config), "--model-store", str(store),
             "--models", f"{MODEL_NAME}={mar.name}", "--log-config", str(log_config(work / "log4j2.xml")),
             "--disable-token-auth", "--ncs"],
            env=env, cwd=work,
        )
        launcher.wait()
    finally:
        if launcher is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                launcher.wait(timeout=30)
        psutil.wait_procs(tree, timeout=30)
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
