"""Sample rows shared by the importer tests."""

from __future__ import annotations

from pathlib import Path

RETAIL_HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"

# 9 lines: 5 good sales, 1 cancellation, 1 exact duplicate, then bad ones (lines 9..12 in the file)
RETAIL_ROWS = [
    "536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,2010-12-01 08:26:00,2.55,17850,United Kingdom",
    "536365,71053,WHITE METAL LANTERN,6,2010-12-01 08:26:00,3.39,17850,United Kingdom",
    "536366,22633,HAND WARMER UNION JACK,6,2010-12-01 08:28:00,1.85,17850,United Kingdom",
    "536367,84879,ASSORTED COLOUR BIRD ORNAMENT,32,2010-12-01 08:34:00,1.69,13047,United Kingdom",
    "536368,22960,JAM MAKING SET WITH JARS,6,2010-12-01 08:34:00,4.25,,United Kingdom",
    "C536379,D,Discount,-1,2010-12-01 09:41:00,27.5,14527,United Kingdom",
    "536367,84879,ASSORTED COLOUR BIRD ORNAMENT,32,2010-12-01 08:34:00,1.69,13047,United Kingdom",
    "536370,22728,ALARM CLOCK BAKELIKE PINK,24,not a date,3.75,12583,France",
    "536371,22727,ALARM CLOCK BAKELIKE RED,-3,2010-12-01 09:00:00,3.75,12583,France",
    ",22726,ALARM CLOCK BAKELIKE GREEN,4,2010-12-01 09:00:00,3.75,12583,France",
    "536372,22725,ALARM CLOCK BAKELIKE IVORY,four,2010-12-01 09:00:00,3.75,12583,France",
]
GOOD_RETAIL_LINES = 7  # 5 sales + 1 cancellation + 1 duplicate line (stored once)
BAD_RETAIL = {
    9: "unparseable date",
    10: "negative quantity",
    11: "missing order id",
    12: "is not a number",
}


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path
