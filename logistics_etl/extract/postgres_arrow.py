"""PostgreSQL read as Arrow record batches through ADBC's libpq driver (`adbc-driver-postgresql`).

The driver asks PostgreSQL for `COPY (<statement>) TO STDOUT (FORMAT binary)` and decodes it into Arrow in
C, with less CPU and in less time than connectorx takes for the same rows (benchmarks/extract.py), so
PostgreSQL is read with it; SQL Server and SQLite stay with connectorx (`logistics_etl.extract.source`).

Each statement is read in a thread of its own (the driver releases the GIL while it reads), a few batches
ahead of the caller, so the caller writes Parquet while the next batch is read; a list of statements (key
ranges) is read at once, one connection each. Batches come out at most `batch_size` rows long.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from functools import lru_cache
from typing import TYPE_CHECKING

import pyarrow as pa

if TYPE_CHECKING:
    import adbc_driver_manager

READ_AHEAD = 2  # batches read ahead of the caller: ADBC's batches hold about 16 MB each
_DONE = object()


@lru_cache(maxsize=8)
def _database(url: str) -> adbc_driver_manager.AdbcDatabase:
    """One ADBC database per source URL and process: opening it loads the server's type catalog, which a
    connection made from it then reuses."""
    import adbc_driver_postgresql

    return adbc_driver_postgresql.connect(url)


_connecting = threading.Lock()


def _numeric_type(field: pa.Field) -> pa.DataType:
    """The decimal type of a NUMERIC(p, s) column, which the driver hands over as text (an `arrow.opaque`
    extension of strings, the declared precision and scale in its `typmod`); a NUMERIC without a declared
    precision, or one wider than 76 digits, stays text, exactly as the server wrote it."""
    typmod = int((field.metadata or {}).get(b"POSTGRESQL:typmod", b"-1"))
    if typmod < 4:
        return pa.string()
    precision, scale = (typmod - 4) >> 16, (typmod - 4) & 0xFFFF
    return pa.decimal128(precision, scale) if precision <= 38 else \
        pa.decimal256(precision, scale) if precision <= 76 else pa.string()


def _plain_types(schema: pa.Schema) -> dict[int, pa.DataType]:
    """Columns whose type the driver leaves as an `arrow.opaque` extension, by position, with the plain type
    to read them as: NUMERIC as a decimal (`_numeric_type`); a type the driver does not decode (`inet`, say:
    only a new source column could have one) as its storage, the bytes of the server's binary form."""
    return {i: _numeric_type(f) if f.type.type_name == "numeric" else f.type.storage_type
            for i, f in enumerate(schema) if isinstance(f.type, pa.OpaqueType)}


def _plain(batch: pa.RecordBatch, plain: dict[int, pa.DataType]) -> pa.RecordBatch:
    if not plain:
        return batch
    arrays, fields = list(batch.columns), list(batch.schema)
    for i, type_ in plain.items():
        arrays[i] = arrays[i].storage.cast(type_)
        fields[i] = pa.field(fields[i].name, type_, metadata=fields[i].metadata)
    return pa.RecordBatch.from_arrays(arrays, schema=pa.schema(fields))


def _statement_batches(url: str, sql: str, batch_size: int) -> Iterator[pa.RecordBatch]:
    """One statement's batches, on a connection of its own, closed when the batches end or are abandoned."""
    import adbc_driver_manager

    with _connecting:
        connection = adbc_driver_manager.AdbcConnection(_database(url))
    statement = reader = None
    try:
        statement = adbc_driver_manager.AdbcStatement(connection)
        statement.set_sql_query(sql)
        stream, _ = statement.execute_query()
        reader = pa.RecordBatchReader.from_stream(stream)
        plain = _plain_types(reader.schema)
        for batch in reader:
            batch = _plain(batch, plain)
            if batch.num_rows <= batch_size:
                yield batch
            else:
                for offset in range(0, batch.num_rows, batch_size):
                    yield batch.slice(offset, batch_size)
    finally:
        for handle in (reader, statement, connection):
            if handle is not None:
                handle.close()


def _read_ahead(streams: list[Callable[[], Iterator[pa.RecordBatch]]], depth: int = READ_AHEAD
                ) -> Iterator[pa.RecordBatch]:
    """The batches of every stream, each read in a thread of its own at most `depth` batches ahead, in the
    order they arrive. A stream's failure is raised here; abandoning the batches (or failing on one) stops
    every thread and closes its connection before this returns."""
    arrived: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def offer(item) -> bool:
        while not stop.is_set():
            try:
                arrived.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce(open_stream: Callable[[], Iterator[pa.RecordBatch]]) -> None:
        try:
            batches = open_stream()
            try:
                for batch in batches:
                    if not offer(batch):
                        return
            finally:
                batches.close()
            offer(_DONE)
        except BaseException as exc:  # raised in the caller's thread, where the source's failure is reported
            offer(exc)

    threads = [threading.Thread(target=produce, args=(s,), daemon=True, name=f"postgres-read-{i}")
               for i, s in enumerate(streams)]
    for t in threads:
        t.start()
    try:
        done = 0
        while done < len(threads):
            item = arrived.get()
            if item is _DONE:
                done += 1
            elif isinstance(item, BaseException):
                raise item
            else:
                yield item
    finally:
        stop.set()
        for t in threads:
            t.join()


def read_arrow(url: str, sql: str | list[str], batch_size: int) -> Iterator[pa.RecordBatch]:
    """Stream a statement's result (or every statement of a list, at once) as Arrow record batches."""
    sqls = sql if isinstance(sql, list) else [sql]
    return _read_ahead([lambda s=s: _statement_batches(url, s, batch_size) for s in sqls])
