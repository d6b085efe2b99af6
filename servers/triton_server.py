"""Triton stacks: NVIDIA Triton Inference Server on the CPU, through PyTriton.

    python -m servers.triton_server --host H --port P --metrics-port M
        --max-batch-size N --max-queue-delay-us D [--no-batching] ...

PyTriton's wheel carries the `tritonserver` binary. This process loads the model (the same
sha256-checked artifact as every stack, see shared_model/loading.py for the numpy 1.x
environment), binds an inference callable to Triton as the model `churn` and serves: Triton
parses HTTP (Open Inference / KServe v2 protocol), queues and batches requests (its dynamic
batcher, when batching is on), and its Python backend stub hands each batch to this process,
where the callable validates the tensors and makes one model call for the whole batch.

Processes: this one, `tritonserver` (its child) and the Python backend stub (the server's
child), all in the server's process group. SIGTERM stops PyTriton the way its docs stop it
(SIGINT), so that it stops Triton and removes its workspace and shared memory.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sysconfig
from types import FrameType
from typing import Any

import numpy as np

from servers.columns import InvalidColumns, input_from_columns
from servers.protocols import prediction_datatype, v2_datatypes
from servers.service import ModelService
from shared_model.schemas import MAX_BATCH_ITEMS

log = logging.getLogger("servebench.triton")

MODEL_NAME = "churn"
_DTYPES: dict[str, Any] = {"INT64": np.int64, "FP64": np.float64, "BOOL": np.bool_, "BYTES": bytes}


def _python_backend_env() -> None:
    """The Python backend stub links libpython3.x.so; the loader would take the system's copy
    (/lib/x86_64-linux-gnu) rather than that of the interpreter running this environment, and the
    model then fails to load (an RLock error in the stub). Point the loader at the running
    interpreter's own library directory first."""
    libdir = sysconfig.get_config_var("LIBDIR")
    if libdir:
        current = os.environ.get("LD_LIBRARY_PATH")
        os.environ["LD_LIBRARY_PATH"] = f"{libdir}:{current}" if current else libdir


def _stop_on_sigterm() -> None:
    # PyTriton's serve() stops Triton and cleans its workspace on KeyboardInterrupt (SIGINT).
    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--metrics-port", type=int, required=True)
    parser.add_argument("--no-batching", action="store_true")
    parser.add_argument("--instances", type=int, default=1, help="model instances (one callable each)")
    parser.add_argument("--max-batch-size", type=int, default=128)
    parser.add_argument("--max-queue-delay-us", type=int, default=0)
    parser.add_argument("--http-threads", type=int, default=8)
    parser.add_argument("--exit-timeout-s", type=int, default=30)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    _python_backend_env()

    from pytriton.decorators import batch
    from pytriton.model_config import DynamicBatcher, ModelConfig, Tensor
    from pytriton.triton import Triton, TritonConfig

    service = ModelService()
    # numpy 1.26 here (PyTriton pins numpy<2): shared_model/loading.py reads numpy-2 artifacts.
    service.load()
    predictor = service.require()
    schema = predictor.schema
    datatypes = v2_datatypes(schema)
    answer_type = prediction_datatype(schema.classes)
    classes_out = len(schema.labels)

    # With the dynamic batcher, the callable sees requests already joined: Triton's max_batch_size
    # bounds them. Without it, one call is one request: the contract's limit applies.
    max_rows = None if not args.no_batching else MAX_BATCH_ITEMS

    @batch
    def infer(**columns: np.ndarray) -> dict[str, np.ndarray]:
        # One call for every request Triton batched together: columns are [rows, 1] tensors.
        try:
            X = input_from_columns(schema, columns, max_rows=max_rows, converter=predictor.converter)
        except InvalidColumns as error:
            raise ValueError(str(error)) from None
        result = service.infer_input(X)
        values = result.classes.reshape(-1, 1)
        if answer_type == "BYTES":
            values = np.char.encode(values.astype(np.str_), "utf-8")
        outputs = {"prediction": values.astype(_DTYPES[answer_type])}
        if result.proba is not None:
            outputs["probability"] = result.proba
        return outputs

    if args.no_batching:
        # No batch dimension: a request's [n, 1] tensors are one model call of n rows.
        inputs = [Tensor(name=name, dtype=_DTYPES[dt], shape=(-1, 1)) for name, dt in datatypes.items()]
        outputs = [Tensor(name="prediction", dtype=_DTYPES[answer_type], shape=(-1, 1))]
        if classes_out:
            outputs.append(Tensor(name="probability", dtype=np.float64, shape=(-1, classes_out)))
        config = ModelConfig(batching=False)
    else:
        # Batch dimension first (Triton adds it): requests of [n, 1] join into one batch.
        inputs = [Tensor(name=name, dtype=_DTYPES[dt], shape=(1,)) for name, dt in datatypes.items()]
        outputs = [Tensor(name="prediction", dtype=_DTYPES[answer_type], shape=(1,))]
        if classes_out:
            outputs.append(Tensor(name="probability", dtype=np.float64, shape=(classes_out,)))
        config = ModelConfig(
            batching=True,
            max_batch_size=args.max_batch_size,
            batcher=DynamicBatcher(max_queue_delay_microseconds=args.max_queue_delay_us),
        )
    triton_config = TritonConfig(
        http_address=args.host,
        http_port=args.port,
        http_thread_count=args.http_threads,
        allow_grpc=False,
        allow_metrics=True,
        allow_gpu_metrics=False,
        metrics_address=args.host,
        metrics_port=args.metrics_port,
        exit_timeout_secs=args.exit_timeout_s,
        strict_readiness=True,
    )
    _stop_on_sigterm()
    with Triton(config=triton_config) as triton:
        # One callable per model instance: PyTriton's way to ask Triton for several instances.
        callables = infer if args.instances == 1 else [infer] * args.instances
        triton.bind(model_name=MODEL_NAME, infer_func=callables, inputs=inputs, outputs=outputs,
                    config=config, strict=True)
        service.freeze_startup_heap()  # after PyTriton's own startup allocations
        triton.serve()


if __name__ == "__main__":
    main()
