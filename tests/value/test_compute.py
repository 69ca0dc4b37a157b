"""The numerical helpers behind the fits: grouping identical customers, block-wise threaded sums."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import threadpoolctl

from heedful.value import _compute
from heedful.value._compute import distinct_rows, parallel_map, sum_blocks, unique_inverse


def groupby_reference(*columns: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """What distinct_rows computed before: pandas groupby in order of first appearance."""
    frame = pd.DataFrame({f"c{i}": c for i, c in enumerate(columns)})
    codes = frame.groupby(list(frame.columns), sort=False).ngroup().to_numpy()
    first = frame.reset_index(drop=True).groupby(list(frame.columns), sort=False).head(1).index.to_numpy()
    return codes, [frame[c].to_numpy()[first] for c in frame.columns]


def test_distinct_rows_numbers_groups_in_order_of_first_appearance_like_groupby() -> None:
    rng = np.random.default_rng(5)
    x = rng.integers(0, 30, 20_000).astype(float)
    t_x = np.round(rng.uniform(0, 52, 20_000) * 7) / 7
    T = np.round(rng.uniform(40, 52, 20_000) * 7) / 7
    codes, distinct = distinct_rows(x, t_x, T)
    ref_codes, ref_distinct = groupby_reference(x, t_x, T)
    np.testing.assert_array_equal(codes, ref_codes)
    for got, want in zip(distinct, ref_distinct, strict=True):
        np.testing.assert_array_equal(got, want)
    # every row is its group's values
    for column, values in zip((x, t_x, T), distinct, strict=True):
        np.testing.assert_array_equal(values[codes], column)


def test_distinct_rows_keeps_missing_values_as_a_group_and_handles_empty_input() -> None:
    codes, (a, b) = distinct_rows(np.array([1.0, np.nan, 1.0, np.nan]), np.array([2.0, 3.0, 2.0, 3.0]))
    assert codes.tolist() == [0, 1, 0, 1]
    assert a[0] == 1.0 and np.isnan(a[1]) and b.tolist() == [2.0, 3.0]
    codes, (a,) = distinct_rows(np.zeros(0))
    assert len(codes) == 0 and len(a) == 0


def test_unique_inverse_matches_numpy_unique() -> None:
    values = np.random.default_rng(1).integers(0, 50, 5_000).astype(float) / 3
    got_values, got_index = unique_inverse(values)
    want_values, want_index = np.unique(values, return_inverse=True)
    np.testing.assert_array_equal(got_values, want_values)
    np.testing.assert_array_equal(got_index, want_index)


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_parallel_map_keeps_the_order_of_its_items(threads: int) -> None:
    assert parallel_map(lambda i: i * i, list(range(11)), threads) == [i * i for i in range(11)]


def test_block_sums_do_not_depend_on_the_thread_count() -> None:
    values = np.random.default_rng(2).lognormal(size=100_003)
    blocks = _compute.block_slices(len(values), 4096)
    one = sum_blocks(lambda rows: np.array([np.log(values[rows]).sum(), values[rows].sum()]), blocks, threads=1)
    two = sum_blocks(lambda rows: np.array([np.log(values[rows]).sum(), values[rows].sum()]), blocks, threads=2)
    np.testing.assert_array_equal(one, two)
    np.testing.assert_allclose(one, [np.log(values).sum(), values.sum()], rtol=1e-12)


def test_blas_runs_on_one_thread_inside_the_fit_context_and_as_before_after() -> None:
    before = [info["num_threads"] for info in threadpoolctl.threadpool_info() if info["user_api"] == "blas"]
    with _compute.one_blas_thread():
        inside = [info["num_threads"] for info in threadpoolctl.threadpool_info() if info["user_api"] == "blas"]
    after = [info["num_threads"] for info in threadpoolctl.threadpool_info() if info["user_api"] == "blas"]
    assert inside and all(n == 1 for n in inside)
    assert after == before


@pytest.mark.parametrize("threads", [1, 2])
def test_work_started_in_the_background_gives_its_result(threads: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_compute, "worker_count", lambda: threads)
    result = _compute.in_background(lambda: _compute.touched_block(3, 1000))
    block = result()
    assert block.shape == (3, 1000) and not block.any()


def test_overlapping_fit_contexts_keep_blas_limited_until_the_last_one_ends() -> None:
    def blas_threads() -> list[int]:
        return [info["num_threads"] for info in threadpoolctl.threadpool_info() if info["user_api"] == "blas"]

    before = blas_threads()
    first, second = _compute.one_blas_thread(), _compute.one_blas_thread()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)  # the first fit ends while the second still runs
    assert all(n == 1 for n in blas_threads())
    second.__exit__(None, None, None)
    assert blas_threads() == before
