"""SQL sent to the source, per dialect: SQLite (embedded stand-in), PostgreSQL, T-SQL.

The extract reads every column the source has, so that a new source column is
seen (schema drift): `SELECT *` from SQLite, and from PostgreSQL and SQL Server
the column list their catalog gives (`source_columns`), with each exact decimal
sent as a scaled integer (`scaled_decimal`). It filters on the watermark with a
typed literal in the source's own dialect, and takes the key snapshot from the
primary key alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from logistics_etl.contract import Table
from logistics_etl.extract.source_url import SourceURL

if TYPE_CHECKING:
    import pyarrow as pa


@dataclass(frozen=True)
class Dialect:
    name: str
    open_quote: str
    close_quote: str
    schema: str | None

    def quote(self, ident: str) -> str:
        if self.close_quote in ident:
            raise ValueError(f"identifier {ident!r} contains a quote character")
        return f"{self.open_quote}{ident}{self.close_quote}"

    def table_ref(self, table: Table) -> str:
        name = self.quote(table.name)
        return f"{self.quote(self.schema)}.{name}" if self.schema else name

    def literal(self, value: datetime | int) -> str:
        if isinstance(value, int):
            return str(int(value))
        utc = value.astimezone(UTC).replace(tzinfo=None)
        if self.name == "sqlite":
            return f"'{utc.strftime('%Y-%m-%d %H:%M:%S.%f')}'"
        if self.name == "postgresql":
            return f"TIMESTAMP '{utc.strftime('%Y-%m-%d %H:%M:%S.%f')}'"
        return f"CAST('{utc.strftime('%Y-%m-%dT%H:%M:%S.%f')}' AS DATETIME2(7))"


DIALECTS = {
    "sqlite": Dialect("sqlite", '"', '"', None),
    "postgresql": Dialect("postgresql", '"', '"', "dbo"),
    "mssql": Dialect("tsql", "[", "]", "dbo"),
}


def dialect_for(url: str) -> Dialect:
    """The SQL dialect of a source URL's engine."""
    return DIALECTS[SourceURL.parse(url).engine]


def source_columns(table: Table, dialect: Dialect) -> str | None:
    """The catalog query for the table's columns in source order: name, type, precision, scale (None for
    SQLite, which is read with `SELECT *`). The text and number columns are cast to plain types: PostgreSQL's
    information_schema returns its own domain types, which connectorx does not read."""
    if dialect.name == "sqlite":
        return None
    text = "NVARCHAR(128)" if dialect.name == "tsql" else "VARCHAR(128)"
    return (f"SELECT CAST(COLUMN_NAME AS {text}) AS column_name, CAST(DATA_TYPE AS {text}) AS data_type, "
            "CAST(NUMERIC_PRECISION AS INT) AS numeric_precision, CAST(NUMERIC_SCALE AS INT) AS numeric_scale "
            f"FROM INFORMATION_SCHEMA.COLUMNS WHERE TABLE_SCHEMA = '{dialect.schema}' AND TABLE_NAME = '{table.name}' "
            "ORDER BY ORDINAL_POSITION")


def scaled_decimal(dialect: Dialect, column: str, scale: int) -> str:
    """A decimal column sent as the integer count of its smallest unit (12.34 with scale 2 as 1234), under its
    own name. Exact for a source scale equal to `scale` and a precision up to 18 (the caller checks both);
    connectorx decodes a BIGINT several times faster than a NUMERIC (see `logistics_etl.extract.table`)."""
    return f"CAST({dialect.quote(column)} * {10 ** scale} AS BIGINT) AS {dialect.quote(column)}"


def select_list(table: Table, dialect: Dialect, catalog: list[tuple[str, str, int | None, int | None]]
                ) -> tuple[list[str], dict[str, pa.DataType]]:
    """The columns to read, in source order, from the rows of `source_columns`; and those of them sent as
    scaled integers (name -> the contract's decimal type, for `parts.unscale`).

    Every source column is read, new ones included (schema drift). A contract decimal whose source type is a
    DECIMAL/NUMERIC of the contract's scale, with no more digits than the contract's (and at most 18), is
    sent as a BIGINT count of its smallest unit (`scaled_decimal`): connectorx decodes a NUMERIC far slower
    than a BIGINT (benchmarks/extract.py). Any other source type is read as it is, and `conform`
    checks it (a scale that changed to 3 digits fails the table there, naming the column)."""
    contract = {c.name.lower(): c for c in table.columns}
    columns, scaled = [], {}
    for name, data_type, precision, scale in catalog:
        col = contract.get(name.lower())
        target = col.arrow_type if col is not None and col.kind in ("money", "measure") else None
        if target is not None and (data_type or "").lower() in ("decimal", "numeric") and scale == target.scale \
                and precision is not None and precision <= min(18, target.precision):
            columns.append(scaled_decimal(dialect, name, scale))
            scaled[name] = target
        else:
            columns.append(dialect.quote(name))
    return columns, scaled


def changed_rows(table: Table, dialect: Dialect, since: datetime | int | None,
                 key_range: tuple[int | None, int | None] | None = None,
                 page: tuple[int | None, int] | None = None, columns: list[str] | None = None) -> str:
    """Rows changed after `since` (all rows when None), optionally only keys in [low, high] (None: open).
    `columns`: the select list (`*` when None).

    `page=(after_key, rows)` makes it one keyset page: the first `rows` rows with key > `after_key`, in key
    order (`TOP (n) ... ORDER BY` in T-SQL, `LIMIT` elsewhere): a seek on the primary key, never OFFSET."""
    conditions = []
    key = dialect.quote(table.key)
    if since is not None:
        conditions.append(f"{dialect.quote(table.watermark_column)} > {dialect.literal(since)}")
    if key_range is not None:
        if key_range[0] is not None:
            conditions.append(f"{key} >= {int(key_range[0])}")
        if key_range[1] is not None:
            conditions.append(f"{key} <= {int(key_range[1])}")
    if page is not None and page[0] is not None:
        conditions.append(f"{key} > {int(page[0])}")
    top = f"TOP ({int(page[1])}) " if page is not None and dialect.name == "tsql" else ""
    sql = f"SELECT {top}{', '.join(columns) if columns else '*'} FROM {dialect.table_ref(table)}"
    sql += " WHERE " + " AND ".join(conditions) if conditions else ""
    if page is not None:
        sql += f" ORDER BY {key}" + ("" if top else f" LIMIT {int(page[1])}")
    return sql


def rows_by_keys(table: Table, dialect: Dialect, keys: list[int], columns: list[str] | None = None) -> str:
    """The rows of these keys, whatever their watermark column says."""
    listed = ", ".join(str(int(k)) for k in keys)
    return (f"SELECT {', '.join(columns) if columns else '*'} FROM {dialect.table_ref(table)} "
            f"WHERE {dialect.quote(table.key)} IN ({listed})")


def split_key_range(low: int, high: int, parts: int) -> list[tuple[int | None, int | None]]:
    """Up to `parts` contiguous, non-overlapping key slices that split [low, high] evenly. The first is open
    below and the last open above, so together they cover every key, including keys inserted after
    `low` and `high` were read."""
    if high < low:
        return []
    parts = max(1, min(parts, high - low + 1))
    step = (high - low + 1) / parts
    bounds = [low + round(i * step) for i in range(parts)] + [high + 1]
    slices: list[tuple[int | None, int | None]] = [(bounds[i], bounds[i + 1] - 1) for i in range(parts)]
    slices[0] = (None, slices[0][1])
    slices[-1] = (slices[-1][0], None)
    return slices


def key_bounds(table: Table, dialect: Dialect) -> str:
    key = dialect.quote(table.key)
    return f"SELECT MIN({key}) AS lo, MAX({key}) AS hi FROM {dialect.table_ref(table)}"


def key_snapshot(table: Table, dialect: Dialect) -> str:
    return f"SELECT {dialect.quote(table.key)} FROM {dialect.table_ref(table)}"
