"""Schema migrations: numbered, applied once each, recorded in `schema_migrations`.

Version ranges by area keep parallel work apart: 1-99 store/ingest, 300s value, 400s listen,
500s web, 600s surveys, 700s retain, 800s advocacy, 900s journey, 1000s cases. Every migration must be
idempotent (CREATE … IF NOT EXISTS, ADD COLUMN IF NOT EXISTS) because migration 1 creates the
tables as `schema.py` defines them today.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from heedful.store.schema import TABLES, TABLES_BY_NAME

if TYPE_CHECKING:
    from heedful.store.backend import Store


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    apply: Callable[[Store], None]


def ensure_tables(store: Store, names: list[str] | None = None) -> None:
    """Create the named canonical tables (all when None) if they do not exist."""
    for table in TABLES if names is None else [TABLES_BY_NAME[n] for n in names]:
        store.execute(table.ddl(store.dialect))


def add_column(store: Store, table: str, column: str) -> None:
    """Add one column of a canonical table (as `schema.py` defines it) if it is missing."""
    col = next(c for c in TABLES_BY_NAME[table].columns if c.name == column)
    store.execute(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {col.ddl(store.dialect)}")


def _initial(store: Store) -> None:
    ensure_tables(store)


def _drop_declared_key(store: Store, table: str) -> None:
    """DuckDB: rebuild `table` without its declared primary key, keeping its rows, columns and indexes.

    For tables whose key the Store keeps unique (`Table.key_kept_by_store_on_duckdb`): DuckDB cannot
    drop a primary key in place. PostgreSQL keeps its key; a table already without one is left alone.
    """
    if store.dialect != "duckdb":
        return
    declared = store.fetchall(
        "SELECT COUNT(*) FROM duckdb_constraints() WHERE database_name = current_database() "
        "AND schema_name = 'main' AND table_name = ? AND constraint_type = 'PRIMARY KEY'",
        [table],
    )
    if not declared[0][0]:
        return
    indexes = store.fetchall(
        "SELECT sql FROM duckdb_indexes() WHERE database_name = current_database() AND schema_name = 'main' "
        "AND table_name = ? AND sql IS NOT NULL",
        [table],
    )
    columns = store.fetchall(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'main' "
        "AND table_name = ? ORDER BY ordinal_position",
        [table],
    )
    rebuilt = f"_hf_rebuild_{table}"
    canonical = TABLES_BY_NAME[table]
    store.execute("SET enable_progress_bar = false")  # DuckDB would draw one on stdout (`db migrate --json`)
    store.execute(f"DROP TABLE IF EXISTS {rebuilt}")
    store.execute(replace(canonical, name=rebuilt).ddl(store.dialect))
    for name, data_type in columns:
        if name not in canonical.column_names:  # a column added outside the canonical schema stays
            store.execute(f'ALTER TABLE {rebuilt} ADD COLUMN "{name}" {data_type}')
    names = ", ".join(f'"{name}"' for name, _ in columns)
    store.execute(f"INSERT INTO {rebuilt} ({names}) SELECT {names} FROM {table}")
    for (sql,) in indexes:
        store.execute(f"DROP INDEX IF EXISTS {_index_name(sql)}")
    store.execute(f"DROP TABLE {table}")
    store.execute(f"ALTER TABLE {rebuilt} RENAME TO {table}")
    for (sql,) in indexes:
        store.execute(sql)


def _index_name(create_sql: str) -> str:
    """The index name in a `CREATE [UNIQUE] INDEX name ON …` statement."""
    words = create_sql.split()
    return words[words.index("INDEX") + 1]


def _advocacy(store: Store) -> None:
    ensure_tables(store, ["advocates", "stories"])
    for table, column in [("rewards", "period"), ("rewards", "order_id"), ("peer_matches", "arm")]:
        add_column(store, table, column)
    for column in ("reason", "introduced_at", "outcome_at"):
        add_column(store, "peer_matches", column)


def _web_customer_indexes(store: Store) -> None:
    # The customer profile reads one customer's orders, feedback, responses and referrals; without
    # these a profile scans every order line (about a second on 10M lines).
    for table, column in (
        ("orders", "customer_id"),
        ("feedback", "customer_id"),
        ("responses", "customer_id"),
        ("referrals", "advocate_id"),
    ):
        store.execute(f"CREATE INDEX IF NOT EXISTS {table}_{column}_idx ON {table} ({column})")


def _notifications(store: Store) -> None:
    ensure_tables(store, ["subscriptions", "outbox"])
    # the sender's "what is due" and the overdue check's "already told about this case?"
    store.execute("CREATE INDEX IF NOT EXISTS outbox_due_idx ON outbox (status, next_attempt_at)")
    store.execute("CREATE INDEX IF NOT EXISTS outbox_subject_idx ON outbox (event, subject_id)")


def _survey_invites(store: Store) -> None:
    ensure_tables(store, ["invite_batches", "survey_unsubscribes"])
    for column in (
        "batch_id",
        "email",
        "status",
        "sent_at",
        "opened_at",
        "reminded_at",
        "reminder_token_hash",
        "error",
    ):
        add_column(store, "invitations", column)
    # the reminder's link is looked up by its hash, and an invitation page lists a survey's invitations
    store.execute("CREATE INDEX IF NOT EXISTS invitations_reminder_idx ON invitations (reminder_token_hash)")
    store.execute("CREATE INDEX IF NOT EXISTS invitations_slug_idx ON invitations (slug)")


MIGRATIONS: list[Migration] = [
    Migration(1, "canonical schema: customers, orders, feedback, surveys, … quarantine", _initial),
    Migration(
        2,
        "orders: no primary-key index on DuckDB (bulk imports); the store keeps order_line_id unique",
        lambda s: _drop_declared_key(s, "orders"),
    ),
    Migration(
        310,
        "value: customer_value.horizon_months (pages name the months a stored CLV covers)",
        lambda s: add_column(s, "customer_value", "horizon_months"),
    ),
    Migration(400, "listen: feedback_enriched.language", lambda s: add_column(s, "feedback_enriched", "language")),
    Migration(500, "web: audit_log, api_tokens", lambda s: ensure_tables(s, ["audit_log", "api_tokens"])),
    Migration(
        501, "web: indexes for per-customer look-ups (profile page < 100 ms on 10M orders)", _web_customer_indexes
    ),
    Migration(
        502,
        "web: users.sessions_after (sign-out, password and role changes end sessions on the server)",
        lambda s: add_column(s, "users", "sessions_after"),
    ),
    Migration(
        503,
        "web: users.department (department members work their department's cases)",
        lambda s: add_column(s, "users", "department"),
    ),
    Migration(700, "retain: churn_scores, offers", lambda s: ensure_tables(s, ["churn_scores", "offers"])),
    Migration(
        710, "retain: churn_runs (each scoring run's out-of-fold quality)", lambda s: ensure_tables(s, ["churn_runs"])
    ),
    Migration(800, "advocacy: advocates, stories; rewards period/order_id; peer_matches arm/reason/times", _advocacy),
    Migration(
        900,
        "journey: operations, metric_values, alerts",
        lambda s: ensure_tables(s, ["operations", "metric_values", "alerts"]),
    ),
    Migration(1000, "cases: cases, case_events", lambda s: ensure_tables(s, ["cases", "case_events"])),
    Migration(
        1001,
        "cases: cases.holdout (a random share of new cases is not followed up, to measure whether following up works)",
        lambda s: add_column(s, "cases", "holdout"),
    ),
    Migration(
        1002,
        "settings: app_settings (mail server and case rules set in the web app)",
        lambda s: ensure_tables(s, ["app_settings"]),
    ),
    Migration(
        1020,
        "jobs: jobs, job_runs (background work and scheduled runs)",
        lambda s: ensure_tables(s, ["jobs", "job_runs"]),
    ),
    Migration(
        1010,
        "notifications: subscriptions, outbox (each notification sent exactly once)",
        _notifications,
    ),
    Migration(
        610,
        "surveys: e-mailed invitations (invite_batches, survey_unsubscribes; invitations status, opened, reminder)",
        _survey_invites,
    ),
]


def applied_versions(store: Store) -> set[int]:
    store.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        "version BIGINT PRIMARY KEY, description TEXT NOT NULL, applied_at TIMESTAMP NOT NULL)"
    )
    return {int(r[0]) for r in store.fetchall("SELECT version FROM schema_migrations")}


def migrate(store: Store) -> list[int]:
    """Apply every migration not applied yet, in version order; returns the versions applied now."""
    done = applied_versions(store)
    applied: list[int] = []
    for migration in sorted(MIGRATIONS, key=lambda m: m.version):
        if migration.version in done:
            continue
        with store.transaction():
            migration.apply(store)
            store.execute(
                "INSERT INTO schema_migrations VALUES (?, ?, ?)",
                [migration.version, migration.description, datetime.now(UTC).replace(tzinfo=None)],
            )
        applied.append(migration.version)
    return applied


def current_version(store: Store) -> int:
    versions = applied_versions(store)
    return max(versions) if versions else 0
