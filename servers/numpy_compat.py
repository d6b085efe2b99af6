"""Unpickle the model artifacts (written by numpy 2) in an environment pinned to numpy 1.x.

PyTriton 0.7 pins numpy<2, while the artifacts are pickled in the main environment with numpy
2.4 and scikit-learn 1.9. scikit-learn 1.9 itself runs on numpy 1.26, so only the pickle's
references differ: numpy 2 names its core modules `numpy._core.*` (numpy 1.26: `numpy.core.*`)
and pickles random bit generators by class with a (state, seed sequence) pair (numpy 1.26: by
name, with the state alone). `loads` resolves those references to their numpy 1.26
equivalents while unpickling the very bytes whose sha256 Predictor.load checked; nothing is
re-serialised. tests/integration/test_peer_stacks.py checks that the answers equal the main
environment's.
"""

from __future__ import annotations

import io
import pickle
from typing import Any

import numpy as np


def _bit_generator_ctor(bit_generator: Any = "MT19937") -> Any:
    """numpy 2 passes the BitGenerator class and sets a (state, seed_seq) tuple as its state."""
    from numpy.random import _pickle

    if not isinstance(bit_generator, type):
        return getattr(_pickle, "__bit_generator_ctor")(bit_generator)

    def setstate(self: Any, state: Any) -> None:
        bit_generator.__setstate__(self, state[0] if isinstance(state, tuple) else state)  # type: ignore[attr-defined]

    # Same class name: numpy checks that a state belongs to a generator of that name.
    compatible = type(bit_generator.__name__, (bit_generator,), {"__setstate__": setstate})
    return compatible()


def _generator_ctor(bit_generator: Any = "MT19937", bit_generator_ctor: Any = _bit_generator_ctor) -> Any:
    """numpy 2 passes the bit generator itself, numpy 1.26 expects its name."""
    if isinstance(bit_generator, str):
        bit_generator = bit_generator_ctor(bit_generator)
    return np.random.Generator(bit_generator)


_RENAMED = {
    ("numpy.random._pickle", "__bit_generator_ctor"): _bit_generator_ctor,
    ("numpy.random._pickle", "__generator_ctor"): _generator_ctor,
}


class _Numpy2Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if module == "numpy._core" or module.startswith("numpy._core."):
            module = "numpy.core" + module[len("numpy._core"):]
        if (module, name) in _RENAMED:
            return _RENAMED[(module, name)]
        return super().find_class(module, name)


def loads(blob: bytes) -> Any:
    """pickle.loads on numpy 2; on numpy 1.x, the numpy-2 references resolved as above."""
    if int(np.__version__.split(".", 1)[0]) >= 2:
        return pickle.loads(blob)
    return _Numpy2Unpickler(io.BytesIO(blob)).load()
