"""Tables for background work (job runs and their progress; scheduled jobs run once per period).

`schema.TABLES` lists them with the rest; `docs/data-model.md` is generated from them.
"""

from __future__ import annotations

from heedful.store.tables import Table

JOB_TABLES: tuple[Table, ...] = ()
