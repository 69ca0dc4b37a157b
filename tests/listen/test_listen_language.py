"""Which texts are flagged as not English: the plainly-English shortcut never hides another language."""

from __future__ import annotations

import pytest

from heedful.listen import language
from heedful.listen.language import non_english, plainly_english

# one review, in languages whose function words look most like English ones
OTHER_LANGUAGES = {
    "de": "Das Kleid ist wirklich schön, aber der Reißverschluss war nach einer Wäsche kaputt und so weiter.",
    "es": "El vestido es muy bonito pero la cremallera se rompió después de un lavado y el envío tardó mucho.",
    "fr": "La robe est très jolie mais la fermeture éclair a cassé après un lavage et la livraison était lente.",
    "it": "Il vestito è molto bello ma la cerniera si è rotta dopo un lavaggio e la spedizione è stata lenta.",
    "pt": "O vestido é muito bonito mas o zíper quebrou depois de uma lavagem e a entrega demorou muito.",
    "nl": "De jurk is heel mooi maar de rits was na een wasbeurt kapot en de levering duurde lang, het is zo.",
    "sv": "Klänningen är jättefin men dragkedjan gick sönder efter en tvätt och leveransen tog lång tid.",
    "da": "Kjolen er meget flot men lynlåsen gik i stykker efter en vask og leveringen tog lang tid for mig.",
    "pl": "Sukienka jest bardzo ładna ale zamek zepsuł się po jednym praniu i dostawa trwała długo, to jest to.",
}


@pytest.mark.parametrize("code", sorted(OTHER_LANGUAGES))
def test_other_languages_are_not_taken_for_plain_english_and_stay_flagged(code: str) -> None:
    text = OTHER_LANGUAGES[code]
    assert not plainly_english(text)
    assert non_english(text) == code


def test_plain_english_is_settled_without_the_model(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_model() -> None:
        raise AssertionError("the language model was asked")

    monkeypatch.setattr(language, "_identifier", no_model)
    for text in (
        "Love this dress! it's sooo pretty and the fabric is soft, but the zipper broke after one wash.",
        "The delivery was late and nobody answered my emails, which is not what I expected.",
        "I don’t think they have the size that would fit me.",
    ):
        assert plainly_english(text) and non_english(text) is None


def test_english_with_few_function_words_is_still_asked() -> None:
    text = "Gorgeous top! Runs true to size. Soft fabric, lovely colour."
    assert not plainly_english(text)
    assert non_english(text) is None  # the model says English
