"""Numerical helpers shared by the BTYD models: hypergeometric terms on distinct inputs only."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.special import hyp2f1

Array = np.ndarray[Any, np.dtype[np.float64]]


def distinct_rows(*columns: Array) -> tuple[np.ndarray[Any, np.dtype[np.intp]], list[Array]]:
    """Group identical rows of the given columns: (row -> group index, distinct values per column)."""
    frame = pd.DataFrame({f"c{i}": np.asarray(c, dtype=np.float64) for i, c in enumerate(columns)})
    codes = frame.groupby(list(frame.columns), sort=False).ngroup().to_numpy()
    first = np.full(codes.max() + 1 if len(codes) else 0, -1, dtype=np.intp)
    first[codes[::-1]] = np.arange(len(codes) - 1, -1, -1)  # first occurrence of each group
    return codes.astype(np.intp), [frame[c].to_numpy()[first] for c in frame.columns]


def hyp2f1_by_distinct(a: Array | float, b: Array | float, c: Array | float, z: Array | float, *keys: Array) -> Array:
    """scipy's 2F1 evaluated once per distinct `keys` row (the arguments must be functions of the keys).

    The arguments broadcast against the rows, so a leading axis (e.g. several horizons `t` as a column)
    evaluates all of them with one grouping of the rows.
    """
    codes, _ = distinct_rows(*keys)
    shape = np.broadcast_shapes(np.shape(a), np.shape(b), np.shape(c), np.shape(z), codes.shape)
    if len(codes) == 0:
        return np.zeros(shape)
    first = np.full(codes.max() + 1, -1, dtype=np.intp)
    first[codes[::-1]] = np.arange(len(codes) - 1, -1, -1)
    values = hyp2f1(*(np.broadcast_to(arg, shape)[..., first] for arg in (a, b, c, z)))
    return np.asarray(values, dtype=np.float64)[..., codes]


def as_array(values: Any) -> Array:
    return np.asarray(values, dtype=np.float64)


def weighted_sum(a: Array, b: Array) -> float:
    """Weighted sum without BLAS: BLAS threads spin badly on busy machines for vectors this size."""
    return float(np.einsum("i,i->", a, b))
