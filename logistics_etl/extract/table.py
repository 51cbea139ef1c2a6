"""Extract one source table into the lake as one committed batch.

Streams Arrow record batches from the source (`source.read_arrow`: connectorx, or
ADBC for PostgreSQL; never the whole table in memory) to Parquet in a staging
folder, adds delete tombstones from a key snapshot, and commits the batch to the
table's Delta log in one commit (lake/delta.py). Incremental reads use the watermark minus an overlap window; rows
already landed in that window are dropped, so late-committed rows are caught and
nothing lands twice.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc

from logistics_etl.contract import Table
from logistics_etl.extract import queries
from logistics_etl.extract.parts import (
    EPOCH,
    META_FIELDS,
    BatchTarget,
    PartWriter,
    Slice,
    landed_versions,
    stream_slice,
    tombstones,
)
from logistics_etl.extract.plan import ExtractOptions, Reader, ReadPlan, enough_history, keyset_pages, plan_read
from logistics_etl.extract.progress import Progress, progress_logger
from logistics_etl.extract.source import SourceError, guarded_reader, read_arrow
from logistics_etl.extract.source_url import redact
from logistics_etl.lake import watermarks
from logistics_etl.lake.delta import Lake, Manifest

__all__ = ["ExtractOptions", "ExtractResult", "SourceError", "extract_table", "progress_logger", "read_arrow"]

log = logging.getLogger(__name__)


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


def extract_table(table: Table, source_url: str, lake: Lake, options: ExtractOptions | None = None, *,
                  run_id: str = "", reader: Reader = read_arrow,
                  progress: Callable[[str, int], None] | None = None) -> ExtractResult:
    """Land one table's changed rows as one committed batch: plan the read (`plan.plan_read`), stream it into
    a staging folder, add the tombstones of the keys gone since the last snapshot, write the key snapshot and
    commit the batch with its manifest."""
    options = options or ExtractOptions()
    started = time.monotonic()
    extracted_at = datetime.now(UTC)
    reader = guarded_reader(table.name, source_url, reader)
    manifests = lake.manifests(table.name, enough=enough_history(table, options))  # the newest, back to the overlap
    if leftovers := lake.clean_staging(table.name):
        log.warning("table %s: removed %s uncommitted batch(es) left by an interrupted extract", table.name, leftovers)
    plan = plan_read(table, source_url, manifests, options, reader)
    log.info("table %s: batch %s (%s) from %s: %s", table.name, plan.batch_id, plan.mode, redact(source_url),
             plan.sqls[0] if len(plan.sqls) == 1 else f"{len(plan.sqls)} key ranges in parallel, e.g. {plan.sqls[0]}")
    landed = landed_versions(lake, table, manifests, plan.since) if plan.mode == "incremental" else None

    with lake.stage(table.name, plan.batch_id) as staging:
        target = BatchTarget(table, staging, plan.batch_id, extracted_at, options.rows_per_file, landed, plan.scaled)
        slices = _read_slices(target, plan, options, source_url, reader, Progress(table.name, progress))
        previous = lake.latest_keys(table.name, table.key, manifests)
        if plan.mode == "incremental" and len(back := _keys_back(previous, plan.keys, slices)):
            # keys gone at the last snapshot and in the source again (a restored row keeps its old ModifiedAt,
            # below the read's window), or rows inserted with an old ModifiedAt: read by key, all of them
            log.warning("table %s: %s keys not in the last snapshot and not changed since (restored, or written "
                        "with an old %s): read by key", table.name, len(back), table.watermark_column)
            rows = _rows_by_keys(table, plan, source_url, back, reader, options.batch_size)
            slices.append(stream_slice(replace(target, landed=None), rows, "part-back-",
                                       Progress(table.name, progress)))
        schema = next((sl.schema for sl in slices if sl.schema is not None),
                      pa.schema([pa.field(c.name, c.arrow_type) for c in table.columns] + META_FIELDS))
        changed_keys = [k for sl in slices for k in sl.changed_keys]
        keys = plan.keys
        if keys is None:  # a full read: the keys read are the snapshot, kept in the batches' own chunks
            keys = pa.chunked_array([k.cast(pa.int64()) for k in changed_keys], type=pa.int64())
        elif changed_keys:  # a row inserted after the snapshot was taken and read after it: it is in the source
            # now, so the snapshot kept for the next night holds it, and its deletion then is seen
            keys = pc.unique(pa.chunked_array([keys, *(k.cast(pa.int64()) for k in changed_keys)], type=pa.int64()))
        files = [f for sl in slices for f in sl.files]
        writer = PartWriter(staging, schema, options.rows_per_file, prefix="part-deletes-" if files else "part-")
        gone = _deleted_keys(previous, keys,
                             changed_keys if plan.mode == "incremental" else [])
        if len(gone):
            writer.write(tombstones(target, schema, gone))
        files += writer.close(ensure_one=not files)
        manifest = _manifest(table, plan, slices, schema, files, len(gone), len(keys), extracted_at,
                             round(time.monotonic() - started, 3), redact(source_url), run_id)
        manifest.version = lake.commit(staging, manifest, keys)
    if manifest.new_columns:
        log.warning("table %s: new source columns landed and need a model change: %s",
                    table.name, ", ".join(manifest.new_columns))
    return ExtractResult(table.name, plan.batch_id, plan.mode, manifest.rows, manifest.deleted_rows, manifest.bytes,
                         manifest.seconds, manifest.watermark_from, manifest.watermark_to, manifest.new_columns)


def _read_slices(target: BatchTarget, plan: ReadPlan, options: ExtractOptions, source_url: str, reader: Reader,
                 progress: Progress) -> list[Slice]:
    """Read the plan's statements into parts: one statement (or every key range at once through one reader,
    see read_arrow), or keyset pages of each key range, a thread per range."""
    table, ranges = target.table, plan.key_ranges

    def write(source: Iterator[pa.RecordBatch], prefix: str = "part-") -> Slice:
        return stream_slice(target, source, prefix, progress)

    def pages(i: int) -> Slice:  # one key range as keyset pages, read in key order
        dialect = queries.dialect_for(source_url)
        return write(keyset_pages(
            lambda after: queries.changed_rows(table, dialect, plan.since, ranges[i],
                                               page=(after, options.page_rows), columns=plan.columns),
            table.key, options.page_rows, lambda sql: reader(source_url, sql, options.batch_size)),
            f"part-{i:02d}-" if len(ranges) > 1 else "part-")

    if not options.page_rows:
        return [write(reader(source_url, plan.sqls if len(plan.sqls) > 1 else plan.sqls[0], options.batch_size))]
    if len(ranges) == 1:
        return [pages(0)]
    with ThreadPoolExecutor(max_workers=len(ranges), thread_name_prefix=f"extract-{table.name}") as pool:
        return list(pool.map(pages, range(len(ranges))))


KEYS_PER_STATEMENT = 1000


def _keys_back(previous: pa.Array | None, snapshot: pa.Array, slices: list[Slice]) -> pa.Array:
    """The keys of this snapshot that the last one did not hold and that this read did not see."""
    if previous is None:
        return pa.array([], pa.int64())
    back = pc.filter(snapshot, pc.invert(pc.is_in(snapshot, previous)))
    read = [k.cast(pa.int64()) for sl in slices for k in sl.changed_keys]
    return pc.filter(back, pc.invert(pc.is_in(back, pa.chunked_array(read, type=pa.int64())))) if read else back


def _rows_by_keys(table: Table, plan: ReadPlan, source_url: str, keys: pa.Array, reader: Reader,
                  batch_size: int) -> Iterator[pa.RecordBatch]:
    dialect = queries.dialect_for(source_url)
    listed = keys.to_pylist()
    for i in range(0, len(listed), KEYS_PER_STATEMENT):
        sql = queries.rows_by_keys(table, dialect, listed[i:i + KEYS_PER_STATEMENT], plan.columns)
        yield from reader(source_url, sql, batch_size)


def _deleted_keys(previous: pa.Array | None, keys, read_after_snapshot: list[pa.Array]) -> pa.Array:
    """The keys of the previous snapshot that are not in this one: deleted in the source since. A key that an
    incremental read saw after its snapshot was taken is not gone."""
    if previous is None:
        return pa.nulls(0, pa.int64())
    gone = pc.filter(previous, pc.invert(pc.is_in(previous, keys)))
    if read_after_snapshot:
        gone = pc.filter(gone, pc.invert(pc.is_in(gone, pa.chunked_array(read_after_snapshot))))
    return gone


def _manifest(table: Table, plan: ReadPlan, slices: list[Slice], schema: pa.Schema, files: list[dict], deleted: int,
              key_count: int, extracted_at: datetime, seconds: float, source: str, run_id: str) -> Manifest:
    """The batch's manifest: what it holds and the watermark it moves the table to."""
    max_wm = max((sl.max_wm for sl in slices if sl.max_wm is not None), default=None)
    if max_wm is not None and not table.append_only:
        max_wm = EPOCH + timedelta(microseconds=max_wm)
    watermark_to = watermarks.format_value(max_wm) if max_wm is not None else \
        (watermarks.format_value(plan.watermark.value) if plan.mode == "incremental" else None)
    highest = max((v for v in (plan.watermark.value, max_wm) if v is not None), default=None)
    return Manifest(
        table=table.name, batch_id=plan.batch_id, mode=plan.mode, watermark_column=table.watermark_column,
        watermark_from=watermarks.format_value(plan.since), watermark_to=watermark_to,
        rows=sum(sl.rows for sl in slices), deleted_rows=deleted, files=files,
        schema=[{"name": f.name, "type": str(f.type)} for f in schema],
        new_columns=next((sl.new_columns for sl in slices if sl.schema is not None), []), key_count=key_count,
        extracted_at=extracted_at.isoformat(), committed_at=datetime.now(UTC).isoformat(),
        seconds=seconds, source=source, run_id=run_id, table_watermark=watermarks.format_value(highest))
