"""Store I/O for settings changed in the web app (`app_settings`: one JSON value per key).

Which keys exist and what their values mean is the services' business; this module only reads and writes.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from heedful.store.backend import Store


def get_setting(store: Store, key: str) -> Any | None:
    """The stored value of `key` (parsed JSON), or None when it was never set."""
    rows = store.fetchall("SELECT value FROM app_settings WHERE key = ?", [key])
    if not rows or rows[0][0] is None:
        return None
    value = rows[0][0]
    return json.loads(value) if isinstance(value, str) else value


def put_setting(store: Store, key: str, value: Any, actor: str) -> None:
    """Store `value` (JSON-serialisable) under `key`, replacing what was there, with who and when."""
    now = datetime.now(UTC).replace(tzinfo=None)
    with store.transaction():
        store.execute("DELETE FROM app_settings WHERE key = ?", [key])
        store.execute(
            "INSERT INTO app_settings (key, value, updated_at, updated_by) VALUES (?, ?, ?, ?)",
            [key, json.dumps(value, ensure_ascii=False), now, actor],
        )


def delete_setting(store: Store, key: str) -> None:
    """Forget `key`: the fallback (heedful.toml, environment) applies again."""
    store.execute("DELETE FROM app_settings WHERE key = ?", [key])
