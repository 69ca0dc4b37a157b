"""A parsed `--db` URL: which backend, and where. Imports nothing heavy (`store.light` and the CLI use it)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlparse

from heedful.errors import ConfigError

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class DatabaseURL:
    """A parsed `--db` URL."""

    dialect: str  # "duckdb" | "postgres"
    path: str | None = None  # duckdb file, or ":memory:"
    host: str = "127.0.0.1"
    port: int = 5432
    user: str | None = None
    password: str | None = None
    database: str = "test"
    schema: str | None = None

    @classmethod
    def parse(cls, url: str) -> DatabaseURL:
        if url.startswith("duckdb:"):
            rest = url[len("duckdb:") :]
            rest = rest[2:] if rest.startswith("//") else rest
            if rest.startswith("/"):
                rest = rest[1:]  # duckdb:///rel.duckdb -> rel.duckdb; duckdb:////abs -> /abs
            return cls("duckdb", path=rest or ":memory:")
        parsed = urlparse(url)
        if parsed.scheme in ("postgresql", "postgres", "postgresql+psycopg"):
            query = parse_qs(parsed.query)
            schema = query.get("schema", [None])[0]
            if schema is not None and not _IDENT.match(schema):
                raise ConfigError(f"Schema name {schema!r} in the database URL must be a plain identifier.")
            return cls(
                "postgres",
                host=parsed.hostname or "127.0.0.1",
                port=parsed.port or 5432,
                user=unquote(parsed.username) if parsed.username else None,
                password=unquote(parsed.password) if parsed.password else None,
                database=(parsed.path or "/").lstrip("/") or "postgres",
                schema=schema,
            )
        if parsed.scheme == "spark":
            raise ConfigError("Spark URLs are for analytics over large data; use DuckDB or PostgreSQL as the store.")
        raise ConfigError(
            f"Unsupported database URL {url!r}. Use duckdb:///path/to/file.duckdb or "
            "postgresql://user@host:5432/dbname[?schema=name]."
        )
