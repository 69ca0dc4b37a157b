"""Numerical helpers shared by the BTYD models: grouping identical rows, weighted sums."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

Array = np.ndarray[Any, np.dtype[np.float64]]


def distinct_rows(*columns: Array) -> tuple[np.ndarray[Any, np.dtype[np.intp]], list[Array]]:
    """Group identical rows of the given columns: (row -> group index, distinct values per column)."""
    frame = pd.DataFrame({f"c{i}": np.asarray(c, dtype=np.float64) for i, c in enumerate(columns)})
    codes = frame.groupby(list(frame.columns), sort=False).ngroup().to_numpy()
    first = np.full(codes.max() + 1 if len(codes) else 0, -1, dtype=np.intp)
    first[codes[::-1]] = np.arange(len(codes) - 1, -1, -1)  # first occurrence of each group
    return codes.astype(np.intp), [frame[c].to_numpy()[first] for c in frame.columns]


def as_array(values: Any) -> Array:
    return np.asarray(values, dtype=np.float64)


def weighted_sum(a: Array, b: Array) -> float:
    """Weighted sum without BLAS: BLAS threads spin badly on busy machines for vectors this size."""
    return float(np.einsum("i,i->", a, b))
