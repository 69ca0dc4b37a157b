"""Build the small real data slices bundled in `src/heedful/datasets/` from `../shared/data`.

Deterministic (hash-ordered selections, no random state): running it again writes the same files.

    .venv/bin/python scripts/build_datasets.py [--shared ../shared/data]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "src" / "heedful" / "datasets"
N_CUSTOMERS = 400
MAX_LINES_PER_CUSTOMER = 100
N_GUEST_INVOICES = 12
N_REVIEWS = 1500
SHARE_WITHOUT_CUSTOMER = 0.1
LAST_DAY = pd.Timestamp("2011-12-09 12:50:00")


def _rank(value: object, salt: str = "") -> str:
    return hashlib.md5(f"{salt}{value}".encode()).hexdigest()


def _write_csv_gz(frame: pd.DataFrame, path: Path) -> None:
    buf = io.StringIO()
    frame.to_csv(buf, index=False, lineterminator="\n")
    with gzip.GzipFile(path, "wb", compresslevel=9, mtime=0) as gz:
        gz.write(buf.getvalue().encode("utf-8"))


def build_orders(shared: Path) -> pd.DataFrame:
    retail = pd.read_csv(
        shared / "uci_online_retail" / "online_retail.csv.gz",
        dtype={"InvoiceNo": str, "StockCode": str, "CustomerID": "Int64"},
        keep_default_na=False,
        na_values={"CustomerID": [""]},
    )
    lines = retail.groupby("CustomerID").size()
    eligible = sorted((c for c in lines.index if lines[c] <= MAX_LINES_PER_CUSTOMER), key=_rank)
    chosen = set(eligible[:N_CUSTOMERS])
    guests = retail[retail["CustomerID"].isna() & ~retail["InvoiceNo"].str.startswith("C")]
    guest_invoices = sorted(guests["InvoiceNo"].unique(), key=lambda i: _rank(i, "guest"))[:N_GUEST_INVOICES]
    keep = retail["CustomerID"].isin(chosen) | retail["InvoiceNo"].isin(guest_invoices)
    return retail[keep]  # original row order and values


def build_reviews(shared: Path, orders: pd.DataFrame) -> pd.DataFrame:
    reviews = pd.read_csv(shared / "womens_ecommerce_clothing_reviews" / "Womens Clothing E-Commerce Reviews.csv.gz")
    reviews = reviews.rename(columns={reviews.columns[0]: "review_id"})
    reviews = reviews[reviews["Review Text"].notna()]
    reviews = reviews.loc[sorted(reviews.index, key=lambda i: _rank(i, "review"))[:N_REVIEWS]].copy()
    reviews = reviews.sort_values("review_id")

    buyers = orders[orders["CustomerID"].notna() & ~orders["InvoiceNo"].str.startswith("C")]
    invoice_days = (
        buyers.assign(InvoiceDate=pd.to_datetime(buyers["InvoiceDate"]))
        .groupby("CustomerID")["InvoiceDate"]
        .apply(lambda s: sorted(s.unique()))
    )
    customer_ids = sorted(invoice_days.index, key=lambda c: _rank(c, "reviewer"))
    first, last = pd.to_datetime(orders["InvoiceDate"]).min(), LAST_DAY
    span = (last - first).total_seconds()

    customer_col: list[object] = []
    created_col: list[str] = []
    for review_id in reviews["review_id"]:
        h = int(_rank(review_id, "assign"), 16)
        if (h % 1000) / 1000 < SHARE_WITHOUT_CUSTOMER:
            customer_col.append(pd.NA)
            when = first + pd.Timedelta(seconds=(h >> 10) % int(span))
        else:
            customer = customer_ids[(h >> 10) % len(customer_ids)]
            purchases = invoice_days[customer]
            bought = pd.Timestamp(purchases[(h >> 30) % len(purchases)])
            when = min(bought + pd.Timedelta(days=1 + (h >> 40) % 21, hours=(h >> 50) % 12), last)
            customer_col.append(customer)
        created_col.append(when.strftime("%Y-%m-%d %H:%M:%S"))
    return pd.DataFrame(
        {
            "review_id": reviews["review_id"].to_numpy(),
            "customer_id": pd.array(customer_col, dtype="Int64"),
            "created_at": created_col,
            "title": reviews["Title"].to_numpy(),
            "text": reviews["Review Text"].to_numpy(),
            "rating": reviews["Rating"].to_numpy(),
            "rating_scale": 5,
            "channel": "review",
            "clothing_id": reviews["Clothing ID"].to_numpy(),
            "age": reviews["Age"].to_numpy(),
            "recommended": reviews["Recommended IND"].to_numpy(),
            "positive_feedback_count": reviews["Positive Feedback Count"].to_numpy(),
            "division": reviews["Division Name"].to_numpy(),
            "department": reviews["Department Name"].to_numpy(),
            "class": reviews["Class Name"].to_numpy(),
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    orders = build_orders(args.shared)
    reviews = build_reviews(args.shared, orders)
    _write_csv_gz(orders, OUT / "online_retail_sample.csv.gz")
    _write_csv_gz(reviews, OUT / "clothing_reviews_sample.csv.gz")
    customers = orders["CustomerID"].dropna().nunique()
    print(
        f"orders: {len(orders)} lines, {customers} customers, "
        f"{orders['InvoiceNo'].str.startswith('C').sum()} cancellation lines, "
        f"{orders['CustomerID'].isna().sum()} guest lines; reviews: {len(reviews)} "
        f"({reviews['customer_id'].notna().sum()} linked to a customer)"
    )


if __name__ == "__main__":
    main()
