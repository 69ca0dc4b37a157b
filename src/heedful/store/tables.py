"""How a stored table is described: columns with portable types and meanings, keys, DDL per dialect.

`store/schema.py` lists heedful's tables with these; `docs/data-model.md` is generated from them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Portable column types -> (DuckDB, PostgreSQL) SQL types.
SQL_TYPES: dict[str, tuple[str, str]] = {
    "text": ("VARCHAR", "TEXT"),
    "int": ("BIGINT", "BIGINT"),
    "float": ("DOUBLE", "DOUBLE PRECISION"),
    "bool": ("BOOLEAN", "BOOLEAN"),
    "timestamp": ("TIMESTAMP", "TIMESTAMP"),
    "date": ("DATE", "DATE"),
    "json": ("VARCHAR", "TEXT"),  # JSON documents stored as text: portable across every backend
}


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    doc: str
    nullable: bool = True

    def ddl(self, dialect: str) -> str:
        sql_type = SQL_TYPES[self.type][0 if dialect == "duckdb" else 1]
        # Quoted so that mixed-case names from the literature (the BTYD `T`) keep their case on PostgreSQL.
        return f'"{self.name}" {sql_type}{"" if self.nullable else " NOT NULL"}'


@dataclass(frozen=True)
class Table:
    name: str
    doc: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    unique: tuple[tuple[str, ...], ...] = field(default_factory=tuple)
    # DuckDB only: the primary key is not declared (an ART index maintained row by row would dominate
    # bulk imports and must fit in memory); `Store` keeps it unique with set-based inserts instead.
    key_kept_by_store_on_duckdb: bool = False

    def declares_key(self, dialect: str) -> bool:
        """Whether the database itself enforces the primary key on `dialect`."""
        return not (dialect == "duckdb" and self.key_kept_by_store_on_duckdb)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def ddl(self, dialect: str, schema: str | None = None) -> str:
        qualified = f"{schema}.{self.name}" if schema else self.name
        parts = [c.ddl(dialect) for c in self.columns]
        if self.declares_key(dialect):
            parts.append(f"PRIMARY KEY ({quoted(self.primary_key)})")
        parts.extend(f"UNIQUE ({quoted(u)})" for u in self.unique)
        body = ",\n  ".join(parts)
        return f"CREATE TABLE IF NOT EXISTS {qualified} (\n  {body}\n)"


def quoted(names: tuple[str, ...]) -> str:
    return ", ".join(f'"{n}"' for n in names)


def column(name: str, type_: str, doc: str, nullable: bool = True) -> Column:
    """A column: name, portable type (a key of SQL_TYPES), meaning, whether it may be NULL."""
    return Column(name, type_, doc, nullable)


def provenance() -> tuple[Column, ...]:
    """Every row records where it came from."""
    return (
        column("source", "text", "system or preset the row came from (e.g. online-retail, trustpilot, web)"),
        column("source_file", "text", "file name the row was imported from, if any"),
        column("source_line", "int", "1-based line (or record number) in that file"),
        column("import_id", "text", "the import that created the row (imports.import_id)"),
    )
