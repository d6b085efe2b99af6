"""The model host every stack wraps: background loading, readiness, /info, timed model calls."""

from __future__ import annotations

import gc
import json
import logging
import os
import platform
import threading
import time
from collections.abc import Callable, Sequence
from importlib.metadata import version
from pathlib import Path
from typing import Any

from servers import metrics
from servers.contract import not_ready
from servers.registry import get_stack
from shared_model.models import model_from_env
from shared_model.predictor import Predictions, Predictor

log = logging.getLogger("servebench.service")

EXIT_MODEL_LOAD_FAILED = 3


class ModelService:
    """Holds the predictor of one server process.

    The model loads in a background thread so that liveness answers at once while
    readiness (and predictions) answer 503 until the model is there.
    """

    def __init__(self) -> None:
        self.stack_name = os.environ.get("SERVEBENCH_STACK", "unregistered")
        stack = get_stack(self.stack_name) if self.stack_name != "unregistered" else None
        declared = dict(stack.knobs) if stack else {}
        self.knobs: dict[str, Any] = json.loads(os.environ.get("SERVEBENCH_KNOBS", "null")) or declared
        self.title = stack.title if stack else self.stack_name
        # The stack's own packages and what every model needs: what /info reports versions of.
        self.packages = (*(stack.packages if stack else ()), "numpy", "scikit-learn", "pandas", "skops")
        self.model = model_from_env()  # the registered model SERVEBENCH_MODEL names
        self.started = time.time()
        self.predictor: Predictor | None = None
        self._loader: threading.Thread | None = None

    def start_loading(self, on_loaded: Callable[[], None] | None = None) -> None:
        """Load in the background; a failure ends the process, with the reason in its log.

        `on_loaded` runs in the loader thread once the model is there.
        """
        if self._loader is None:
            self._loader = threading.Thread(
                target=self._load_or_exit, args=(on_loaded,), name="model-loader", daemon=True
            )
            self._loader.start()

    def load(self, artifact: Path | None = None) -> None:
        """Load now, in this thread; a failure raises.

        `artifact`: the model's artifact as a framework keeps it with its model (an MLflow
        model's artifacts, a TorchServe archive), checked against the registered sha256 all the
        same.
        """
        delay = float(os.environ.get("SERVEBENCH_LOAD_DELAY_S", "0") or 0)
        if delay:
            time.sleep(delay)  # test knob: makes the not-ready window observable
        self.predictor = Predictor.load(self.model, build_if_missing=artifact is None, artifact=artifact)
        log.info("model %s loaded (sha256 %s)", self.model.name, self.predictor.fingerprint)
        self.freeze_startup_heap()

    def freeze_startup_heap(self) -> None:
        """Exempt everything alive now from garbage collection (`gc.freeze`), if the knob says so.

        A full collection walks every tracked object: with the frameworks, scikit-learn and the
        model loaded, one took 80-110 ms on a 2-core machine and, under load, came every few
        hundred milliseconds (allocations by in-flight requests trigger them); those pauses were
        the p99. Frozen objects are never walked again; what requests allocate is still
        collected. Also keeps pages shared copy-on-write across forked workers.
        """
        if self.knobs.get("gc_freeze", False):
            gc.collect()
            gc.freeze()

    def _load_or_exit(self, on_loaded: Callable[[], None] | None = None) -> None:
        try:
            self.load()
        except Exception:
            log.critical("model load failed; exiting", exc_info=True)
            logging.shutdown()
            os._exit(EXIT_MODEL_LOAD_FAILED)
        if on_loaded is not None:
            on_loaded()

    @property
    def ready(self) -> bool:
        return self.predictor is not None

    def require(self) -> Predictor:
        if self.predictor is None:
            raise not_ready()
        return self.predictor

    def infer(self, rows: Sequence[Any]) -> Predictions:
        """One conversion and one model call for all rows, the call timed into the histograms."""
        return self.infer_input(self.require().to_input(rows))

    def infer_input(self, X: Any) -> Predictions:
        """Same as `infer` for rows already converted to the estimator's input (a matrix or a
        frame, built from rows or from columns, possibly in another process)."""
        predictor = self.require()
        started = time.perf_counter()
        result = predictor.predict_batch(X)
        metrics.observe_model_call(len(X), time.perf_counter() - started)
        return result

    def health(self) -> dict[str, Any]:
        return {"status": "alive", "uptime_s": round(time.time() - self.started, 3)}

    def readiness(self) -> dict[str, Any]:
        predictor = self.require()
        return {"status": "ready", "model_version": predictor.version}

    def model_metadata(self) -> dict[str, Any]:
        return self.require().metadata

    def info(self) -> dict[str, Any]:
        predictor = self.predictor
        info: dict[str, Any] = {
            "stack": self.stack_name,
            "title": self.title,
            "knobs": self.knobs,
            "model": {
                "profile": self.model.name,
                "name": self.model.name,
                "kind": self.model.schema.kind,
                "sha256": predictor.fingerprint if predictor else None,
                "version": predictor.version if predictor else None,
                "loaded": predictor is not None,
            },
            "pid": os.getpid(),
            "python": platform.python_version(),
            "blas_threads": {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")},
            "gc_frozen_objects": gc.get_freeze_count(),  # in the process that answered
            "versions": _versions(self.packages),
        }
        if predictor and predictor.slowdown_us:
            info["injected_slowdown_us_per_row"] = predictor.slowdown_us
        return info


def _versions(names: tuple[str, ...]) -> dict[str, str]:
    found = {}
    for name in names:
        try:
            found[name] = version(name)
        except Exception:
            continue
    return found
