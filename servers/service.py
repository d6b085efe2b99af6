"""The model host every stack wraps: background loading, readiness, /info, timed model calls."""

from __future__ import annotations

import gc
import json
import logging
import os
import pickle
import platform
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np

from servers import metrics
from servers.contract import not_ready
from servers.registry import get_stack
from shared_model.features import to_matrix
from shared_model.predictor import Predictions, Predictor
from shared_model.profiles import profile_from_env

log = logging.getLogger("servebench.service")

EXIT_MODEL_LOAD_FAILED = 3


@dataclass(frozen=True)
class ArtifactCopy:
    """A model profile whose artifact and metadata are copies a framework keeps with its model
    (an MLflow model's artifacts, a TorchServe archive); Predictor.load checks them the same way."""

    name: str
    artifact: Path
    metadata_path: Path


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
        self.packages = (*(stack.packages if stack else ()), "numpy", "scikit-learn")
        self.profile = profile_from_env()
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

    def load(self, copy: ArtifactCopy | None = None, loads: Callable[[bytes], Any] = pickle.loads) -> None:
        """Load now, in this thread; a failure raises.

        `copy`: the profile's artifact as a framework keeps it with its model (checked against
        its metadata's sha256 all the same); `loads`: the unpickler (see Predictor.load).
        """
        delay = float(os.environ.get("SERVEBENCH_LOAD_DELAY_S", "0") or 0)
        if delay:
            time.sleep(delay)  # test knob: makes the not-ready window observable
        if copy is None:
            self.predictor = Predictor.load(self.profile, loads=loads)
        else:
            self.predictor = Predictor.load(copy, build_if_missing=False, loads=loads)  # type: ignore[arg-type]
        log.info("model %s loaded (sha256 %s)", self.profile.name, self.predictor.fingerprint)
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
        """One model call for all rows, timed into the contract's histograms."""
        self.require()
        return self.infer_matrix(to_matrix(rows))

    def infer_matrix(self, X: np.ndarray) -> Predictions:
        """Same as `infer` for rows already converted by `to_matrix` (e.g. in another process)."""
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
                "profile": self.profile.name,
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
