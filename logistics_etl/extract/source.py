"""Reading the source as Arrow record batches, and what a failure of the source is reported as.

One reader for the three engines, each through the driver that reads it fastest: SQL Server (production) and
SQLite through connectorx, PostgreSQL through ADBC's libpq driver (`logistics_etl.extract.postgres_arrow`; both
measured in benchmarks/extract.py). `guarded_reader` turns a failure of the source (it cannot be reached,
refuses the login, rejects a statement, drops the connection mid-stream) into a `SourceError` that names the
table, the source with its password redacted, and the statement.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING

from logistics_etl.extract.source_url import SourceURL, redact
from logistics_etl.settings import FULL_READ_PARALLEL

if TYPE_CHECKING:
    import pyarrow as pa

PG_PROTOCOL = "cursor"  # connectorx's PostgreSQL protocol, when connectorx reads PostgreSQL (see read_arrow)
DRIVERS = ("connectorx", "adbc")


class SourceError(RuntimeError):
    """The source could not be read: unreachable, refused the login, or rejected a statement. Nothing of the
    table was committed and its watermark did not move; the task's retry, or a rerun, reads it again."""


# what connectorx raises for a connection, login or SQL error (RuntimeError), and an I/O error mid-stream (as
# does ADBC's stream when the server fails a statement it has begun to send)
_SOURCE_FAILURES = (RuntimeError, OSError)
# ADBC's own errors (adbc_driver_manager.Error and its DB-API subclasses), told by module so that reading
# SQLite or SQL Server never imports the driver
_ADBC_MODULE = "adbc_driver_manager"
# a statement that the server fails after its first rows: connectorx's writer thread panics, and the panic
# reaches Python as pyo3's PanicException, a BaseException (it would pass `except Exception`)
_PANIC = "PanicException"
# connectorx's panic message holds the driver's error as Rust debug output; its server message, if any
_SERVER_MESSAGE = re.compile(r'message: "((?:[^"\\]|\\.)*)"')
_SQLSTATE = re.compile(r"SqlState\(E?(\w+)\)")
# libpq's message, as ADBC passes it on: "... ERROR:  division by zero" or "... FATAL:  role ... does not exist"
_LIBPQ_MESSAGE = re.compile(r"\b(?:ERROR|FATAL):\s+([^\n]*)")


def full_read_ranges(url: str) -> int:
    """Key ranges for a full read of a big table, unless configured: two where connectorx reads the source
    (one statement keeps one of its threads busy, settings.FULL_READ_PARALLEL), one for ADBC (it already
    leaves a core to PostgreSQL, and one statement is faster: benchmarks/extract.py)."""
    return 1 if SourceURL.parse(url).driver == "adbc" else FULL_READ_PARALLEL


def read_arrow(url: str, sql: str | list[str], batch_size: int, driver: str | None = None
               ) -> Iterable[pa.RecordBatch]:
    """Stream a query's result as Arrow record batches, through `driver` (by default the URL's own, `SourceURL.driver`).

    A list of statements (the key ranges of one table) is read at once, each on its own connection, and
    their batches come out in no set order: connectorx reads them in its own threads (a reader per range in
    Python threads would take turns: connectorx holds the GIL while it fills a batch), ADBC in a thread per
    statement (`postgres_arrow`).

    connectorx reads PostgreSQL (when asked to: the tests and the benchmark do) with its `cursor` protocol,
    which streams faster than its default binary COPY."""
    driver = driver or SourceURL.parse(url).driver
    if driver == "adbc":
        from logistics_etl.extract import postgres_arrow

        return postgres_arrow.read_arrow(url, sql, batch_size)
    if driver != "connectorx":
        raise ValueError(f"unknown source driver {driver!r}: one of {', '.join(DRIVERS)}")
    import connectorx as cx

    kwargs = {"protocol": PG_PROTOCOL} if SourceURL.parse(url).engine == "postgresql" else {}
    return cx.read_sql(url, sql, return_type="arrow_stream", batch_size=batch_size, **kwargs)


def _statement(sql: str | list[str]) -> str:
    text = sql[0] if isinstance(sql, list) else sql
    more = f" (and {len(sql) - 1} more key ranges)" if isinstance(sql, list) and len(sql) > 1 else ""
    return (text if len(text) <= 300 else text[:300] + " ...") + more


def _is_adbc_error(exc: BaseException) -> bool:
    return type(exc).__module__.startswith(_ADBC_MODULE)


def _is_source_failure(exc: BaseException) -> bool:
    return isinstance(exc, _SOURCE_FAILURES) or type(exc).__name__ == _PANIC or _is_adbc_error(exc)


def _reason(exc: BaseException) -> str:
    """The driver's error in one line: the server's own message (and SQLSTATE) when it has one."""
    text = str(exc).strip()
    if type(exc).__name__ == _PANIC and (message := _SERVER_MESSAGE.search(text)):
        state = _SQLSTATE.search(text)
        return message.group(1) + (f" (SQLSTATE {state.group(1)})" if state else "")
    adbc = _is_adbc_error(exc) or "[libpq]" in text  # "[libpq]": ADBC's OSError mid-stream
    if adbc and (message := _LIBPQ_MESSAGE.search(text)):  # with its SQLSTATE, but for a failure mid-stream
        state = getattr(exc, "sqlstate", None)
        return message.group(1).strip() + (f" (SQLSTATE {state})" if state else "")
    line = (text.splitlines() or [type(exc).__name__])[0]
    return line if len(line) <= 500 else line[:500] + " ..."


# connectorx's SQLite error for a stored value the column's declared type cannot read (SQLite keeps any value
# in any column): the column's position in the statement, and how SQLite stores the value
_SQLITE_CONVERSION = re.compile(r"FromSqlConversionFailure\((\d+), (\w+)")


def _sqlite_value_error(exc: BaseException, sqlite_path: Path, sql: str) -> str | None:
    """For an unreadable SQLite value, which column (by name, asked of SQLite) holds it."""
    if not (m := _SQLITE_CONVERSION.search(str(exc))):
        return None
    index = int(m.group(1))
    try:
        with closing(sqlite3.connect(f"file:{sqlite_path}?mode=ro", uri=True)) as con:
            column = con.execute(f"select * from ({sql}) limit 0").description[index][0]
    except (sqlite3.Error, IndexError):
        column = f"#{index + 1}"
    return (f"column {column} holds a value SQLite stores as {m.group(2).lower()} that its declared type cannot "
            "read (find it with typeof() in SQLite)")


def _failure(where: str, sql: str | list[str], exc: BaseException, sqlite_path: Path | None = None) -> SourceError:
    first = sql[0] if isinstance(sql, list) else sql
    reason = (sqlite_path and _sqlite_value_error(exc, sqlite_path, first)) or _reason(exc)
    return SourceError(f"{where} failed: {reason}; statement: {_statement(sql)}")


def _guarded(open_stream: Callable[[], Iterable[pa.RecordBatch]], where: str,
             sql: str | list[str], sqlite_path: Path | None = None) -> Iterator[pa.RecordBatch]:
    """The batches of `open_stream()`, a failure of the source on opening or mid-stream (the connection
    dropped, the server failed the statement) raised as a `SourceError`."""
    try:
        yield from open_stream()
    except BaseException as exc:
        if not _is_source_failure(exc):
            raise
        raise _failure(where, sql, exc, sqlite_path) from exc


def guarded_reader(table: str, source_url: str, reader: Callable) -> Callable[..., Iterator[pa.RecordBatch]]:
    """`reader` with every failure of the source, on connecting or mid-stream, raised as a `SourceError` that
    names the table, the source (password redacted) and the statement. A SQLite source must exist: connectorx
    would create an empty database file at a mistyped path and then find no table in it."""
    where = f"table {table}: reading the source {redact(source_url)}"
    source = SourceURL.parse(source_url)
    if source.sqlite_path is not None and not source.sqlite_path.is_file():
        raise SourceError(f"table {table}: the SQLite source {source.sqlite_path} does not "
                          "exist (make the stand-in with `logistics source generate`, or set LOGISTICS_SOURCE_URL)")
    if reason := source.unreachable():
        raise SourceError(f"{where} failed: {reason}")

    def read(url: str, sql: str | list[str], batch_size: int) -> Iterator[pa.RecordBatch]:
        return _guarded(lambda: reader(url, sql, batch_size), where, sql, source.sqlite_path)

    return read
