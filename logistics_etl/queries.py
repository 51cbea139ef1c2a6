"""SQL sent to the source, per dialect: SQLite (embedded stand-in), PostgreSQL, T-SQL.

The extract reads `SELECT *` so that a new source column is seen (schema drift),
filters on the watermark with a typed literal in the source's own dialect, and
takes the key snapshot from the primary key alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

from logistics_etl.contract import Table


class SourceURLError(ValueError):
    """A source URL that the extract cannot use."""


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
    scheme = urlsplit(url).scheme.split("+")[0]
    scheme = {"postgres": "postgresql", "sqlserver": "mssql"}.get(scheme, scheme)
    if scheme not in DIALECTS:
        raise SourceURLError(f"source URL scheme {scheme!r} is not supported; use one of "
                             f"sqlite:///path, postgresql://user:pw@host/db, mssql://user:pw@host:1433/LogisticsDB")
    return DIALECTS[scheme]


def redact(url: str) -> str:
    """The URL with its password replaced, for logs and manifests."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def changed_rows(table: Table, dialect: Dialect, since: datetime | int | None,
                 key_range: tuple[int | None, int | None] | None = None,
                 page: tuple[int | None, int] | None = None) -> str:
    """Rows changed after `since` (all rows when None), optionally only keys in [low, high] (None: open).

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
    sql = f"SELECT {top}* FROM {dialect.table_ref(table)}"
    sql += " WHERE " + " AND ".join(conditions) if conditions else ""
    if page is not None:
        sql += f" ORDER BY {key}" + ("" if top else f" LIMIT {int(page[1])}")
    return sql


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
