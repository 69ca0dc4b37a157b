"""A text's result must not depend on the texts it is classified with (the int8 encoder quantises its
activations per call, so the reader reads every text and every pair alone), nor on how many threads read."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from heedful.listen.classify import Classifier
from heedful.listen.reader import ENCODER_FILE, Reader, load_reader

TEXTS = [
    "The food was good, but not worth the wait or the lousy service.",
    "Love the dress, but the zipper broke after one wash.",
    "Runs small. I ordered my usual size and could not zip it up.",
    "Delivery took three weeks and nobody answered my emails.",
    "ok",
    "The fabric is cheap and see-through; returned it the same day. " * 12,  # several hundred pieces
    "Great price for such a soft sweater, and it came the next day.",
    "Fit is perfect, colour is lovely, staff in the shop were very helpful.",
]
# texts that, read in one call with the ones above, would change the int8 activation scale: long, loud
# and full of rare pieces
NEIGHBOURS = [
    "!!!!!! ABSOLUTELY HORRIBLE!!!!! WORST. PURCHASE. EVER. $$$$ 1000000000 %%%% " * 20,
    "Supercalifragilisticexpialidocious antidisestablishmentarianism pneumonoultramicroscopic",
    "",
]


def test_a_texts_labels_do_not_depend_on_its_neighbours(classifier: Classifier) -> None:
    together = classifier.classify(TEXTS)
    alone = pd.concat([classifier.classify([t]) for t in TEXTS], ignore_index=True)
    mixed = classifier.classify([*NEIGHBOURS[:2], *reversed(TEXTS), NEIGHBOURS[2]])
    mixed = mixed.iloc[2:-1].iloc[::-1].reset_index(drop=True)
    pd.testing.assert_frame_equal(together, alone)
    pd.testing.assert_frame_equal(together, mixed)


def test_the_reader_gives_each_text_the_same_vectors_in_any_company() -> None:
    reader = load_reader()
    alone = [reader.read([t]) for t in TEXTS]
    together = reader.read([*NEIGHBOURS, *TEXTS])
    for i, one in enumerate(alone):
        windows = np.flatnonzero(together.text_of == i + len(NEIGHBOURS))
        assert len(windows) == len(one.states)
        for w, state in zip(windows.tolist(), one.states, strict=True):
            assert np.array_equal(together.states[w], state)
    pairs = reader.first_of_pairs([*TEXTS, TEXTS[0]], ["Food", *["Staff"] * (len(TEXTS) - 1), "Food"])
    assert np.array_equal(pairs[0], pairs[-1])
    assert np.array_equal(pairs[0], reader.first_of_pairs([TEXTS[0]], ["Food"])[0])


def test_one_thread_reads_what_several_threads_read() -> None:
    path = resources.files("heedful.listen").joinpath("models", ENCODER_FILE)
    with resources.as_file(path) as file:
        single = Reader(Path(file), threads=1)
    several = load_reader()
    assert single.threads == 1
    a, b = single.read(TEXTS), several.read(TEXTS)
    assert all(np.array_equal(x, y) for x, y in zip(a.states, b.states, strict=True))
    assert np.array_equal(
        single.first_of_pairs(TEXTS, ["Fit"] * len(TEXTS)), several.first_of_pairs(TEXTS, ["Fit"] * len(TEXTS))
    )


def test_texts_in_other_languages_and_unsure_ones_keep_their_place_and_their_rows(classifier: Classifier) -> None:
    """`classify` reads the texts plainly in English while the language model loads, then the others: each
    row stays where its text was and is what the text alone gives."""
    texts = [
        TEXTS[0],
        "La robe est très jolie mais la fermeture éclair s'est cassée après un lavage.",
        "Gorgeous top! Runs true to size. Soft fabric, lovely colour.",  # not plainly English: asked, English
        TEXTS[3],
        "Das Kleid ist sehr schön, aber der Reißverschluss ist nach einer Wäsche kaputt gegangen.",
        "ok",
    ]
    together = classifier.classify(texts)
    alone = pd.concat([classifier.classify([t]) for t in texts], ignore_index=True)
    pd.testing.assert_frame_equal(together, alone)
    assert together["language"].tolist() == [None, "fr", None, None, "de", None]
    assert together.loc[2, "themes"] and together.loc[2, "sentiment"] == "positive"
    assert together.loc[[1, 4], "themes"].map(len).tolist() == [0, 0]
