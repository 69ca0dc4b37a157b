"""Tables for notifications (subscriptions and the outbox of messages to send exactly once).

`schema.TABLES` lists them with the rest; `docs/data-model.md` is generated from them.
"""

from __future__ import annotations

from heedful.store.tables import Table

NOTIFY_TABLES: tuple[Table, ...] = ()
