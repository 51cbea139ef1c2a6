"""Extract one source table into the lake as one committed batch.

Streams Arrow record batches from the source (`source.read_arrow`: connectorx, or
ADBC for PostgreSQL; never the whole table in memory) to zstd Parquet in a staging
folder, adds delete tombstones from a key snapshot, and commits the batch
atomically. Incremental reads use the watermark minus an overlap window; rows
already landed in that window are dropped, so late-committed rows are caught and
nothing lands twice.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from logistics_etl import queries, watermarks
from logistics_etl.conform import SchemaDriftError, conform
from logistics_etl.contract import Table
from logistics_etl.lake import KEYS_FILE, Lake, Manifest, delta_encoding, write_keys
from logistics_etl.settings import PARALLEL_MIN_KEYS
from logistics_etl.source import SourceError, full_read_ranges, guarded_reader, read_arrow

__all__ = ["ExtractResult", "SourceError", "extract_table", "progress_logger", "read_arrow"]

log = logging.getLogger(__name__)

META_FIELDS = [
    pa.field("_batch_id", pa.int64(), nullable=False),
    pa.field("_extracted_at", pa.timestamp("us", tz="UTC"), nullable=False),
    pa.field("_is_deleted", pa.bool_(), nullable=False),
]
DEFAULT_OVERLAP = timedelta(hours=24)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
DEFAULT_KEY_OVERLAP = 10_000


@dataclass(frozen=True)
class ExtractResult:
    table: str
    batch_id: int
    mode: str
    rows: int
    deleted_rows: int
    bytes: int
    seconds: float
    watermark_from: str | None
    watermark_to: str | None
    new_columns: list[str]

    def as_dict(self) -> dict:
        return asdict(self)


def _select_list(source_url: str, table: Table, dialect: queries.Dialect, reader) -> tuple[list[str] | None,
                                                                                     dict[str, pa.DataType]]:
    """The select list from the source's catalog (`queries.select_list`); (None, {}) for SQLite."""
    sql = queries.source_columns(table, dialect)
    if sql is None:
        return None, {}
    catalog = [row for batch in reader(source_url, sql, 10_000)
               for row in zip(*batch.to_pydict().values(), strict=True)]
    if not catalog:
        raise SchemaDriftError(f"table {table.name}: not in the source's catalog (INFORMATION_SCHEMA.COLUMNS of "
                               f"schema {dialect.schema}): dropped or renamed?")
    return queries.select_list(table, dialect, catalog)


def _unscale(batch: pa.RecordBatch, scaled: dict[str, pa.DataType], table: Table) -> pa.RecordBatch:
    """The batch with each scaled-integer column (see `_select_list`) back as its decimal: the same integers
    as 128-bit values, read with the contract's scale (1234 -> 12.34), so no value is rounded."""
    if not scaled:
        return batch
    arrays, fields = list(batch.columns), list(batch.schema)
    for name, target in scaled.items():
        i = batch.schema.get_field_index(name)
        if i < 0 or not pa.types.is_integer(arrays[i].type):
            raise SchemaDriftError(f"table {table.name}: column {name} was asked for as a scaled integer and came "
                                   f"back as {arrays[i].type if i >= 0 else 'nothing'}")
        wide = arrays[i].cast(pa.decimal128(19, 0))  # every int64 fits; the buffers hold the unscaled integers
        arrays[i] = pa.Array.from_buffers(target, len(wide), wide.buffers(), null_count=wide.null_count)
        fields[i] = pa.field(name, target)
    return pa.RecordBatch.from_arrays(arrays, schema=pa.schema(fields))


def _constant(value: int, type_: pa.DataType, n: int) -> pa.Array:
    """`n` copies of an integer (or a bool, or microseconds for a timestamp), built from a buffer.
    `pa.scalar`/`pa.array` on a Python value would import pandas (pyarrow checks each Python input for
    pandas types): 0.7 s in a fresh extract process with bytecode cached, 2.7 s without."""
    if pa.types.is_boolean(type_):
        data = pa.py_buffer((b"\xff" if value else b"\x00") * ((n + 7) // 8))
    else:
        data = pa.py_buffer(np.full(n, value, dtype=np.int64))
    return pa.Array.from_buffers(type_, n, [None, data])


def _with_meta(batch: pa.RecordBatch, batch_id: int, extracted_at: datetime, deleted: bool) -> pa.RecordBatch:
    n = batch.num_rows
    extracted_us = (extracted_at - EPOCH) // timedelta(microseconds=1)
    meta = [_constant(batch_id, META_FIELDS[0].type, n), _constant(extracted_us, META_FIELDS[1].type, n),
            _constant(deleted, META_FIELDS[2].type, n)]
    return pa.RecordBatch.from_arrays(list(batch.columns) + meta, schema=pa.schema(list(batch.schema) + META_FIELDS))


class _PartWriter:
    """Parquet parts of one batch, rolled over every `rows_per_file` rows."""

    def __init__(self, folder, schema: pa.Schema, rows_per_file: int, prefix: str = "part-"):
        self.folder, self.schema, self.rows_per_file, self.prefix = folder, schema, rows_per_file, prefix
        self.files: list[dict] = []
        # dictionary pages for text columns only (codes such as Status, EventType): on keys, times and
        # amounts they cost more CPU than they save. Measured on ShipmentEvents at scale 10: 2.2x faster
        # writes and files 46 % smaller than dictionary-encoding every column (benchmarks/extract.py).
        self._dictionary = [f.name for f in schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)]
        # keys, times and amounts delta-encoded (ascending keys and clustered times leave small deltas):
        # ShipmentEvents at scale 10 written in 0.66 s instead of 1.05 s, 24 MB instead of 43 MB
        self._delta = delta_encoding(schema)
        # min/max statistics for every column but text: readers prune on keys, times, amounts and batch ids,
        # never on a code or a name, and the text columns' statistics took 0.08-0.13 s of the 0.66 s that
        # writing ShipmentEvents at scale 10 takes
        self._statistics = [f.name for f in schema if f.name not in self._dictionary]
        self._writer: pq.ParquetWriter | None = None
        self._rows_in_file = 0

    def _open(self) -> None:
        path = self.folder / f"{self.prefix}{len(self.files):05d}.parquet"
        self._writer = pq.ParquetWriter(path, self.schema, compression="zstd", use_dictionary=self._dictionary,
                                        column_encoding=self._delta, write_statistics=self._statistics,
                                        store_decimal_as_integer=True)
        self.files.append({"name": path.name, "rows": 0, "bytes": 0})
        self._rows_in_file = 0

    def write(self, batch: pa.RecordBatch) -> None:
        if self._writer is None or self._rows_in_file >= self.rows_per_file:
            self._close_current()
            self._open()
        if batch.num_rows:
            self._writer.write_batch(batch.cast(self.schema) if batch.schema != self.schema else batch)
            self._rows_in_file += batch.num_rows
            self.files[-1]["rows"] += batch.num_rows

    def _close_current(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
            self.files[-1]["bytes"] = (self.folder / self.files[-1]["name"]).stat().st_size

    def close(self, ensure_one: bool = False) -> list[dict]:
        if ensure_one and not self.files:
            self._open()  # an empty batch still has one (empty) part, so readers always find the schema
        self._close_current()
        return self.files


def _landed_versions(lake: Lake, table: Table, manifests: list[Manifest], since) -> pa.Table | None:
    """(key, watermark) pairs already landed at or after `since`, to drop re-read rows."""
    if since is None:
        return None
    recent = [m for m in manifests
              if m.watermark_to is not None and watermarks.parse_value(table, m.watermark_to) >= since]
    cols = [table.key] if table.append_only else [table.key, table.watermark_column]
    landed = lake.read_columns(table.name, recent, cols) if recent else None
    if landed is None:
        return None
    # built once per table: the join marker that _drop_landed looks for
    return landed.append_column("__landed", _constant(True, pa.bool_(), landed.num_rows))


def _drop_landed(batch: pa.RecordBatch, landed: pa.Table | None, cols: list[str]) -> pa.RecordBatch:
    """The rows of `batch` whose (key, watermark) is not in `landed` (from _landed_versions)."""
    if landed is None or batch.num_rows == 0:
        return batch
    joined = pa.Table.from_batches([batch]).join(landed, keys=cols, join_type="left outer")
    fresh = joined.filter(pc.is_null(joined.column("__landed"))).drop_columns(["__landed"])
    fresh = fresh.select(batch.schema.names)
    return fresh.combine_chunks().to_batches()[0] if fresh.num_rows else batch.slice(0, 0)


def _key_bounds(source_url, table: Table, dialect, keys: pa.Array | None, reader) -> tuple[int | None, int | None]:
    """Lowest and highest key: from the snapshot when there is one, else asked of the source."""
    if keys is not None:
        return (pc.min(keys).as_py(), pc.max(keys).as_py()) if len(keys) else (None, None)
    batch = next(iter(reader(source_url, queries.key_bounds(table, dialect), 1)), None)
    if batch is None or batch.num_rows == 0:
        return None, None
    return batch.column(0)[0].as_py(), batch.column(1)[0].as_py()


def _keyset_pages(page_sql: Callable[[int | None], str], key: str, page_rows: int,
                  read: Callable[[str], Iterable[pa.RecordBatch]]) -> Iterator[pa.RecordBatch]:
    """Record batches of consecutive keyset pages: each next page starts after the last key of the one before."""
    after = None
    while True:
        rows, last = 0, None
        for batch in read(page_sql(after)):
            if batch.num_rows:
                rows += batch.num_rows
                top = pc.max(batch.column(key)).as_py()
                last = top if last is None or top > last else last
            yield batch
        if rows < page_rows or last is None:
            return
        after = last


@dataclass
class _Slice:
    rows: int = 0
    max_wm: int | None = None
    changed_keys: list = field(default_factory=list)
    files: list = field(default_factory=list)
    schema: pa.Schema | None = None
    new_columns: list = field(default_factory=list)


class _Progress:
    """Row counter shared by the slices of one table (they may run in threads)."""

    def __init__(self, table: str, callback: Callable[[str, int], None] | None):
        self.table, self.callback, self.rows, self.lock = table, callback, 0, threading.Lock()

    def add(self, n: int) -> None:
        with self.lock:
            self.rows += n
            if self.callback:
                self.callback(self.table, self.rows)


def progress_logger(every: float = 30.0, clock: Callable[[], float] = time.monotonic,
                    emit: Callable[[str], None] | None = None) -> Callable[[str, int], None]:
    """A `progress` callback for `extract_table` that logs a table's rows so far and their rate, at most once
    every `every` seconds: a full read of a big table shows in its task's log while it runs. `emit` takes
    the line instead of this module's logger (the CLI prints it)."""
    emit = emit or log.info
    started = last = clock()

    def report(table: str, rows: int) -> None:
        nonlocal last
        now = clock()
        if now - last >= every:
            last = now
            emit(f"table {table}: {rows:,} rows read so far ({rows / max(now - started, 1e-9):,.0f} rows/s)")

    return report


def _stream_slice(table: Table, source: Iterable[pa.RecordBatch], staging, prefix: str, rows_per_file: int,
                  landed: pa.Table | None, dedupe_cols: list[str], batch_id: int, extracted_at: datetime,
                  progress: _Progress, scaled: dict[str, pa.DataType]) -> _Slice:
    """Stream one query's record batches into Parquet parts; never more than one batch in memory."""
    out = _Slice()
    writer: _PartWriter | None = None
    for raw in source:
        batch, extra = conform(_unscale(raw, scaled, table), table)
        if writer is None:
            out.new_columns = extra
            out.schema = pa.schema(list(batch.schema) + META_FIELDS)
            writer = _PartWriter(staging, out.schema, rows_per_file, prefix)
        if batch.num_rows:
            # as integers (microseconds or key), turned into a datetime once at the end
            top = pc.max(batch.column(table.watermark_column).cast(pa.int64())).as_py()
            out.max_wm = top if out.max_wm is None or (top is not None and top > out.max_wm) else out.max_wm
        batch = _drop_landed(batch, landed, dedupe_cols)
        # a copy of its own: every column of a batch imported through Arrow's C interface (ADBC's) keeps the
        # whole batch alive, so a full read's key snapshot would have held the table (5.7 million rows of
        # ShipmentEvents at scale 10: 470 MB peak RSS instead of 210 MB)
        out.changed_keys.append(pa.concat_arrays([batch.column(table.key)]))
        writer.write(_with_meta(batch, batch_id, extracted_at, False))
        out.rows += batch.num_rows
        progress.add(raw.num_rows)  # rows read, those of the overlap window that already landed included
    if writer is not None:
        out.files = writer.close()
    return out


def extract_table(
    table: Table,
    source_url: str,
    lake: Lake,
    *,
    full_refresh: bool = False,
    batch_size: int = 200_000,
    rows_per_file: int = 1_000_000,
    overlap: timedelta = DEFAULT_OVERLAP,
    key_overlap: int = DEFAULT_KEY_OVERLAP,
    run_id: str = "",
    parallel: int = 1,
    full_read_parallel: int | None = None,
    parallel_min_keys: int = PARALLEL_MIN_KEYS,
    page_rows: int = 0,
    reader: Callable[[str, str | list[str], int], Iterable[pa.RecordBatch]] = read_arrow,
    progress: Callable[[str, int], None] | None = None,
) -> ExtractResult:
    """Land one table's changed rows as one committed batch.

    `parallel` > 1 reads that many key ranges at once (one reader over all of them, see read_arrow); a full
    read of a table whose keys span at least `parallel_min_keys` reads `full_read_parallel` ranges when that
    is more (by default as many as the source's driver gains from, `source.full_read_ranges`); `page_rows` > 0
    reads each range as keyset pages of that many rows (one short statement per page, in key order, a thread
    per range) instead of one long statement."""
    started = time.monotonic()
    extracted_at = datetime.now(UTC)
    dialect = queries.dialect_for(source_url)
    reader = guarded_reader(table.name, source_url, reader)
    manifests = lake.manifests(table.name)
    if leftovers := lake.clean_staging(table.name):
        log.warning("table %s: removed %s uncommitted batch(es) left by an interrupted extract", table.name, leftovers)
    batch_id = (manifests[-1].batch_id + 1) if manifests else 1
    mode = "full" if full_refresh or not manifests else "incremental"
    wm = watermarks.current(table, manifests)
    since = None
    if mode == "incremental":
        since = wm.value - key_overlap if table.append_only and wm.value is not None else wm.query_from(overlap)

    columns, scaled = _select_list(source_url, table, dialect, reader)  # fails first if the table is gone

    # Incremental: the key snapshot first, so a row deleted while we read is seen as deleted on the next
    # run; comparing it with the previous snapshot turns hard deletes into tombstone rows. A full read
    # carries every key itself, so it needs no separate snapshot query.
    keys = None
    if mode == "incremental":
        keys = pa.concat_arrays([b.column(0).cast(pa.int64())
                                 for b in reader(source_url, queries.key_snapshot(table, dialect), batch_size)]
                                or [pa.nulls(0, pa.int64())])
    dedupe_cols = [table.key] if table.append_only else [table.key, table.watermark_column]
    landed = _landed_versions(lake, table, manifests, since) if mode == "incremental" else None
    key_ranges: list[tuple[int | None, int | None] | None] = [None]
    ranges, bounds = parallel, None
    if full_read_parallel is None:
        full_read_parallel = full_read_ranges(source_url)
    if mode == "full" and full_read_parallel > parallel:
        bounds = _key_bounds(source_url, table, dialect, keys, reader)
        if bounds[0] is not None and bounds[1] - bounds[0] + 1 >= parallel_min_keys:
            ranges = full_read_parallel
    if ranges > 1:
        low, high = bounds or _key_bounds(source_url, table, dialect, keys, reader)
        if table.append_only and since is not None and low is not None:
            low = max(low, since + 1)
        if low is not None:
            key_ranges = queries.split_key_range(low, high, ranges) or [None]
    sqls = [queries.changed_rows(table, dialect, since, r, page=(None, page_rows) if page_rows else None,
                                 columns=columns) for r in key_ranges]
    log.info("table %s: batch %s (%s) from %s: %s", table.name, batch_id, mode, queries.redact(source_url),
             sqls[0] if len(sqls) == 1 else f"{len(sqls)} key ranges in parallel, e.g. {sqls[0]}")
    counter = _Progress(table.name, progress)

    with lake.stage(table.name, batch_id) as staging:
        def write(source: Iterator[pa.RecordBatch], prefix: str = "part-") -> _Slice:
            return _stream_slice(table, source, staging, prefix, rows_per_file, landed, dedupe_cols, batch_id,
                                 extracted_at, counter, scaled)

        def pages(i: int) -> _Slice:  # one key range as keyset pages, read in key order
            return write(_keyset_pages(
                lambda after: queries.changed_rows(table, dialect, since, key_ranges[i], page=(after, page_rows),
                                                   columns=columns),
                table.key, page_rows, lambda sql: reader(source_url, sql, batch_size)),
                f"part-{i:02d}-" if len(key_ranges) > 1 else "part-")

        if not page_rows:  # one statement, or every key range at once through one reader (see read_arrow)
            slices = [write(reader(source_url, sqls if len(sqls) > 1 else sqls[0], batch_size))]
        elif len(key_ranges) == 1:
            slices = [pages(0)]
        else:  # a thread per key range, each paging through its own range
            with ThreadPoolExecutor(max_workers=len(key_ranges), thread_name_prefix=f"extract-{table.name}") as pool:
                slices = list(pool.map(pages, range(len(key_ranges))))
        rows = sum(sl.rows for sl in slices)
        deleted = 0
        max_wm = max((sl.max_wm for sl in slices if sl.max_wm is not None), default=None)
        new_columns = next((sl.new_columns for sl in slices if sl.schema is not None), [])
        schema = next((sl.schema for sl in slices if sl.schema is not None),
                      pa.schema([pa.field(c.name, c.arrow_type) for c in table.columns] + META_FIELDS))
        changed_keys = [k for sl in slices for k in sl.changed_keys]
        if keys is None:  # a full read: the keys read are the snapshot, kept in the batches' own chunks
            # (one array of ShipmentEvents' 5.7 million keys at scale 10 took 0.09 s to copy together)
            keys = pa.chunked_array([k.cast(pa.int64()) for k in changed_keys], type=pa.int64())
        files = [f for sl in slices for f in sl.files]
        writer = _PartWriter(staging, schema, rows_per_file, prefix="part-deletes-" if files else "part-")

        previous = lake.latest_keys(table.name, manifests)
        if previous is not None:
            gone = pc.filter(previous, pc.invert(pc.is_in(previous, keys)))
            if changed_keys and mode == "incremental":  # a key read after the snapshot was taken is not gone
                gone = pc.filter(gone, pc.invert(pc.is_in(gone, pa.chunked_array(changed_keys))))
            if len(gone):
                data_fields = [f for f in schema if not f.name.startswith("_")]
                cols = {f.name: pa.nulls(len(gone), f.type) for f in data_fields}
                cols[table.key] = gone
                tomb = pa.RecordBatch.from_pydict(cols, schema=pa.schema(data_fields))
                writer.write(_with_meta(tomb, batch_id, extracted_at, True))
                deleted = len(gone)
        write_keys(staging / KEYS_FILE, table.key, keys)
        files += writer.close(ensure_one=not files)

        if max_wm is not None and not table.append_only:
            max_wm = EPOCH + timedelta(microseconds=max_wm)
        watermark_to = watermarks.format_value(max_wm) if max_wm is not None else \
            (watermarks.format_value(wm.value) if mode == "incremental" else None)
        manifest = Manifest(
            table=table.name, batch_id=batch_id, mode=mode, watermark_column=table.watermark_column,
            watermark_from=watermarks.format_value(since), watermark_to=watermark_to,
            rows=rows, deleted_rows=deleted, files=files,
            schema=[{"name": f.name, "type": str(f.type)} for f in schema],
            new_columns=new_columns, key_count=len(keys),
            extracted_at=extracted_at.isoformat(), committed_at=datetime.now(UTC).isoformat(),
            seconds=round(time.monotonic() - started, 3), source=queries.redact(source_url), run_id=run_id)
        lake.commit(staging, manifest)
    if new_columns:
        log.warning("table %s: new source columns landed and need a model change: %s",
                    table.name, ", ".join(new_columns))
    return ExtractResult(table.name, batch_id, mode, rows, deleted, manifest.bytes, manifest.seconds,
                         manifest.watermark_from, manifest.watermark_to, new_columns)
