"""What every customer-value analysis shares, without Ibis: the input columns (`Columns`), time units,
and the summary's DataFrame form (`summary_frame`). `heedful value clv FILE` summarises a plain file in
DuckDB SQL (`summary_sql`) and fits the models without ever loading Ibis (0.4 s of imports); the Ibis
queries live in `summary`, which re-exports these names.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from heedful.errors import InputError
from heedful.value.summary_sql import UNIT_DAYS

EPOCH = date(1970, 1, 1)


@dataclass(frozen=True)
class Columns:
    """Which input columns hold the customer, the order time, the amount and the return flag."""

    customer: str = "customer_id"
    date: str = "ordered_at"
    amount: str | None = "amount"
    is_return: str | None = "is_return"
    date_format: str | None = None


def unit_days(time_unit: str) -> float:
    try:
        return UNIT_DAYS[time_unit.upper()]
    except KeyError:
        raise InputError(f"Unknown time unit {time_unit!r}; use D (days), W (weeks) or M (months).") from None


def summary_frame(table: pa.Table) -> pd.DataFrame:
    """The summary DataFrame (indexed by text `customer_id`, `first_day` as `first_purchase`) of a summary
    as Arrow, one row per customer (`summary._SummaryPlan.run`, `summary_sql.summary_arrow`)."""
    columns: dict[str, Any] = {
        name: table[name].to_numpy().astype(np.float64)
        for name in table.column_names
        if name not in ("customer_id", "first_day")
    }
    first_day = table["first_day"].to_numpy().astype("int64")
    columns["first_purchase"] = (first_day * 86_400_000_000_000).astype("datetime64[ns]")
    return pd.DataFrame(columns, index=customer_index(table["customer_id"]))


def customer_index(ids: pa.ChunkedArray) -> pd.Index:
    """Customer ids as a text index (the store keys customers by text, whatever the source type)."""
    if pa.types.is_integer(ids.type) or pa.types.is_string(ids.type) or pa.types.is_large_string(ids.type):
        text = pc.cast(ids, pa.string()).to_numpy(zero_copy_only=False)  # Arrow's cast: 3x faster than str()
    else:
        text = pd.Series(ids.to_pandas()).astype(str).to_numpy()
    return pd.Index(text, dtype=object, name="customer_id")
