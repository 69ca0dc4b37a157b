"""Build the static fast path's word-piece table (`listen/models/static_pieces.npz`) and print its evaluation.

Every piece of the packaged MiniLM's vocabulary (30,522) gets the vector the encoder gives it alone
("##" stripped from a continuation piece), L2-normalised: what `listen.embed` used to compute on demand
and cache per machine, so a `--fast` run needed torch and the model for every piece it had not seen.
Shipped at int8 with one scale per piece (~12 MB), so no `--fast` run loads torch.

Evaluation (printed as JSON, nothing asserted):
- per piece, the cosine between the int8 vector and the float one (min, mean);
- on 2,000 bundled clothing reviews (the CSV under `--data`), the cosine between each text's static
  embedding from the int8 table and from the float one, and the share of the fast path's sentiment
  labels (`--fast`'s head) that stay the same.

Usage: .venv/bin/python scripts/build_static_pieces.py [--data ../shared/data] [--out PATH]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from heedful.listen import embed as embed_module

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "src" / "heedful" / "listen" / "models" / embed_module.STATIC_TABLE_FILE


def piece_vectors(batch_size: int = 512) -> np.ndarray:
    """float32 (vocabulary x 384): each piece encoded alone, normalised."""
    tokenizer = embed_module._backend_tokenizer()
    pieces = [tokenizer.id_to_token(i) for i in range(tokenizer.get_vocab_size())]
    words = [p[2:] if p.startswith("##") else p for p in pieces]
    model = embed_module.load_model()
    vectors = model.encode(words, batch_size=batch_size, normalize_embeddings=True, show_progress_bar=True)
    return np.asarray(vectors, dtype=np.float32)


def quantise(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric int8 per row: vectors ~ codes * scales[:, None]."""
    scales = np.abs(vectors).max(axis=1) / 127.0
    scales[scales == 0] = 1.0
    codes = np.clip(np.rint(vectors / scales[:, None]), -127, 127).astype(np.int8)
    return codes, scales.astype(np.float32)


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    na, nb = np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1)
    ok = (na > 0) & (nb > 0)
    return np.asarray((a[ok] * b[ok]).sum(axis=1) / (na[ok] * nb[ok]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--reviews", type=int, default=2000)
    args = parser.parse_args()

    started = time.perf_counter()
    exact = piece_vectors()
    built_s = time.perf_counter() - started
    codes, scales = quantise(exact)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(args.out, model=np.array(embed_module.STATIC_TABLE_KEY), codes=codes, scales=scales)
    approx = codes.astype(np.float32) * scales[:, None]
    piece_cos = cosines(exact, approx)
    report: dict[str, object] = {
        "file": str(args.out),
        "bytes": args.out.stat().st_size,
        "pieces": len(codes),
        "seconds_to_compute": round(built_s, 1),
        "piece_cosine_int8_vs_float": {
            "min": round(float(piece_cos.min()), 5),
            "mean": round(float(piece_cos.mean()), 6),
        },
    }

    reviews = args.data / "womens_ecommerce_clothing_reviews" / "Womens Clothing E-Commerce Reviews.csv.gz"
    if reviews.exists():
        import pandas as pd

        from heedful.listen.sentiment import load_sentiment_head

        texts = pd.read_csv(reviews)["Review Text"].dropna().astype(str).tolist()[: args.reviews]
        ids = embed_module._piece_ids(texts)
        counts, _ = embed_module._counts(ids)  # columns: the distinct pieces, in id order
        vocab = np.unique(np.fromiter((t for e in ids for t in e), dtype=np.int64))
        from_float = embed_module._normalise(np.asarray(counts @ exact[vocab]))
        from_int8 = embed_module._normalise(np.asarray(counts @ approx[vocab]))
        head = load_sentiment_head("static")
        labels_float = head.predict_proba(from_float, texts).argmax(axis=1)
        labels_int8 = head.predict_proba(from_int8, texts).argmax(axis=1)
        text_cos = cosines(from_float, from_int8)
        report["clothing_reviews"] = {
            "texts": len(texts),
            "text_cosine_int8_vs_float": {
                "min": round(float(text_cos.min()), 5),
                "mean": round(float(text_cos.mean()), 6),
            },
            "sentiment_labels_unchanged": round(float((labels_float == labels_int8).mean()), 4),
        }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
