"""Where mail and webhooks go: the settings saved in the web app, else heedful.toml and the environment.

Every sender (case replies, notifications, survey invitations, scheduled reports, alert digests) asks
`delivery_settings(store)`, so a mail server set on the Settings page is used everywhere at once.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from heedful.errors import ConfigError
from heedful.journey.delivery import DeliverySettings
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
