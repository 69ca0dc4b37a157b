"""Redaction quality: recall on a planted set and false redactions on ordinary reviews.

    python scripts/evaluate_redaction.py [--data ../shared/data] [--show 20]

Recall: of the personal data strings planted in `tests/listen/data/pii_planted.jsonl` (names in running
text, greetings, roles, phones of several countries, e-mails, card numbers), the share that no longer
appears after `heedful.listen.pii.redact`. False redactions: on the Women's E-Commerce Clothing Reviews
(ordinary reviews with no personal data planted), every review `redact` changes is printed for a human to
check, with the rate per 1,000 reviews. Prints one JSON document.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PLANTED = ROOT / "tests" / "listen" / "data" / "pii_planted.jsonl"


def planted_recall() -> dict[str, object]:
    from heedful.listen.pii import redact

    found = total = 0
    missed: list[dict[str, str]] = []
    for line in PLANTED.read_text(encoding="utf-8").splitlines():
        case = json.loads(line)
        out = redact(case["text"])
        for item in case["personal"]:
            total += 1
            if item in out:
                missed.append({"text": case["text"], "missed": item, "redacted": out})
            else:
                found += 1
    return {"planted": total, "caught": found, "recall": round(found / total, 4), "missed": missed}


def false_redactions(data: Path, show: int) -> dict[str, object]:
    import pandas as pd

    from heedful.listen.pii import redact

    path = data / "womens_ecommerce_clothing_reviews" / "Womens Clothing E-Commerce Reviews.csv.gz"
    texts = pd.read_csv(path)["Review Text"].dropna().astype(str).tolist()
    changed = [(t, r) for t in texts if (r := redact(t)) != t]
    return {
        "reviews": len(texts),
        "changed": len(changed),
        "per_1000": round(1000 * len(changed) / len(texts), 3),
        "examples": [{"text": t, "redacted": r} for t, r in changed[:show]],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--show", type=int, default=20)
    args = parser.parse_args()
    report = {"planted": planted_recall(), "clothing_reviews": false_redactions(args.data, args.show)}
    json.dump(report, sys.stdout, indent=2, ensure_ascii=False)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
