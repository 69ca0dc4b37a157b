"""Sending an alert digest: e-mail over SMTP, or a JSON POST to a webhook.

This is the one module of `journey` that does I/O, kept at the edge: the CLI and web app call it
with a digest the pure `alerts` module wrote. Settings come from `[journey.alerts]` in
heedful.toml (or HEEDFUL_SMTP_* / HEEDFUL_ALERT_WEBHOOK environment variables).
"""

from __future__ import annotations

import os
import smtplib
from email.message import EmailMessage
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from heedful.errors import ConfigError


class SmtpSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: str
    port: int = 25
    sender: str = "heedful@localhost"
    recipients: list[str] = Field(min_length=1)
    username: str | None = None
    password_env: str | None = Field(default=None, description="name of the env var holding the password")
    starttls: bool = False
    ssl: bool = False
    timeout_s: float = 10.0


class WebhookSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str
    headers: dict[str, str] = Field(default_factory=dict)
    timeout_s: float = 10.0


class DeliverySettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    smtp: SmtpSettings | None = None
    webhook: WebhookSettings | None = None

    @property
    def configured(self) -> bool:
        return self.smtp is not None or self.webhook is not None


def delivery_settings(toml: dict[str, Any]) -> DeliverySettings:
    """Settings from heedful.toml's `[journey.alerts.smtp]` / `[journey.alerts.webhook]`, then env vars."""
    section = dict((toml.get("journey") or {}).get("alerts") or {})  # type: ignore[union-attr]
    env = os.environ
    if "smtp" not in section and env.get("HEEDFUL_SMTP_HOST"):
        section["smtp"] = {
            "host": env["HEEDFUL_SMTP_HOST"],
            "port": int(env.get("HEEDFUL_SMTP_PORT", "25")),
            "sender": env.get("HEEDFUL_SMTP_FROM", "heedful@localhost"),
            "recipients": [r.strip() for r in env.get("HEEDFUL_SMTP_TO", "").split(",") if r.strip()],
            "username": env.get("HEEDFUL_SMTP_USER"),
            "password_env": "HEEDFUL_SMTP_PASSWORD" if env.get("HEEDFUL_SMTP_PASSWORD") else None,
            "starttls": env.get("HEEDFUL_SMTP_STARTTLS", "").lower() in ("1", "true", "yes"),
        }
    if "webhook" not in section and env.get("HEEDFUL_ALERT_WEBHOOK"):
        section["webhook"] = {"url": env["HEEDFUL_ALERT_WEBHOOK"]}
    try:
        return DeliverySettings.model_validate(section)
    except ValidationError as exc:
        raise ConfigError(
            f"[journey.alerts] settings are not valid: {exc.errors()[0]['msg']} at {exc.errors()[0]['loc']}"
        ) from exc


def send_email(settings: SmtpSettings, subject: str, body: str, *, headers: dict[str, str] | None = None) -> None:
    """Send the digest as a plain-text e-mail (with extra `headers`, e.g. a Message-ID to de-duplicate on)."""
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = settings.sender
    message["To"] = ", ".join(settings.recipients)
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(body)
    smtp_class = smtplib.SMTP_SSL if settings.ssl else smtplib.SMTP
    try:
        with smtp_class(settings.host, settings.port, timeout=settings.timeout_s) as smtp:
            if settings.starttls:
                smtp.starttls()
            if settings.username:
                password = os.environ.get(settings.password_env or "", "")
                smtp.login(settings.username, password)
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        raise ConfigError(f"Could not send the alert e-mail via {settings.host}:{settings.port}: {exc}") from exc


def post_webhook(settings: WebhookSettings, payload: dict[str, Any]) -> int:
    """POST the digest as JSON; returns the HTTP status (an error status raises)."""
    try:
        response = httpx.post(settings.url, json=payload, headers=settings.headers, timeout=settings.timeout_s)
    except httpx.HTTPError as exc:
        raise ConfigError(f"Could not reach the alert webhook {settings.url}: {exc}") from exc
    if response.status_code >= 400:
        raise ConfigError(f"The alert webhook {settings.url} answered {response.status_code}: {response.text[:200]}")
    return response.status_code


def deliver(settings: DeliverySettings, subject: str, body: str, payload: dict[str, Any]) -> list[str]:
    """Send by every configured channel; returns the channels used."""
    if not settings.configured:
        raise ConfigError(
            "No alert delivery is configured: add [journey.alerts.smtp] (host, port, recipients) or "
            "[journey.alerts.webhook] (url) to heedful.toml, or set HEEDFUL_SMTP_HOST / HEEDFUL_ALERT_WEBHOOK."
        )
    used = []
    if settings.smtp is not None:
        send_email(settings.smtp, subject, body)
        used.append("smtp")
    if settings.webhook is not None:
        post_webhook(settings.webhook, payload)
        used.append("webhook")
    return used


def email_departments(
    settings: DeliverySettings, digests: dict[str, tuple[str, str]], addresses: dict[str, str]
) -> list[str]:
    """Send each department its own digest (subject, body) at the address stored for it.

    Uses the configured SMTP server; departments without an address, or without alerts, get nothing.
    Returns the departments e-mailed."""
    if settings.smtp is None:
        return []
    sent = []
    for department, (subject, body) in digests.items():
        address = addresses.get(department)
        if not address:
            continue
        send_email(settings.smtp.model_copy(update={"recipients": [address]}), subject, body)
        sent.append(department)
    return sent
