"""The transaction summary of an order table on DuckDB, as plain SQL (no Ibis): the fast route of
`heedful value clv FILE`, which reads the file into DuckDB in a background thread while the models load.

Same definitions and the same figures as `summary.summarise` on DuckDB (its bitmap route, see
"purchase days as bitmaps" there) for what that route needs of a file: no calibration period, no
observation end, no return column (returns are negative amounts). Only DuckDB is imported here, so
this module can run before pandas and SciPy are loaded; `columns.summary_frame` then
turns the Arrow result into the DataFrame the models fit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

#: days in each time unit of the models
UNIT_DAYS: dict[str, float] = {"D": 1.0, "W": 7.0, "M": 365.25 / 12}
#: the most memory the per-customer day bitmaps may take (`summary.BITMAP_BUDGET_BYTES` is this one)
BITMAP_BUDGET_BYTES = 512 * 2**20


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _row(con: duckdb.DuckDBPyConnection, sql: str) -> tuple[Any, ...]:
    """The one row of an aggregate query."""
    return tuple(con.execute(sql).fetchall()[0])


def lines_sql(table: str, customer: str, date: str, amount: str) -> str:
    """One row per order line of `table` (the date column a TIMESTAMP or DATE, the amount a DOUBLE):
    `customer_id`, `day` (days since 1970-01-01), `purchase`, `refund`, `bought` — as `summary.order_lines`.
    A line without an amount is no purchase (`bought` is NULL), as there."""
    c, d, a = _ident(customer), _ident(date), _ident(amount)
    return (
        f"SELECT {c} AS customer_id, CAST(CAST({d} AS DATE) - DATE '1970-01-01' AS INTEGER) AS day, "
        f"CASE WHEN {a} < 0 THEN 0.0 ELSE COALESCE({a}, 0.0) END AS purchase, "
        f"CASE WHEN {a} < 0 THEN abs({a}) ELSE 0.0 END AS refund, NOT ({a} < 0) AS bought "
        f"FROM {_ident(table)} WHERE {c} IS NOT NULL AND {d} IS NOT NULL"
    )


def summary_arrow(
    con: duckdb.DuckDBPyConnection, table: str, customer: str, date: str, amount: str, unit_days: float
) -> pa.Table | None:
    """customer_id, frequency, recency, T, monetary_value, first_day per customer (in customer order) of the
    orders in `table`; None where this route does not apply (no purchase at all, or day bitmaps over budget):
    the caller then takes the general route, which also gives the errors."""
    con.execute(f"CREATE OR REPLACE TEMP VIEW _lines AS {lines_sql(table, customer, date, amount)}")
    lo, hi, n, purchases = _row(
        con, "SELECT min(day) FILTER (WHERE bought), max(day), count(*), count(*) FILTER (WHERE bought) FROM _lines"
    )
    if lo is None or hi is None:
        return None
    size = (hi - lo) // 8 + 1
    if n * size > BITMAP_BUDGET_BYTES:
        (customers,) = _row(con, "SELECT approx_count_distinct(customer_id) FROM _lines")
        if int(customers or 0) * size > BITMAP_BUDGET_BYTES:
            return None
    # per customer: purchase days from a bitmap of days; the first purchase day's value from its first
    # line, summed over the whole day (second step) only where a customer has several lines on a day.
    # Where every line is a purchase (no returns, no line without an amount), the filters go (~10% less).
    bought = " FILTER (WHERE bought)" if purchases < n else ""
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _per_customer AS
        SELECT customer_id,
               min(day){bought} AS first_day,
               max(day){bought} AS last_day,
               COALESCE(bit_count(bitstring_agg(day, {lo}, {hi}){bought}), 0) AS days,
               count(*){bought} AS lines,
               COALESCE(sum(purchase), 0.0) AS gross,
               COALESCE(sum(refund), 0.0) AS refunds,
               arg_min(purchase, day){bought} AS first_value
        FROM _lines GROUP BY customer_id HAVING min(day){bought} <= {hi}"""
    )
    several = _row(con, "SELECT min(first_day), max(first_day) FROM _per_customer WHERE lines > days AND days > 1")
    fix = "SELECT NULL::VARCHAR AS customer_id, NULL::DOUBLE AS value WHERE false"
    if several[0] is not None:
        fix = f"""SELECT l.customer_id, sum(l.purchase) AS value
            FROM (SELECT * FROM _lines WHERE bought AND day BETWEEN {several[0]} AND {several[1]}) AS l
            JOIN (SELECT customer_id, first_day FROM _per_customer WHERE lines > days AND days > 1) AS p
              ON l.customer_id = p.customer_id AND l.day = p.first_day
            GROUP BY l.customer_id"""
    unit = float(unit_days)
    result = con.sql(
        f"""WITH fix AS ({fix})
        SELECT p.customer_id, p.days - 1 AS frequency,
               CAST(p.last_day - p.first_day AS DOUBLE) / {unit!r} AS recency,
               CAST({hi} - p.first_day AS DOUBLE) / {unit!r} AS T,
               CASE WHEN p.days - 1 > 0
                    THEN (p.gross - COALESCE(f.value, p.first_value)) / (p.days - 1)
                         * greatest(0.0, 1.0 - p.refunds / greatest(p.gross, 1e-12))
                    ELSE 0.0 END AS monetary_value,
               p.first_day
        FROM _per_customer AS p LEFT JOIN fix AS f ON p.customer_id = f.customer_id
        ORDER BY p.customer_id"""
    ).to_arrow_table()
    con.execute("DROP TABLE _per_customer")
    return result
