"""Extract one source table into the lake as one committed batch.

Streams Arrow record batches from the source (connectorx, never the whole table
in memory) to zstd Parquet in a staging folder, adds delete tombstones from a
key snapshot, and commits the batch atomically. Incremental reads use the
watermark minus an overlap window; rows already landed in that window are
dropped, so late-committed rows are caught and nothing lands twice.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from logistics_etl import queries, watermarks
from logistics_etl.conform import conform
from logistics_etl.contract import Table
from logistics_etl.lake import KEYS_FILE, Lake, Manifest, write_keys

log = logging.getLogger(__name__)

META_FIELDS = [
    pa.field("_batch_id", pa.int64(), nullable=False),
    pa.field("_extracted_at", pa.timestamp("us", tz="UTC"), nullable=False),
    pa.field("_is_deleted", pa.bool_(), nullable=False),
]
DEFAULT_OVERLAP = timedelta(hours=24)
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


def read_arrow(url: str, sql: str, batch_size: int) -> pa.RecordBatchReader:
    """Stream a query's result as Arrow record batches (connectorx: SQLite, PostgreSQL, SQL Server)."""
    import connectorx as cx

    return cx.read_sql(url, sql, return_type="arrow_stream", batch_size=batch_size)


def _with_meta(batch: pa.RecordBatch, batch_id: int, extracted_at: datetime, deleted: bool) -> pa.RecordBatch:
    n = batch.num_rows
    meta = [pa.array([batch_id] * n, pa.int64()),
            pa.array([extracted_at] * n, pa.timestamp("us", tz="UTC")),
            pa.array([deleted] * n, pa.bool_())]
    return pa.RecordBatch.from_arrays(list(batch.columns) + meta, schema=pa.schema(list(batch.schema) + META_FIELDS))


class _PartWriter:
    """Parquet parts of one batch, rolled over every `rows_per_file` rows."""

    def __init__(self, folder, schema: pa.Schema, rows_per_file: int):
        self.folder, self.schema, self.rows_per_file = folder, schema, rows_per_file
        self.files: list[dict] = []
        self._writer: pq.ParquetWriter | None = None
        self._rows_in_file = 0

    def _open(self) -> None:
        path = self.folder / f"part-{len(self.files):05d}.parquet"
        self._writer = pq.ParquetWriter(path, self.schema, compression="zstd")
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

    def close(self) -> list[dict]:
        if not self.files:
            self._open()  # an empty batch still has one (empty) part, so readers always find the schema
        self._close_current()
        return self.files


def _landed_versions(lake: Lake, table: Table, manifests: list[Manifest], since) -> pa.Table | None:
    """(key, watermark) pairs already landed at or after `since`, to drop re-read rows."""
    if since is None:
        return None
    ids = [m.batch_id for m in manifests
           if m.watermark_to is not None and watermarks.parse_value(table, m.watermark_to) >= since]
    cols = [table.key] if table.append_only else [table.key, table.watermark_column]
    return lake.read_columns(table.name, ids, cols) if ids else None


def _drop_landed(batch: pa.RecordBatch, landed: pa.Table | None, cols: list[str]) -> pa.RecordBatch:
    if landed is None or batch.num_rows == 0:
        return batch
    marker = pa.table({**{c: landed.column(c) for c in cols}, "__landed": pa.repeat(True, landed.num_rows)})
    joined = pa.Table.from_batches([batch]).join(marker, keys=cols, join_type="left outer")
    fresh = joined.filter(pc.is_null(joined.column("__landed"))).drop_columns(["__landed"])
    fresh = fresh.select(batch.schema.names)
    return fresh.combine_chunks().to_batches()[0] if fresh.num_rows else batch.slice(0, 0)


def extract_table(
    table: Table,
    source_url: str,
    lake: Lake,
    *,
    full_refresh: bool = False,
    batch_size: int = 50_000,
    rows_per_file: int = 1_000_000,
    overlap: timedelta = DEFAULT_OVERLAP,
    key_overlap: int = DEFAULT_KEY_OVERLAP,
    run_id: str = "",
    reader: Callable[[str, str, int], pa.RecordBatchReader] = read_arrow,
    progress: Callable[[str, int], None] | None = None,
) -> ExtractResult:
    started = time.monotonic()
    extracted_at = datetime.now(UTC)
    dialect = queries.dialect_for(source_url)
    manifests = lake.manifests(table.name)
    batch_id = (manifests[-1].batch_id + 1) if manifests else 1
    mode = "full" if full_refresh or not manifests else "incremental"
    wm = watermarks.current(table, manifests)
    since = None
    if mode == "incremental":
        since = wm.value - key_overlap if table.append_only and wm.value is not None else wm.query_from(overlap)

    # Key snapshot first: a row deleted while we read is then seen as deleted on the next run;
    # comparing it with the previous snapshot turns hard deletes into tombstone rows.
    keys = pa.concat_arrays([b.column(0).cast(pa.int64())
                             for b in reader(source_url, queries.key_snapshot(table, dialect), batch_size)]
                            or [pa.array([], pa.int64())])
    dedupe_cols = [table.key] if table.append_only else [table.key, table.watermark_column]
    landed = _landed_versions(lake, table, manifests, since) if mode == "incremental" else None
    schema = pa.schema([pa.field(c.name, c.arrow_type) for c in table.columns] + META_FIELDS)
    rows = deleted = 0
    max_wm = None
    new_columns: list[str] = []
    sql = queries.changed_rows(table, dialect, since)
    log.info("table %s: batch %s (%s) from %s: %s", table.name, batch_id, mode, queries.redact(source_url), sql)

    with lake.stage(table.name, batch_id) as staging:
        writer: _PartWriter | None = None
        changed_keys: list[pa.Array] = []
        for raw in _batches(reader(source_url, sql, batch_size)):
            batch, extra = conform(raw, table)
            if writer is None:
                new_columns = extra
                schema = pa.schema(list(batch.schema) + META_FIELDS)
                writer = _PartWriter(staging, schema, rows_per_file)
            if batch.num_rows:
                top = pc.max(batch.column(table.watermark_column)).as_py()
                max_wm = top if max_wm is None or (top is not None and top > max_wm) else max_wm
            batch = _drop_landed(batch, landed, dedupe_cols)
            changed_keys.append(batch.column(table.key))
            writer.write(_with_meta(batch, batch_id, extracted_at, False))
            rows += batch.num_rows
            if progress:
                progress(table.name, rows)
        if writer is None:
            writer = _PartWriter(staging, schema, rows_per_file)

        previous = lake.latest_keys(table.name, manifests)
        if previous is not None:
            gone = pc.filter(previous, pc.invert(pc.is_in(previous, keys)))
            if changed_keys:
                gone = pc.filter(gone, pc.invert(pc.is_in(gone, pa.concat_arrays(changed_keys))))
            if len(gone):
                data_fields = [f for f in schema if not f.name.startswith("_")]
                cols = {f.name: pa.nulls(len(gone), f.type) for f in data_fields}
                cols[table.key] = gone
                tomb = pa.RecordBatch.from_pydict(cols, schema=pa.schema(data_fields))
                writer.write(_with_meta(tomb, batch_id, extracted_at, True))
                deleted = len(gone)
        write_keys(staging / KEYS_FILE, table.key, keys)
        files = writer.close()

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


def _batches(reader: pa.RecordBatchReader) -> Iterator[pa.RecordBatch]:
    yield from reader
