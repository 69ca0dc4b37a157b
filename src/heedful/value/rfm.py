"""RFM: recency, frequency and monetary scores per customer (quantile scores), named segments, segment sizes and value."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import ibis.expr.types as ir
import numpy as np
import pandas as pd

from heedful.errors import InputError
from heedful.value._compute import first_ranks
from heedful.value.summary import Columns, summarise, unit_days

#: (R, F) score patterns on a 1-5 scale -> segment; the first match wins (the usual RFM segment map,
#: with "lost" split off the bottom corner of "hibernating").
SEGMENT_RULES: tuple[tuple[str, str], ...] = (
    (r"11", "lost"),
    (r"[1-2][1-2]", "hibernating"),
    (r"[1-2][3-4]", "at risk"),
    (r"[1-2]5", "can't lose"),
    (r"3[1-2]", "about to sleep"),
    (r"33", "need attention"),
    (r"[3-4][4-5]", "loyal"),
    (r"41", "promising"),
    (r"51", "new"),
    (r"[4-5][2-3]", "potential loyalist"),
    (r"5[4-5]", "champions"),
)
SEGMENTS: tuple[str, ...] = tuple(dict.fromkeys(name for _, name in SEGMENT_RULES))


@dataclass(frozen=True)
class RFMResult:
    customers: pd.DataFrame  # recency_days, frequency, monetary, r_score, f_score, m_score, rfm_score, segment
    segments: pd.DataFrame  # segment, customers, share, revenue, revenue_share, mean_monetary

    def to_dict(self, top: int | None = None) -> dict[str, object]:
        customers = self.customers.reset_index()
        if top is not None:
            customers = customers.sort_values("monetary", ascending=False).head(top)
        return {"segments": self.segments, "customers": customers}


def quantile_scores(values: pd.Series, bins: int = 5, higher_is_better: bool = True) -> pd.Series:
    """Scores 1..bins by quantile of the value (ties broken by order, so every bin is used)."""
    if len(values) == 0:
        return pd.Series(dtype="int64", index=values.index)
    n_bins = min(bins, len(values))
    raw = values.to_numpy(dtype=np.float64)
    if np.isnan(raw).any():
        ranks = values.rank(method="first", ascending=higher_is_better)
        scores = pd.qcut(ranks, n_bins, labels=False) + 1
    else:
        # what rank(method="first") + qcut compute, with one stable argsort and one searchsorted
        # (no categorical): ties in order of appearance, the same quantile edges, right-closed bins
        ranks = pd.Series(first_ranks(raw, ascending=higher_is_better), index=values.index)
        edges = ranks.quantile(np.linspace(0, 1, n_bins + 1)).to_numpy()
        ids = np.searchsorted(edges, ranks.to_numpy(), side="left")
        ids[ranks.to_numpy() == edges[0]] = 1  # the lowest edge belongs to the first bin
        scores = pd.Series(ids, index=values.index)
    if n_bins < bins:  # spread the few bins over the full scale
        scores = np.ceil(scores * bins / n_bins)
    return scores.astype("int64")


def segment_of(r_score: int, f_score: int, bins: int = 5) -> str:
    """Segment name of an R and F score (scores on other scales are mapped onto 1-5 first)."""
    r5 = int(np.ceil(r_score * 5 / bins))
    f5 = int(np.ceil(f_score * 5 / bins))
    key = f"{r5}{f5}"
    for pattern, name in SEGMENT_RULES:
        if re.fullmatch(pattern, key):
            return name
    return "need attention"


def rfm_table(
    orders: ir.Table | pd.DataFrame,
    *,
    cols: Columns = Columns(),
    observation_end: str | date | None = None,
) -> pd.DataFrame:
    """Per customer (query on the backend): days since last purchase, purchase days, net spend.

    The figures are those of the transaction summary in days, so both always agree.
    """
    summary = summarise(orders, cols, time_unit="D", observation_end=observation_end, net_spend=True)
    return _rfm_figures(summary, unit=1.0)


def rfm(
    orders: ir.Table | pd.DataFrame,
    *,
    bins: int = 5,
    cols: Columns = Columns(),
    observation_end: str | date | None = None,
) -> RFMResult:
    """RFM scores (1 = worst, `bins` = best) and segments for every customer with a purchase."""
    if bins < 2:
        raise InputError("RFM needs at least 2 score levels.")
    table = rfm_table(orders, cols=cols, observation_end=observation_end)
    return score_rfm(table, bins=bins)


def rfm_from_summary(summary: pd.DataFrame, time_unit: str = "W", *, bins: int = 5) -> RFMResult:
    """RFM from a `transaction_summary(..., net_spend=True)` made with the same `time_unit`: the
    same figures as `rfm(orders)` (as of the summary's calibration end), without a second pass over
    the orders. Recency is days since the last purchase, frequency purchase days, monetary net spend."""
    missing = {"frequency", "recency", "T", "net_spend"} - set(summary.columns)
    if missing:
        raise InputError(f"rfm_from_summary needs a summary made with net_spend=True (missing {sorted(missing)}).")
    if bins < 2:
        raise InputError("RFM needs at least 2 score levels.")
    return score_rfm(_rfm_figures(summary, unit_days(time_unit)), bins=bins)


def _rfm_figures(summary: pd.DataFrame, unit: float) -> pd.DataFrame:
    """(recency_days, frequency in purchase days, monetary net spend) from a summary with net_spend."""
    return pd.DataFrame(
        {
            "recency_days": np.rint((summary["T"].to_numpy() - summary["recency"].to_numpy()) * unit),
            "frequency": summary["frequency"].to_numpy(dtype=np.float64) + 1.0,
            "monetary": summary["net_spend"].to_numpy(dtype=np.float64),
        },
        index=summary.index,
    )


def score_rfm(table: pd.DataFrame, bins: int = 5) -> RFMResult:
    """Scores and segments from a (recency_days, frequency, monetary) table."""
    out = table.copy()
    out["r_score"] = quantile_scores(-out["recency_days"], bins)
    out["f_score"] = quantile_scores(out["frequency"], bins)
    out["m_score"] = quantile_scores(out["monetary"], bins)
    r, f, m = (out[c].to_numpy(dtype=np.int64) for c in ("r_score", "f_score", "m_score"))
    # at most bins³ distinct scores: name each once, then spread them (no per-customer Python loop)
    base = bins + 1
    out["rfm_score"] = _label_codes((r * base + f) * base + m, lambda c: f"{c // base**2}{c // base % base}{c % base}")
    out["segment"] = _label_codes(r * base + f, lambda c: segment_of(c // base, c % base, bins))
    return RFMResult(out, segment_summary(out))


def _label_codes(codes: np.ndarray[Any, np.dtype[np.int64]], label: Callable[[int], str]) -> np.ndarray[Any, Any]:
    """label(code) for every element, computed once per distinct code."""
    distinct, index = np.unique(codes, return_inverse=True)
    return np.array([label(int(c)) for c in distinct], dtype=object)[index.ravel()]


def segment_summary(customers: pd.DataFrame) -> pd.DataFrame:
    """Size and value of each segment (every named segment is listed, empty ones with zeros)."""
    grouped = customers.groupby("segment").agg(customers=("monetary", "size"), revenue=("monetary", "sum"))
    grouped = grouped.reindex(list(SEGMENTS), fill_value=0)
    total_n = max(int(grouped["customers"].sum()), 1)
    total_rev = float(grouped["revenue"].sum())
    grouped["share"] = grouped["customers"] / total_n
    grouped["revenue_share"] = grouped["revenue"] / total_rev if total_rev else 0.0
    grouped["mean_monetary"] = np.where(
        grouped["customers"] > 0, grouped["revenue"] / grouped["customers"].clip(lower=1), 0.0
    )
    return grouped.reset_index().rename(columns={"index": "segment"})
