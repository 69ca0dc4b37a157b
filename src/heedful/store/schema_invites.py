"""Tables for survey invitations sent from the web app (delivery status, reminders, unsubscribes).

`schema.TABLES` lists them with the rest; `docs/data-model.md` is generated from them.
"""

from __future__ import annotations

from heedful.store.tables import Table

INVITE_TABLES: tuple[Table, ...] = ()
