"""SQL that turns a source's text columns into canonical rows plus an `_error` per row.

All parsing and validation is one vectorised DuckDB SELECT (no Python per row). The SELECT
reuses earlier column aliases (a DuckDB feature), so each step reads top to bottom: take the
text of each field, parse it, decide the row's first error, then build the output columns.
Every helper alias starts with `_hf_` so it cannot collide with a source column.
"""

from __future__ import annotations

from dataclasses import dataclass

from heedful.ingest.mapping import FieldSource
from heedful.ingest.presets import Preset
from heedful.ingest.sources import Source, quote_ident, quote_literal
from heedful.store.schema import CUSTOMER_KINDS

TRUTHY = ("true", "t", "yes", "y", "1", "x", "return", "returned")


BATCH_VIEW = "_hf_batch"
"""The name under which each batch of source rows is registered when `Plan.sql` runs over it."""


@dataclass
class Plan:
    """Two steps: `source_sql` streams the source rows (with `_line`) in batches; `sql`, run over one
    batch registered as `BATCH_VIEW`, produces the entity's columns, `_error`, `_raw` and `source_line`."""

    sql: str
    output_columns: list[str]  # canonical columns in the output
    constants: dict[str, str]  # provenance columns with one value for the whole import (added when storing)
    extra_columns: list[str]  # helper outputs (e.g. `_email`) not stored in the entity table
    source_sql: str = ""


class _Builder:
    def __init__(self, source: Source, fields: dict[str, FieldSource], preset: Preset) -> None:
        self.source = source
        self.fields = fields
        self.preset = preset
        self.items: list[tuple[str, str]] = []
        self.lookups: list[tuple[str, str, str]] = []  # (join alias, key expression, value expression)

    def add(self, alias: str, expr: str) -> str:
        self.items.append((alias, expr))
        return alias

    def parsed_once(self, alias: str, text_alias: str, parse: str) -> str:
        """Alias `alias`: `parse` (an expression over `_hf_k`) applied to the text of `text_alias`,
        computed once per distinct value of the batch and joined back.

        Parsing dates is the costliest step of validation (a list of formats tried in turn), and
        export files repeat the same values (all lines of an invoice share its time); numbers
        repeat too, and their cleaning regexps would otherwise run on every row.
        """
        key = dict(self.items)[text_alias]
        join = f"_hf_lk_{len(self.lookups)}"
        self.lookups.append((join, key, parse))
        return self.add(alias, f"{join}._hf_v")

    def text(self, name: str, *, upper: bool = False, use_constant: bool = True) -> str:
        """Alias `_hf_s_<name>`: the field's text (NULL when empty or absent), constants as fallback."""
        alias = f"_hf_s_{name}"
        if any(a == alias for a, _ in self.items):
            return alias
        fs = self.fields.get(name)
        const = self.preset.constants.get(name) if use_constant else None
        if fs is None:
            expr = "CAST(NULL AS VARCHAR)" if const is None else quote_literal(str(const))
        else:
            if len(fs.columns) == 1:
                expr = self.source.value_sql(fs.columns[0])
            else:
                parts = []
                for col in fs.columns:
                    value = self.source.value_sql(col)
                    if fs.labelled:
                        parts.append(
                            f"CASE WHEN {value} IS NOT NULL THEN {quote_literal(col.title() + ': ')} || {value} END"
                        )
                    else:
                        parts.append(value)
                expr = f"NULLIF(concat_ws({quote_literal(fs.separator)}, {', '.join(parts)}), '')"
            if self.preset.strip_float_ids and name in ("order_id", "customer_id"):
                expr = f"regexp_replace({expr}, '\\.0+$', '')"
            if const is not None:
                expr = f"COALESCE({expr}, {quote_literal(str(const))})"
        if upper:
            expr = f"upper({expr})"
        return self.add(alias, expr)

    def column_of(self, name: str) -> str:
        fs = self.fields.get(name)
        return fs.columns[0] if fs else name

    def sql(self, outputs: list[tuple[str, str]]) -> str:
        select = [f"{expr} AS {alias}" for alias, expr in self.items]
        select += [f"{expr} AS {quote_ident(name)}" for name, expr in outputs]
        joins = "".join(
            f" LEFT JOIN (SELECT _hf_k, {parse} AS _hf_v FROM (SELECT DISTINCT {key} AS _hf_k FROM {BATCH_VIEW})) "
            f"AS {join} ON {join}._hf_k = {key}"
            for join, key, parse in self.lookups
        )
        steps = f"SELECT _line AS source_line, {', '.join(select)} FROM {BATCH_VIEW}{joins}"
        # Only the outputs leave DuckDB: the `_hf_` steps would double the Arrow batches' width.
        names = ", ".join(quote_ident(name) for name, _ in outputs)
        return f"SELECT source_line, {names} FROM ({steps})"


def number(x: str) -> str:
    """Text -> DOUBLE: plain numbers, decimal commas ('2,55'), currency signs and thousands separators."""
    y = f"regexp_replace({x}, '[£$€\\s]', '', 'g')"
    cleaned = (
        f"CASE WHEN regexp_full_match({y}, '[+-]?[0-9]+,[0-9]{{1,2}}') THEN replace({y}, ',', '.') "
        f"WHEN regexp_full_match({y}, '[+-]?[0-9]{{1,3}}(,[0-9]{{3}})+([.][0-9]+)?') THEN replace({y}, ',', '') "
        f"ELSE {y} END"
    )
    return f"COALESCE(TRY_CAST({x} AS DOUBLE), TRY_CAST({cleaned} AS DOUBLE))"


def timestamp(x: str, formats: tuple[str, ...]) -> str:
    """Text -> TIMESTAMP (UTC for values with an offset, wall-clock otherwise); NULL when unparseable."""
    naive = [f for f in formats if "%z" not in f and "%Z" not in f]
    zoned = [f for f in formats if "%z" in f or "%Z" in f]
    parts = [f"CAST(TRY_CAST({x} AS TIMESTAMPTZ) AT TIME ZONE 'UTC' AS TIMESTAMP)"]
    if zoned:
        fmts = ", ".join(quote_literal(f) for f in zoned)
        parts.append(f"CAST(try_strptime({x}, [{fmts}]) AT TIME ZONE 'UTC' AS TIMESTAMP)")
    if naive:
        fmts = ", ".join(quote_literal(f) for f in naive)
        parts.append(f"CAST(try_strptime({x}, [{fmts}]) AS TIMESTAMP)")
    parts.append(
        f"CASE WHEN regexp_full_match({x}, '[0-9]{{10}}') "
        f"THEN CAST(to_timestamp(CAST({x} AS BIGINT)) AT TIME ZONE 'UTC' AS TIMESTAMP) END"
    )
    parsed = f"COALESCE({', '.join(parts)})"
    return f"CASE WHEN {parsed} BETWEEN TIMESTAMP '1900-01-01' AND TIMESTAMP '2100-01-01' THEN {parsed} END"


def shown(x: str) -> str:
    """A value quoted for an error message (at most 60 characters)."""
    return f"'''' || left({x}, 60) || ''''"


def _date_checks(b: _Builder, name: str, label: str, formats: tuple[str, ...], required: bool) -> tuple[str, list[str]]:
    s = b.text(name)
    t = b.parsed_once(f"_hf_t_{name}", s, timestamp("_hf_k", formats))
    col = quote_literal(b.column_of(name))
    checks = []
    if required:
        checks.append(f"WHEN {s} IS NULL THEN 'missing {label} (column ' || {col} || ')'")
    checks.append(
        f"WHEN {s} IS NOT NULL AND {t} IS NULL THEN 'unparseable date ' || {shown(s)} || ' in column ' || {col}"
    )
    return t, checks


def _number_checks(b: _Builder, name: str, label: str, required: bool) -> tuple[str, list[str]]:
    s = b.text(name)
    n = b.parsed_once(f"_hf_n_{name}", s, number("_hf_k"))  # quantities and prices repeat, like dates
    col = quote_literal(b.column_of(name))
    checks = []
    if required:
        checks.append(f"WHEN {s} IS NULL THEN 'missing {label} (column ' || {col} || ')'")
    checks.append(
        f"WHEN {s} IS NOT NULL AND {n} IS NULL THEN '{label} ' || {shown(s)} || ' is not a number (column ' || {col} || ')'"
    )
    return n, checks


def _error(b: _Builder, checks: list[str]) -> str:
    # A NUL character: DuckDB would store it, PostgreSQL refuses it; on both backends the row is quarantined.
    used = sorted({c for fs in b.fields.values() for c in fs.columns})
    if used:
        values = ", ".join(b.source.column_sql[c] for c in used)  # one search over the row's used values
        nul = f"strpos(concat({values}), chr(0)) > 0"
        checks = [f"WHEN {nul} THEN 'a value holds a NUL character (byte 0), which cannot be stored'", *checks]
    if b.source.format == "jsonl":
        checks = ["WHEN _json IS NULL THEN 'line is not a JSON object'", *checks]
    return b.add("_hf_error", f"CASE {' '.join(checks)} END" if checks else "CAST(NULL AS VARCHAR)")


def _content_id(parts: list[str]) -> str:
    """A 16-character id from the first 96 bits of the MD5 of the parts (URL-safe base64).

    Short keys keep key checks (an index on PostgreSQL, a hash join on DuckDB) cheap; 96 bits make a
    collision negligible (about 1 in 10^10 at a billion rows).
    """
    text = ", ".join(f"COALESCE(CAST({p} AS VARCHAR), {quote_literal(chr(0))})" for p in parts)
    return f"translate(to_base64(unhex(left(md5(concat_ws('|', {text})), 24))), '+/', '-_')"


def _attributes(source: Source, fields: dict[str, FieldSource]) -> str:
    used = {c for fs in fields.values() for c in fs.columns}
    rest = [c for c in source.columns if c not in used]
    if not rest:
        return "CAST(NULL AS VARCHAR)"
    parts = ", ".join(f"{quote_literal(c)}, {source.value_sql(c)}" for c in rest)
    return f"CAST(json_object({parts}) AS VARCHAR)"


def _provenance(source_name: str, file_name: str, import_id: str) -> dict[str, str]:
    return {"source": source_name, "source_file": file_name, "import_id": import_id}


def _kind_check(b: _Builder, value: str, label: str) -> str:
    kinds = ", ".join(quote_literal(k) for k in CUSTOMER_KINDS)
    return f"WHEN {value} NOT IN ({kinds}) THEN 'unknown {label} ' || {shown(value)} || ' (use {', '.join(CUSTOMER_KINDS)})'"


# ------------------------------------------------------------------------------------------ orders
def orders_plan(
    source: Source,
    fields: dict[str, FieldSource],
    preset: Preset,
    *,
    source_name: str,
    import_id: str,
    formats: tuple[str, ...],
    cancelled_column: str | None,
) -> Plan:
    b = _Builder(source, fields, preset)
    order_id = b.text("order_id")
    customer_id = b.text("customer_id")
    checks = [
        f"WHEN {order_id} IS NULL THEN 'missing order id (column ' || {quote_literal(b.column_of('order_id'))} || ')'"
    ]
    ordered_at, c = _date_checks(b, "ordered_at", "order date", formats, True)
    checks += c
    quantity, c = _number_checks(b, "quantity", "quantity", True)
    checks += c
    price, c = _number_checks(b, "unit_price", "unit price", "amount" not in fields)
    checks += c
    amount, c = _number_checks(b, "amount", "amount", False)
    checks += c

    rules = []
    if preset.return_prefix:
        rules.append(f"starts_with(upper({order_id}), {quote_literal(preset.return_prefix.upper())})")
    if "is_return" in fields:
        rules.append(f"lower({b.text('is_return')}) IN ({', '.join(quote_literal(t) for t in TRUTHY)})")
    status = b.text("status")
    if "status" in fields:
        rules.append(f"lower({status}) IN ({', '.join(quote_literal(s) for s in preset.return_statuses)})")
    if cancelled_column:
        rules.append(f"{source.value_sql(cancelled_column)} IS NOT NULL")
    is_return = b.add("_hf_is_return", f"COALESCE({' OR '.join(rules)}, false)" if rules else "false")
    q_col = quote_literal(b.column_of("quantity"))
    checks.append(
        f"WHEN {quantity} < 0 AND NOT {is_return} THEN 'negative quantity ' || {shown('_hf_s_quantity')}"
        f" || ' on a line that is not a return (column ' || {q_col} || ')'"
    )
    checks.append(f"WHEN {price} < 0 THEN 'negative unit price ' || CAST({price} AS VARCHAR)")
    error = _error(b, checks)

    qty = b.add("_hf_qty", f"CASE WHEN {is_return} THEN -abs({quantity}) ELSE {quantity} END")
    unit_price = b.add(
        "_hf_price", f"COALESCE({price}, CASE WHEN {quantity} <> 0 THEN abs({amount}) / abs({quantity}) ELSE 0 END)"
    )
    line_amount = b.add(
        "_hf_amount",
        f"CASE WHEN {amount} IS NULL THEN {qty} * {unit_price} WHEN {is_return} THEN -abs({amount}) ELSE {amount} END",
    )
    product_id = b.text("product_id")
    product_name = b.text("product_name")
    content = [order_id, customer_id, ordered_at, product_id, product_name, quantity, price, amount]
    line_id = _content_id([quote_literal(source_name), *content])
    if "order_line_id" in fields:
        line_id = f"COALESCE({quote_literal(source_name + ':')} || {b.text('order_line_id')}, {line_id})"
    outputs = [
        ("order_line_id", line_id),
        ("order_id", order_id),
        ("customer_id", customer_id),
        ("ordered_at", ordered_at),
        ("product_id", product_id),
        ("product_name", product_name),
        ("quantity", qty),
        ("unit_price", unit_price),
        ("amount", line_amount),
        ("currency", b.text("currency", upper=True)),
        ("country", b.text("country")),
        ("is_return", is_return),
        ("status", status),
        ("_email", b.text("email")),
        ("_name", b.text("name")),
        ("_error", error),
        ("_raw", f"CASE WHEN {error} IS NOT NULL THEN {source.raw_sql()} END"),
    ]
    relation = _fill_down(source, fields, preset, cancelled_column)
    cols = [n for n, _ in outputs if not n.startswith("_")] + ["source_line"]
    return Plan(
        b.sql(outputs),
        cols,
        _provenance(source_name, source.path.name, import_id),
        ["_email", "_name"],
        relation,
    )


def _fill_down(source: Source, fields: dict[str, FieldSource], preset: Preset, cancelled_column: str | None) -> str:
    """Shopify writes order fields only on an order's first line: copy them to its other lines."""
    if not preset.order_level or source.format == "jsonl" or "order_id" not in fields:
        return source.relation
    cols = {fields[f].columns[0] for f in preset.order_level if f in fields and len(fields[f].columns) == 1}
    if cancelled_column:
        cols.add(cancelled_column)
    cols.discard(fields["order_id"].columns[0])
    if not cols:
        return source.relation
    key = source.value_sql(fields["order_id"].columns[0])
    replaced = ", ".join(
        f"COALESCE({source.value_sql(c)}, MAX({source.value_sql(c)}) OVER (PARTITION BY {key})) AS {quote_ident(c)}"
        for c in sorted(cols)
    )
    return f"SELECT * REPLACE ({replaced}) FROM ({source.relation})"


# ---------------------------------------------------------------------------------------- feedback
def feedback_plan(
    source: Source,
    fields: dict[str, FieldSource],
    preset: Preset,
    *,
    source_name: str,
    import_id: str,
    formats: tuple[str, ...],
    default_kind: str,
) -> Plan:
    b = _Builder(source, fields, preset)
    text = b.text("text")
    checks = [f"WHEN {text} IS NULL THEN 'missing text (column ' || {quote_literal(b.column_of('text'))} || ')'"]
    created_at, c = _date_checks(b, "created_at", "date", formats, True)
    checks += c
    rating_text = b.text("rating")
    if preset.rating_words:
        words = " ".join(f"WHEN {quote_literal(w)} THEN {v}" for w, v in preset.rating_words.items())
        rating = b.add("_hf_n_rating", f"CASE lower({rating_text}) {words} ELSE {number(rating_text)} END")
    else:
        rating, c = _number_checks(b, "rating", "rating", False)
        checks += c
    scale, c = _number_checks(b, "rating_scale", "rating scale", False)
    checks += c
    checks.append(
        f"WHEN {rating} < 0 OR {rating} > {scale} THEN 'rating ' || CAST({rating} AS VARCHAR) || ' is outside 0-' || CAST({scale} AS VARCHAR)"
    )
    kind = b.add(
        "_hf_kind", f"COALESCE(lower({b.text('author_kind', use_constant=False)}), {quote_literal(default_kind)})"
    )
    checks.append(_kind_check(b, kind, "author kind"))
    error = _error(b, checks)
    channel = b.add("_hf_channel", f"COALESCE(lower({b.text('channel')}), 'other')")
    external_id = b.text("external_id")
    author = b.text("author")
    title = b.text("title")
    customer_id = b.text("customer_id")
    content = _content_id([text, created_at, author, title, customer_id])
    feedback_id = f"{quote_literal(source_name + ':')} || COALESCE({external_id}, {content})"
    outputs = [
        ("feedback_id", feedback_id),
        ("external_id", external_id),
        ("channel", channel),
        ("customer_id", customer_id),
        ("author_kind", kind),
        ("author", author),
        ("title", title),
        ("text", text),
        ("rating", rating),
        ("rating_scale", f"CASE WHEN {rating} IS NOT NULL THEN {scale} END"),
        ("created_at", created_at),
        ("language", b.text("language")),
        ("product_id", b.text("product_id")),
        ("url", b.text("url")),
        ("attributes", _attributes(source, fields)),
        ("_error", error),
        ("_raw", f"CASE WHEN {error} IS NOT NULL THEN {source.raw_sql()} END"),
    ]
    cols = [n for n, _ in outputs if not n.startswith("_")] + ["source_line"]
    provenance = _provenance(source_name, source.path.name, import_id)
    return Plan(b.sql(outputs), cols, provenance, [], source.relation)


# --------------------------------------------------------------------------------------- customers
def customers_plan(
    source: Source,
    fields: dict[str, FieldSource],
    preset: Preset,
    *,
    source_name: str,
    import_id: str,
    formats: tuple[str, ...],
    default_kind: str,
) -> Plan:
    b = _Builder(source, fields, preset)
    customer_id = b.text("customer_id")
    checks = [
        f"WHEN {customer_id} IS NULL THEN 'missing customer id (column ' || {quote_literal(b.column_of('customer_id'))} || ')'"
    ]
    kind = b.add("_hf_kind", f"COALESCE(lower({b.text('kind')}), {quote_literal(default_kind)})")
    checks.append(_kind_check(b, kind, "kind"))
    email = b.text("email")
    checks.append(
        f"WHEN {email} IS NOT NULL AND NOT regexp_full_match({email}, '[^@\\s]+@[^@\\s]+') THEN 'invalid e-mail ' || {shown(email)}"
    )
    first_seen, c = _date_checks(b, "first_seen_at", "first seen date", formats, False)
    checks += c
    error = _error(b, checks)
    outputs = [
        ("customer_id", customer_id),
        ("kind", kind),
        ("name", b.text("name")),
        ("email", email),
        ("phone", b.text("phone")),
        ("company", b.text("company")),
        ("country", b.text("country")),
        ("city", b.text("city")),
        ("attributes", _attributes(source, fields)),
        ("first_seen_at", first_seen),
        ("_error", error),
        ("_raw", f"CASE WHEN {error} IS NOT NULL THEN {source.raw_sql()} END"),
    ]
    cols = [n for n, _ in outputs if not n.startswith("_")] + ["source_line"]
    provenance = _provenance(source_name, source.path.name, import_id)
    return Plan(b.sql(outputs), cols, provenance, [], source.relation)
