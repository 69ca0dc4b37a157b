from __future__ import annotations

from heedful.listen.pii import luhn_valid, redact


def test_email_phone_and_card_are_redacted() -> None:
    text = "Mail me at jane.doe@example.com or call +44 20 7946 0958. Card 4111 1111 1111 1111 was charged."
    out = redact(text)
    assert "[EMAIL]" in out and "jane.doe" not in out
    assert "[PHONE]" in out and "7946" not in out
    assert "[CARD]" in out and "4111" not in out


def test_numbers_failing_luhn_are_not_cards() -> None:
    assert luhn_valid("4111111111111111")
    assert not luhn_valid("4111111111111112")
    assert "[CARD]" not in redact("tracking 4111 1111 1111 1112")


def test_short_numbers_such_as_order_ids_and_prices_stay() -> None:
    text = "Order 12345 cost $59.99 and took 3 weeks."
    assert redact(text) == text


def test_names_after_introductions_and_greetings_are_redacted() -> None:
    out = redact("Hi Anna, my name is John Smith and the agent Peter was great. Thanks, Maria")
    assert "John" not in out and "Smith" not in out
    assert "Anna" not in out and "Peter" not in out and "Maria" not in out
    assert out.count("[NAME]") == 4


def test_feelings_after_i_am_are_not_names() -> None:
    assert redact("I am Happy with it. I'm so pleased.") == "I am Happy with it. I'm so pleased."


def test_opting_out_of_name_redaction_keeps_names() -> None:
    assert "John" in redact("my name is John", names=False)
