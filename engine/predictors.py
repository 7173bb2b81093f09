"""What scores one customer's row, and how many threads a prediction uses.

``one_row_predictor`` gives the model's trees compiled flat (``engine.forest``) when they
agree with LightGBM on probe rows, else LightGBM's cheapest one-row call
(``SingleRowPredictor``); ``LinearRow`` puts a linear model behind the same
``predict(row)``. ``engine.model.TierModel`` builds them on first use.
"""

from __future__ import annotations

import ctypes
import logging
import os
import threading

import lightgbm as lgb
import numpy as np
from lightgbm.basic import _LIB, _safe_call

from tierline.engine.forest import Forest
from tierline.engine.forest_probe import checked_forest
from tierline.engine.linear import LinearModel

__all__ = ["LinearRow", "SingleRowPredictor", "one_row_predictor", "threads_for"]

# LightGBM C API constants (c_api.h).
_PREDICT_NORMAL = 0
_DTYPE_FLOAT64 = 1

# The model's logger, which operators filter on, whichever module builds the predictor.
log = logging.getLogger("tierline.model")


class SingleRowPredictor:
    """LightGBM's ``PredictForMatSingleRowFast``: the C API's cheapest one-row prediction.

    ``Booster.predict`` re-validates its input and parameters on every call, which costs
    more than the trees themselves for one row; the fast path prepares that once.
    The output buffer is per thread because the API writes into caller memory.
    """

    def __init__(self, booster: lgb.Booster, n_features: int, n_outputs: int) -> None:
        self._booster = booster  # keeps the handle alive as long as the fast config
        self._n_outputs = n_outputs
        self._handle = ctypes.c_void_p()
        _safe_call(
            _LIB.LGBM_BoosterPredictForMatSingleRowFastInit(
                booster._handle,
                ctypes.c_int(_PREDICT_NORMAL),
                ctypes.c_int(0),
                ctypes.c_int(-1),
                ctypes.c_int(_DTYPE_FLOAT64),
                ctypes.c_int32(n_features),
                ctypes.c_char_p(b"num_threads=1"),
                ctypes.byref(self._handle),
            )
        )
        self._local = threading.local()
        self._call = _LIB.LGBM_BoosterPredictForMatSingleRowFast

    def predict(self, row: np.ndarray) -> np.ndarray:
        local = self._local
        out = getattr(local, "out", None)
        if out is None:
            out = local.out = np.empty(self._n_outputs, dtype=np.float64)
            local.out_ptr = out.ctypes.data_as(ctypes.POINTER(ctypes.c_double))
            local.out_len = ctypes.c_int64()
        if self._call(
            self._handle,
            row.ctypes.data_as(ctypes.c_void_p),
            ctypes.byref(local.out_len),
            local.out_ptr,
        ):
            _safe_call(-1)  # raises LightGBMError with the library's message
        return out.copy()

    def __del__(self) -> None:
        handle = getattr(self, "_handle", None)
        if handle is not None and handle.value:
            _LIB.LGBM_FastConfigFree(handle)


class LinearRow:
    """A linear model behind the one-customer interface (``predict(row)``)."""

    def __init__(self, linear: LinearModel) -> None:
        self.linear = linear

    def predict(self, row: np.ndarray) -> np.ndarray:
        return np.ravel(self.linear.predict(row[None, :]))


def one_row_predictor(
    booster: lgb.Booster,
    *,
    n_features: int,
    n_outputs: int,
    model_text: str | None,
    what: str,
) -> Forest | SingleRowPredictor:
    """The compiled forest if it is built and agrees with LightGBM, else LightGBM's own
    one-row call, logged once with why; ``what`` names the booster in that line."""
    forest = checked_forest(booster, n_features=n_features, model_text=model_text)
    if isinstance(forest, Forest):
        return forest  # its check already ran (and so loaded) the compiled loop
    log.warning(
        "%s scores one customer with LightGBM's own call, not the compiled forest: %s",
        what,
        forest,
    )
    return SingleRowPredictor(booster, n_features, n_outputs)


def threads_for(rows: int) -> int:
    """One thread for a handful of rows (a request), every core for a batch.

    The model file stores training's thread count; for a few rows, starting and joining
    OpenMP threads costs more than the trees, and on a busy machine far more.
    """
    return 1 if rows < 2048 else (os.cpu_count() or 1)
