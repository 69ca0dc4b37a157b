"""How the value models compute fast, kept apart from the maths: the models call the named helpers here.

- grouping identical rows (`distinct_rows`, `unique_inverse`) so each distinct history is evaluated once;
- block-wise sums over a shared thread pool (`sum_blocks`, `parallel_map`, `in_background`, `side_by_side`);
- BLAS on one thread while fitting (`one_blas_thread`, `small_product`);
- output tables built in their final order (`descending_order`, `first_ranks`, `float_block_in_background`,
  `table_in_order`) instead of building a table and sorting it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar

import numpy as np
import pandas as pd
from threadpoolctl import ThreadpoolController

Array = np.ndarray[Any, np.dtype[np.float64]]
Codes = np.ndarray[Any, np.dtype[np.intp]]
Order = np.ndarray[Any, np.dtype[np.intp]]
R = TypeVar("R")
S = TypeVar("S")
T = TypeVar("T")

#: rows per block when a likelihood is evaluated block by block: a block's temporaries stay in the CPU cache
BLOCK_ROWS = 1 << 15


def distinct_rows(*columns: Array) -> tuple[Codes, list[Array]]:
    """Group identical rows of the given columns: (row -> group index, distinct values per column).

    Groups are numbered in order of first appearance. Each column is factorized on its own (few
    distinct values: days, counts) and the integer codes are combined, which is much cheaper than
    hashing rows of floats; NaN is a value of its own.
    """
    if not columns or len(columns[0]) == 0:
        return np.zeros(0, dtype=np.intp), [np.zeros(0) for _ in columns]
    key: np.ndarray[Any, np.dtype[np.int64]] | None = None
    size = 1
    for column in columns:
        codes, uniques = pd.factorize(np.asarray(column, dtype=np.float64), use_na_sentinel=False)
        if key is None:
            key, size = codes.astype(np.int64), len(uniques)
            continue
        if size * len(uniques) >= 1 << 62:  # keep the combined key inside int64: renumber what we have
            renumbered, kept = pd.factorize(key)
            key, size = renumbered.astype(np.int64), len(kept)
        key = key * len(uniques) + codes
        size *= len(uniques)
    assert key is not None
    group, _ = pd.factorize(key)
    group = group.astype(np.intp, copy=False)
    first = np.empty(int(group.max()) + 1, dtype=np.intp)
    first[group[::-1]] = np.arange(len(group) - 1, -1, -1, dtype=np.intp)  # first occurrence of each group
    return group, [np.asarray(c, dtype=np.float64)[first] for c in columns]


def unique_inverse(values: Array) -> tuple[Array, Codes]:
    """`np.unique(values, return_inverse=True)` by hashing instead of sorting every row (few distinct values)."""
    codes, uniques = pd.factorize(np.asarray(values, dtype=np.float64), use_na_sentinel=False)
    order = np.argsort(uniques, kind="stable")
    rank = np.empty(len(order), dtype=np.intp)
    rank[order] = np.arange(len(order), dtype=np.intp)
    return np.asarray(uniques[order], dtype=np.float64), rank[codes]


def as_array(values: Any) -> Array:
    if isinstance(values, pd.Series):
        # np.asarray(series) probes attributes the Series lacks, and pandas answers each probe by looking the
        # name up in the index: on a million string ids that first builds a hash table of the index (~0.15 s)
        return values.to_numpy(dtype=np.float64)
    return np.asarray(values, dtype=np.float64)


def weighted_sum(a: Array, b: Array) -> float:
    """Weighted sum without BLAS: BLAS threads spin badly on busy machines for vectors this size."""
    return float(np.einsum("i,i->", a, b))


def block_slices(n_rows: int, block_rows: int = BLOCK_ROWS) -> list[slice]:
    """Consecutive row blocks; the split depends on the row count only, so block sums add up the same way always."""
    return [slice(start, min(start + block_rows, n_rows)) for start in range(0, max(n_rows, 1), block_rows)]


_POOL: ThreadPoolExecutor | None = None
_POOL_SIZE = 0
_POOL_PID = 0  # a forked child inherits the pool object but not its threads: it needs its own
_THREAD_PREFIX = "heedful-value"
_POOL_LOCK = threading.Lock()


def worker_count() -> int:
    """Threads for block-wise evaluation: the CPUs this process may use (NumPy's loops release the GIL)."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, 8))


def parallel_map(function: Callable[[S], R], items: Sequence[S], threads: int | None = None) -> list[R]:
    """`[function(item) for item in items]`, the items shared out in runs over a thread pool; results in order.

    Worth it only where `function` spends its time in NumPy loops, which release the GIL.
    """
    threads = worker_count() if threads is None else threads
    pool = _pool(threads) if len(items) >= 2 else None
    if pool is None:
        return [function(item) for item in items]
    share = -(-len(items) // threads)
    runs = [items[i : i + share] for i in range(0, len(items), share)]
    parts = pool.map(lambda run: [function(item) for item in run], runs)
    return [result for part in parts for result in part]


def _pool(threads: int) -> ThreadPoolExecutor | None:
    """The shared pool with at least `threads` workers; None where work should run in the calling thread."""
    global _POOL, _POOL_SIZE, _POOL_PID
    nested = threading.current_thread().name.startswith(_THREAD_PREFIX)  # waiting on our own pool could deadlock
    if threads <= 1 or nested:
        return None
    with _POOL_LOCK:  # fits may run side by side (`fit_clv_models`): one pool for both
        if _POOL is None or threads > _POOL_SIZE or os.getpid() != _POOL_PID:
            _POOL = ThreadPoolExecutor(max_workers=threads, thread_name_prefix=_THREAD_PREFIX)
            _POOL_SIZE, _POOL_PID = threads, os.getpid()
        return _POOL


def in_background(function: Callable[[], R]) -> Callable[[], R]:
    """Start `function` on the worker pool; returns a call that waits for its result.

    Runs it right away (in this thread) where there is no second CPU or this is a pool thread.
    """
    pool = _pool(worker_count())
    if pool is None:
        result = function()
        return lambda: result
    return pool.submit(function).result


def touched_block(rows: int, columns: int) -> Array:
    """A (rows, columns) float array whose memory has been written once.

    A fresh large array costs its page faults on first write (~0.1 s for 64 MB here, with huge pages
    compacted on demand); done on the pool while the caller computes, that cost leaves the critical path.
    """
    block = np.empty((rows, columns), dtype=np.float64)
    block.fill(0.0)
    return block


def sum_blocks(function: Callable[[slice], Array], blocks: Sequence[slice], threads: int | None = None) -> Array:
    """Σ over blocks of `function(block)` (a vector of sums), added in block order whatever the thread count."""
    parts = parallel_map(function, blocks, threads)
    total = parts[0].copy()
    for part in parts[1:]:
        total += part
    return total


_BLAS_CONTROLLER: ThreadpoolController | None = None
_BLAS_LOCK = threading.Lock()
_BLAS_USERS = 0
_BLAS_LIMIT: Any = None  # the limit in force while any fit runs; undone when the last one ends


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """BLAS on one thread while fitting: the optimizer's BLAS calls work on 4-vectors, and on a busy
    machine OpenBLAS waking its threads for each one costs ~3 ms a call (0.1 s of a 10 ms CDNOW fit).

    Counted, so that fits running side by side share one limit and the last to finish restores BLAS.
    """
    global _BLAS_CONTROLLER, _BLAS_USERS, _BLAS_LIMIT
    with _BLAS_LOCK:
        if _BLAS_CONTROLLER is None:
            _BLAS_CONTROLLER = ThreadpoolController()  # inspects the loaded libraries once (~10 ms)
        if _BLAS_USERS == 0:
            _BLAS_LIMIT = _BLAS_CONTROLLER.limit(limits=1, user_api="blas")
        _BLAS_USERS += 1
    try:
        yield
    finally:
        with _BLAS_LOCK:
            _BLAS_USERS -= 1
            if _BLAS_USERS == 0:
                _BLAS_LIMIT.restore_original_limits()
                _BLAS_LIMIT = None


def small_product(left: Array, right: Array) -> Array:
    """`left @ right` for small operands, on one BLAS thread: waking BLAS threads costs more than it saves."""
    with one_blas_thread():
        return np.asarray(left @ right, dtype=np.float64)


def side_by_side(first: Callable[[], R], second: Callable[[], T]) -> tuple[R, T]:
    """`(first(), second())`, the second run on a thread of its own meanwhile (their single-threaded parts,
    e.g. two optimizers, overlap on a second core). An error in either is raised here; should `first`
    fail, this still waits for `second` to end."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="heedful-fit") as side:
        later = side.submit(second)
        result = first()
        return result, later.result()


# --------------------------------------------------------------------------- tables in their final order
def descending_order(values: Array) -> Order:
    """The row order of `DataFrame.sort_values(ascending=False)`, ties and NaN (last) included.

    pandas reverses the values, sorts them ascending (quicksort), and reverses the result; doing the
    same on the bare array gives the same order without building and then permuting a whole table.
    """
    missing = np.isnan(values)
    positions = np.arange(len(values), dtype=np.intp)
    if not missing.any():
        last = len(values) - 1
        return np.asarray(last - values[::-1].argsort(kind="quicksort")[::-1], dtype=np.intp)
    present, present_at = values[~missing][::-1], positions[~missing][::-1]
    order = present_at[present.argsort(kind="quicksort")][::-1]
    return np.concatenate([order, positions[missing]]).astype(np.intp, copy=False)


def first_ranks(values: Array, ascending: bool = True) -> Array:
    """Ranks 1..n as `Series.rank(method="first")` gives them (ties in order of appearance), without NaN,
    from one stable argsort."""
    ranks = np.empty(len(values), dtype=np.float64)
    ranks[np.argsort(values if ascending else -values, kind="stable")] = np.arange(1.0, len(values) + 1)
    return ranks


def float_block_in_background(rows: int, columns: int) -> Callable[[], Array]:
    """Start making a (rows, columns) float block with its memory faulted in, on the pool; the call returns it.

    A table of float columns built into it later skips those page faults on the critical path.
    """
    return in_background(lambda: touched_block(rows, columns))


def column_values(column: pd.Series) -> Any:
    """The column's NumPy array where it is float64 (the fast path of `table_in_order`), else its pandas array."""
    return column.to_numpy() if column.dtype == np.float64 else column.array


def table_in_order(
    gathers: list[tuple[str, Any, Order]], index: pd.Index, order: Order, block: Array | None
) -> pd.DataFrame:
    """A table of `values.take(rows)` per (name, values, rows), on `index.take(order)`; `block` (one row per
    column, one column per table row) receives the values where all are floats.

    All-float columns are gathered straight into one 2-D block, over the worker threads (NumPy's take
    releases the GIL, the index's does not: they overlap), so pandas neither copies nor consolidates.
    """
    names = [name for name, _, _ in gathers]
    if block is None or not all(getattr(values, "dtype", None) == np.float64 for _, values, _ in gathers):
        columns = {name: values.take(rows) for name, values, rows in gathers}
        return pd.DataFrame(columns, index=index.take(order))

    def gather_floats() -> None:
        for row, (_, values, rows) in enumerate(gathers):
            np.take(np.asarray(values, dtype=np.float64), rows, out=block[row])

    # two tasks of similar length: the index's take (object ids, holds the GIL) beside the float gathers
    tasks: list[Callable[[], Any]] = [lambda: index.take(order), gather_floats]
    taken_index, _ = parallel_map(lambda task: task(), tasks)
    return pd.DataFrame(block.T, columns=names, index=taken_index, copy=False)
