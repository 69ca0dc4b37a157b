"""Backup from the running app: the archive `heedful backup` writes (`heedful.store.backup`), taken
through the server's own store connection (so it works while the server holds a DuckDB file) into a
temporary folder for download, and recorded in the audit log."""

from __future__ import annotations

import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from heedful.services import accounts
from heedful.services.accounts import UserPublic
from heedful.store import Store
from heedful.store.backup import BackupResult, backup


def backup_for_download(store: Store, *, user: UserPublic, ip: str | None = None) -> tuple[Path, BackupResult]:
    """Write a backup archive of `store` into a new temporary folder; returns the archive's path (the
    caller removes its folder, `path.parent`, once sent) and the result. Audit row `store.backup`
    with the table and row counts."""
    folder = Path(tempfile.mkdtemp(prefix="heedful-download-"))
    path = folder / f"heedful-backup-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.zip"
    try:
        result = backup(store, path)
        doc = result.to_dict()
        accounts.record_audit(
            store,
            "store.backup",
            user=user,
            target=path.name,
            detail={"tables": len(doc["tables"]), "rows": doc["rows"], "schema_version": doc["schema_version"]},
            ip=ip,
        )
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return path, result
