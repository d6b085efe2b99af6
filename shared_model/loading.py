"""Turn an artifact's bytes (already sha256-checked) into the estimator: joblib, pickle or skops.

A pickle or a joblib file is code: unpickling it runs whatever it names. skops' format names
the types it holds and loads only those it trusts (scikit-learn's, numpy's, and those the user
accepted when registering the model), so a tampered file cannot run arbitrary code.

Environments pinned to numpy 1.x (PyTriton's) load artifacts written with numpy 2: numpy 2 names
its core modules `numpy._core.*` (numpy 1.26: `numpy.core.*`) and pickles random bit generators
by class with a (state, seed sequence) pair (numpy 1.26: by name, with the state alone). On
numpy 1.x the unpicklers here resolve those references to their numpy 1.26 equivalents while
reading the very bytes that were hashed; nothing is re-serialised.
"""

from __future__ import annotations

import io
import pickle
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

NUMPY_1 = int(np.__version__.split(".", 1)[0]) < 2


def _bit_generator_ctor(bit_generator: Any = "MT19937") -> Any:
    """numpy 2 passes the BitGenerator class and sets a (state, seed_seq) tuple as its state."""
    from numpy.random import _pickle

    if not isinstance(bit_generator, type):
        return getattr(_pickle, "__bit_generator_ctor")(bit_generator)

    def setstate(self: Any, state: Any) -> None:
        inner = state[0] if isinstance(state, tuple) else state
        bit_generator.__setstate__(self, inner)  # type: ignore[attr-defined]

    # Same class name: numpy checks that a state belongs to a generator of that name.
    compatible = type(bit_generator.__name__, (bit_generator,), {"__setstate__": setstate})
    return compatible()


def _generator_ctor(bit_generator: Any = "MT19937", bit_generator_ctor: Any = _bit_generator_ctor) -> Any:
    """numpy 2 passes the bit generator itself, numpy 1.26 expects its name."""
    if isinstance(bit_generator, str):
        bit_generator = bit_generator_ctor(bit_generator)
    return np.random.Generator(bit_generator)


def _randomstate_ctor(bit_generator: Any = "MT19937", bit_generator_ctor: Any = _bit_generator_ctor) -> Any:
    """numpy 2 passes the bit generator itself (a RandomState, e.g. in gradient boosting)."""
    if isinstance(bit_generator, str):
        bit_generator = bit_generator_ctor(bit_generator)
    return np.random.RandomState(bit_generator)


_RENAMED = {
    ("numpy.random._pickle", "__bit_generator_ctor"): _bit_generator_ctor,
    ("numpy.random._pickle", "__generator_ctor"): _generator_ctor,
    ("numpy.random._pickle", "__randomstate_ctor"): _randomstate_ctor,
}


def numpy2_reference(module: str, name: str) -> tuple[str, str, Any]:
    """(module, name, replacement or None) of a numpy-2 reference, as numpy 1.x knows it."""
    if module == "numpy._core" or module.startswith("numpy._core."):
        module = "numpy.core" + module[len("numpy._core"):]
    return module, name, _RENAMED.get((module, name))


class _Numpy2Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        module, name, replacement = numpy2_reference(module, name)
        return replacement if replacement is not None else super().find_class(module, name)


def pickle_loads(blob: bytes) -> Any:
    """pickle.loads on numpy 2; on numpy 1.x, the numpy-2 references resolved as above."""
    if not NUMPY_1:
        return pickle.loads(blob)
    return _Numpy2Unpickler(io.BytesIO(blob)).load()


_JOBLIB_PATCH = threading.Lock()


def joblib_loads(blob: bytes) -> Any:
    import joblib

    if not NUMPY_1:
        return joblib.load(io.BytesIO(blob))
    from joblib import numpy_pickle

    base = numpy_pickle.NumpyUnpickler

    class Numpy2Unpickler(base):  # type: ignore[misc, valid-type]
        def find_class(self, module: str, name: str) -> Any:
            module, name, replacement = numpy2_reference(module, name)
            return replacement if replacement is not None else super().find_class(module, name)

    # joblib builds its unpickler by module-level name; the loader thread is the only reader.
    with _JOBLIB_PATCH:
        numpy_pickle.NumpyUnpickler = Numpy2Unpickler
        try:
            return joblib.load(io.BytesIO(blob))
        finally:
            numpy_pickle.NumpyUnpickler = base


def skops_untrusted(blob: bytes) -> list[str]:
    """The types in a skops file that skops does not trust by default."""
    import skops.io

    return list(skops.io.get_untrusted_types(data=blob))


def skops_loads(blob: bytes, trusted: Sequence[str]) -> Any:
    import skops.io

    untrusted = [name for name in skops_untrusted(blob) if name not in trusted]
    if untrusted:
        raise ValueError(f"the skops file holds types nobody trusted: {', '.join(untrusted)}")
    return skops.io.loads(blob, trusted=list(trusted))


def load_bytes(blob: bytes, fmt: str, trusted: Sequence[str] = ()) -> Any:
    """The estimator in `blob`, written in `fmt` (joblib, pickle or skops)."""
    if fmt == "skops":
        return skops_loads(blob, trusted)
    if fmt == "joblib":
        return joblib_loads(blob)
    if fmt == "pickle":
        return pickle_loads(blob)
    raise ValueError(f"unknown artifact format {fmt!r}: joblib, pickle or skops")
