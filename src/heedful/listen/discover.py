"""Themes nobody listed: clusters of similar feedback (UMAP + HDBSCAN), c-TF-IDF labels, quotes, sentiment.

Built from BERTopic's building blocks (umap-learn, hdbscan, scikit-learn's CountVectorizer) rather than
home-made clustering; the difference is speed: a lighter UMAP schedule and no per-topic representation
models. A cluster can be promoted into the taxonomy as a new theme.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from heedful.errors import InputError
from heedful.estimators import BaseEstimator, check_fitted
from heedful.listen.taxonomy import Taxonomy, Theme
from heedful.themes import decode_themes

NOISE = -1


class ThemeDiscovery(BaseEstimator):
    """Cluster feedback embeddings into topics (scikit-learn contract; `labels_`, `topics_` after fit)."""

    def __init__(
        self,
        min_cluster_size: int = 15,
        n_neighbors: int = 15,
        n_components: int = 5,
        n_epochs: int | None = 100,
        reducer: str = "umap",
        top_words: int = 8,
        n_quotes: int = 3,
        random_state: int | None = 42,
    ) -> None:
        self.min_cluster_size = min_cluster_size
        self.n_neighbors = n_neighbors
        self.n_components = n_components
        self.n_epochs = n_epochs
        self.reducer = reducer
        self.top_words = top_words
        self.n_quotes = n_quotes
        self.random_state = random_state

    def fit(
        self,
        texts: Sequence[str],
        embeddings: np.ndarray,
        sentiment_score: Sequence[float] | None = None,
        themes: Sequence[str] | None = None,
    ) -> ThemeDiscovery:
        """Cluster; `sentiment_score` and known `themes` (";"-joined ids) per text enrich the topic table."""
        import hdbscan

        if len(texts) != len(embeddings):
            raise InputError("texts and embeddings must have the same length")
        if len(texts) < max(self.min_cluster_size * 2, self.n_neighbors + 2):
            raise InputError(f"discovery needs at least {max(self.min_cluster_size * 2, self.n_neighbors + 2)} texts")
        reduced = self._reduce(np.asarray(embeddings, dtype=np.float32))
        clusterer = hdbscan.HDBSCAN(
            min_cluster_size=self.min_cluster_size, metric="euclidean", cluster_selection_method="eom"
        )
        self.labels_ = clusterer.fit_predict(reduced)
        self.topics_ = self._describe(list(texts), np.asarray(embeddings), sentiment_score, themes)
        return self

    def _reduce(self, X: np.ndarray) -> np.ndarray:
        """Lower-dimensional space where density clustering works: UMAP (as BERTopic) or PCA (quick)."""
        if self.reducer == "pca":
            from sklearn.decomposition import PCA

            return PCA(n_components=min(self.n_components, X.shape[1]), random_state=self.random_state).fit_transform(X)
        if self.reducer != "umap":
            raise InputError(f"reducer must be 'umap' or 'pca', not {self.reducer!r}")
        import umap

        reducer = umap.UMAP(
            n_neighbors=self.n_neighbors,
            n_components=self.n_components,
            min_dist=0.0,
            metric="cosine",
            n_epochs=self.n_epochs,
            random_state=self.random_state,
            n_jobs=1,
            low_memory=True,
        )
        return np.asarray(reducer.fit_transform(X))

    def _describe(
        self,
        texts: list[str],
        embeddings: np.ndarray,
        sentiment_score: Sequence[float] | None,
        themes: Sequence[str] | None,
    ) -> pd.DataFrame:
        from heedful.listen.pii import redact
        from heedful.listen.text import readable

        clusters = sorted(c for c in set(self.labels_.tolist()) if c != NOISE)
        keywords = ctfidf_keywords(texts, self.labels_, clusters, self.top_words)
        scores = np.asarray(sentiment_score, dtype=float) if sentiment_score is not None else None
        rows = []
        for c in clusters:
            members = np.flatnonzero(self.labels_ == c)
            centre = embeddings[members].mean(axis=0)
            nearest = members[np.argsort(-(embeddings[members] @ centre))[: self.n_quotes]]
            row: dict[str, object] = {
                "cluster_id": c,
                "label": " / ".join(keywords[c][:3]) or f"cluster {c}",
                "size": len(members),
                "keywords": keywords[c],
                "quotes": [redact(readable(texts[i])) for i in nearest],
                "mean_sentiment": float(scores[members].mean()) if scores is not None else None,
                "negative_share": float((scores[members] < 0).mean()) if scores is not None else None,
            }
            if themes is not None:
                member_themes = [themes[int(i)] or "" for i in members]
                row["unlisted_share"] = float(np.mean([t == "" for t in member_themes]))
                listed = pd.Series([t for s in member_themes for t in decode_themes(s)])
                row["closest_theme"] = listed.value_counts().index[0] if len(listed) else None
            rows.append(row)
        out = pd.DataFrame(rows)
        return out.sort_values("size", ascending=False).reset_index(drop=True) if len(out) else out

    def topic(self, cluster_id: int) -> pd.Series:
        check_fitted(self, "topics_")
        match = self.topics_[self.topics_["cluster_id"] == cluster_id]
        if match.empty:
            raise InputError(f"No discovered cluster {cluster_id}; clusters are {sorted(self.topics_['cluster_id'])}")
        return match.iloc[0]


def ctfidf_keywords(
    texts: Sequence[str], labels: np.ndarray, clusters: Sequence[int], top: int
) -> dict[int, list[str]]:
    """Class-based TF-IDF (as in BERTopic): words frequent in one cluster and rare across clusters."""
    from sklearn.feature_extraction.text import CountVectorizer

    if not clusters:
        return {}
    joined = [" ".join(texts[int(i)] for i in np.flatnonzero(labels == c)) for c in clusters]
    vectorizer = CountVectorizer(stop_words="english", ngram_range=(1, 2), min_df=1, max_features=50_000)
    counts = vectorizer.fit_transform(joined).astype(np.float64)
    words = np.asarray(vectorizer.get_feature_names_out())
    tf = counts.multiply(1.0 / np.maximum(counts.sum(axis=1), 1)).tocsr()
    avg_words = counts.sum() / len(clusters)
    idf = np.log(1 + avg_words / np.maximum(np.asarray(counts.sum(axis=0)).ravel(), 1))
    weights = tf.multiply(idf).tocsr()
    out = {}
    for row, c in enumerate(clusters):
        dense = weights[row].toarray().ravel()
        out[c] = [str(words[j]) for j in np.argsort(-dense)[:top] if dense[j] > 0]
    return out


def promote(
    taxonomy: Taxonomy,
    topic: pd.Series,
    theme_id: str,
    department: str,
    journey_stage: str,
    label: str | None = None,
) -> Taxonomy:
    """The taxonomy with the discovered cluster added as a theme (its quotes become examples)."""
    if theme_id in taxonomy.ids:
        raise InputError(f"Theme {theme_id!r} already exists in the taxonomy; choose another id.")
    keywords = list(topic["keywords"])
    theme = Theme(
        id=theme_id,
        label=label or str(topic["label"]).capitalize(),
        description="Discovered theme: " + ", ".join(keywords[:6]),
        department=department,
        journey_stage=journey_stage,
        examples=[str(q) for q in topic["quotes"]],
    )
    return taxonomy.with_theme(theme)
