"""Where mail and webhooks go: the settings saved in the web app, else heedful.toml and the environment.

Every sender (case replies, notifications, survey invitations, scheduled reports, alert digests) asks
`delivery_settings(store)`, so a mail server set on the Settings page is used everywhere at once.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
from typing import Any

from pydantic import ValidationError

from heedful.errors import ConfigError
from heedful.journey.delivery import DeliverySettings, send_email
from heedful.journey.delivery import delivery_settings as file_delivery_settings
from heedful.store.backend import Store
from heedful.store.settings_repo import delete_setting, get_setting, put_setting

KEY = "mail"


def delivery_settings(store: Store | None = None) -> DeliverySettings:
    """The mail server and webhook to use: the store's (set in the web app), else heedful.toml's
    `[journey.alerts]`, else HEEDFUL_SMTP_* / HEEDFUL_ALERT_WEBHOOK. Empty when none is set (mail off)."""
    if store is not None:
        saved = get_setting(store, KEY)
        if saved:
            try:
                return DeliverySettings.model_validate(saved)
            except ValidationError as exc:
                raise ConfigError(f"The saved mail settings are not valid: {exc.errors()[0]['msg']}") from exc
    from heedful.config import load_settings

    return file_delivery_settings(load_settings().extra)


def save_delivery_settings(store: Store, values: dict[str, Any], actor: str) -> DeliverySettings:
    """Validate and save mail/webhook settings (the same shape as `[journey.alerts]`); they win over the file."""
    try:
        settings = DeliverySettings.model_validate(values)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ConfigError(f"Mail settings: {where}: {first['msg']}") from exc
    put_setting(store, KEY, settings.model_dump(mode="json", exclude_none=True), actor)
    return settings


def forget_delivery_settings(store: Store) -> None:
    """Drop the saved settings: heedful.toml and the environment apply again."""
    delete_setting(store, KEY)


def saved_delivery_settings(store: Store) -> DeliverySettings | None:
    """The settings saved in the web app, or None when heedful.toml / the environment apply."""
    saved = get_setting(store, KEY)
    return DeliverySettings.model_validate(saved) if saved else None


def smtp_words(error: BaseException | None) -> str:
    """An SMTP or network failure in words, as a phrase ("the mail server answered 550 …"; no Python reprs of
    byte strings): the one wording of a failed send, for case replies, invitations, notifications and tests."""
    if isinstance(error, smtplib.SMTPRecipientsRefused) and error.recipients:
        code, text = next(iter(error.recipients.values()))
        said = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
        return f"the mail server refused the address ({code} {said})"
    if isinstance(error, smtplib.SMTPResponseException):
        raw = error.smtp_error
        answer = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        return f"the mail server answered {error.smtp_code} {answer}".strip()
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return "the mail server refused the recipient"
    if isinstance(error, ConnectionRefusedError):
        return "nothing answers at the mail server's host and port (connection refused)"
    if isinstance(error, socket.gaierror):
        return "the mail server's host name is not known"
    if isinstance(error, TimeoutError | socket.timeout):
        return "the mail server did not answer in time"
    if isinstance(error, ssl.SSLError):
        return f"the secure connection failed ({error.reason or error})"
    if isinstance(error, OSError):
        return f"the mail server could not be reached ({error.strerror or error})"
    return str(error) if error is not None else "unknown error"


def sentence(phrase: str) -> str:
    """A phrase from `smtp_words` as a sentence: capitalised, with a full stop."""
    phrase = phrase.strip()
    return (phrase[:1].upper() + phrase[1:]).rstrip(".") + "." if phrase else phrase


def send_test_message(store: Store, to: str) -> str:
    """Send a short test e-mail to `to` with the settings in use; returns the server used ("host:port").
    ConfigError says in words why it could not be sent (mail off, refused, wrong password …)."""
    smtp = delivery_settings(store).smtp
    if smtp is None:
        raise ConfigError("Mail is off: no SMTP settings.")
    server = f"{smtp.host}:{smtp.port}"
    body = "This is a test message from heedful: replies to customers and notifications will be sent this way."
    try:
        send_email(smtp.model_copy(update={"recipients": [to]}), "heedful test message", body)
    except ConfigError as exc:
        raise ConfigError(f"The test message could not be sent via {server}: {smtp_words(exc.__cause__)}.") from exc
    return server
