"""Alert delivery against local receivers: an SMTP server (aiosmtpd) and an HTTP webhook on 127.0.0.1."""

from __future__ import annotations

from email import message_from_bytes
from typing import Any

import pytest

from heedful.errors import ConfigError
from heedful.journey.alerts import Alert, digest_payload, digest_text
from heedful.journey.delivery import (
    DeliverySettings,
    SmtpSettings,
    WebhookSettings,
    deliver,
    delivery_settings,
)

ALERT = Alert(
    kind="need_worsened",
    severity="high",
    audience="external",
    subject="on_time_delivery/delivery_feedback",
    period="2026-10",
    title="“My order arrives on time” got worse: 70% → 45%",
    detail="Positive feedback on delivery: 70% (n=200) in 2026-09, 45% (n=190) in 2026-10.",
    need_id="on_time_delivery",
    department_id="delivery",
)


def test_digest_is_sent_by_smtp_to_every_recipient(smtp_inbox: tuple[int, list[Any]]) -> None:
    port, received = smtp_inbox
    settings = DeliverySettings(
        smtp=SmtpSettings(
            host="127.0.0.1", port=port, sender="heedful@example.com", recipients=["a@example.com", "b@example.com"]
        )
    )
    used = deliver(settings, "heedful: 1 alert", digest_text([ALERT], "2026-10"), digest_payload([ALERT], "2026-10"))
    assert used == ["smtp"]
    assert len(received) == 1
    envelope = received[0]
    assert envelope.rcpt_tos == ["a@example.com", "b@example.com"]
    message = message_from_bytes(envelope.content)
    assert message["Subject"] == "heedful: 1 alert"
    assert "got worse" in message.get_payload(decode=True).decode()


def test_digest_is_posted_as_json_to_the_webhook(webhook_inbox: tuple[str, list[dict[str, Any]]]) -> None:
    base, received = webhook_inbox
    settings = DeliverySettings(webhook=WebhookSettings(url=f"{base}/ok", headers={"X-Token": "s3cret"}))
    used = deliver(settings, "s", "b", digest_payload([ALERT], "2026-10"))
    assert used == ["webhook"]
    assert received[0]["json"]["count"] == 1
    assert received[0]["json"]["alerts"][0]["subject"] == ALERT.subject
    assert received[0]["headers"]["X-Token"] == "s3cret"


def test_a_failing_webhook_is_a_clear_error(webhook_inbox: tuple[str, list[dict[str, Any]]]) -> None:
    base, _ = webhook_inbox
    with pytest.raises(ConfigError, match="answered 500"):
        deliver(DeliverySettings(webhook=WebhookSettings(url=f"{base}/broken")), "s", "b", {})


def test_unreachable_smtp_server_is_a_clear_error() -> None:
    settings = DeliverySettings(smtp=SmtpSettings(host="127.0.0.1", port=1, recipients=["a@example.com"], timeout_s=2))
    with pytest.raises(ConfigError, match="Could not send"):
        deliver(settings, "s", "b", {})


def test_settings_come_from_heedful_toml_or_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HEEDFUL_SMTP_HOST", raising=False)
    monkeypatch.delenv("HEEDFUL_ALERT_WEBHOOK", raising=False)
    with pytest.raises(ConfigError, match="No alert delivery is configured"):
        deliver(delivery_settings({}), "s", "b", {})
    toml = {"journey": {"alerts": {"webhook": {"url": "http://127.0.0.1:9/x"}}}}
    assert delivery_settings(toml).webhook is not None
    monkeypatch.setenv("HEEDFUL_SMTP_HOST", "mail.example.com")
    monkeypatch.setenv("HEEDFUL_SMTP_TO", "ops@example.com, cx@example.com")
    smtp = delivery_settings({}).smtp
    assert smtp is not None and smtp.recipients == ["ops@example.com", "cx@example.com"]
    with pytest.raises(ConfigError, match="not valid"):
        delivery_settings({"journey": {"alerts": {"smtp": {"host": "x"}}}})
