"""What one lake batch's files hold, and how a read is streamed into them.

The load metadata columns (`_batch_id`, `_extracted_at`, `_is_deleted`),
Parquet parts with their encodings (`PartWriter`), the rows of one query
conformed to the contract and streamed into parts with the rows that already
landed dropped (`stream_slice`), and the tombstones of deleted keys.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from logistics_etl.contract import Table
from logistics_etl.extract.conform import SchemaDriftError, conform
from logistics_etl.extract.progress import Progress
from logistics_etl.lake import watermarks
from logistics_etl.lake.delta import META_FIELDS, Lake, Manifest
from logistics_etl.lake.files import delta_encoding

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def unscale(batch: pa.RecordBatch, scaled: dict[str, pa.DataType], table: Table) -> pa.RecordBatch:
    """The batch with each scaled-integer column (see `select_list`) back as its decimal: the same integers
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


def constant(value: int, type_: pa.DataType, n: int) -> pa.Array:
    """`n` copies of an integer (or a bool, or microseconds for a timestamp), built from a buffer.
    `pa.scalar`/`pa.array` on a Python value would import pandas (pyarrow checks each Python input for
    pandas types), a cost of its own in every fresh extract process."""
    if pa.types.is_boolean(type_):
        data = pa.py_buffer((b"\xff" if value else b"\x00") * ((n + 7) // 8))
    else:
        data = pa.py_buffer(np.full(n, value, dtype=np.int64))
    return pa.Array.from_buffers(type_, n, [None, data])


def with_load_metadata(batch: pa.RecordBatch, batch_id: int, extracted_at: datetime, deleted: bool) -> pa.RecordBatch:
    n = batch.num_rows
    extracted_us = (extracted_at - EPOCH) // timedelta(microseconds=1)
    meta = [constant(batch_id, META_FIELDS[0].type, n), constant(extracted_us, META_FIELDS[1].type, n),
            constant(deleted, META_FIELDS[2].type, n)]
    return pa.RecordBatch.from_arrays(list(batch.columns) + meta, schema=pa.schema(list(batch.schema) + META_FIELDS))


class PartWriter:
    """Parquet parts of one batch, rolled over every `rows_per_file` rows: the lake's own data files, which the
    commit adds to the table as they are (lake/delta.py)."""

    def __init__(self, folder, schema: pa.Schema, rows_per_file: int, prefix: str = "part-"):
        self.folder, self.schema, self.rows_per_file, self.prefix = folder, schema, rows_per_file, prefix
        self.files: list[dict] = []
        # dictionary pages for text columns only (codes such as Status, EventType): on keys, times and
        # amounts they cost more CPU than they save, and make bigger files (benchmarks/extract.py)
        self._dictionary = [f.name for f in schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)]
        # keys, times and amounts delta-encoded: ascending keys and clustered times leave small deltas, so
        # the files are smaller and faster to write
        self._delta = delta_encoding(schema)
        # min/max statistics for every column but text: readers prune on keys, times, amounts and batch ids,
        # never on a code or a name, and the text columns' statistics are a noticeable share of a write
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


def landed_versions(lake: Lake, table: Table, manifests: list[Manifest], since) -> pa.Table | None:
    """(key, watermark) pairs already landed at or after `since`, to drop re-read rows."""
    if since is None:
        return None
    recent = [m for m in manifests
              if m.watermark_to is not None and watermarks.parse_value(table, m.watermark_to) >= since]
    landed = lake.read_columns(table.name, recent, table.version_columns) if recent else None
    if landed is None:
        return None
    # built once per table: the join marker that drop_landed looks for
    return landed.append_column("__landed", constant(True, pa.bool_(), landed.num_rows))


def drop_landed(batch: pa.RecordBatch, landed: pa.Table | None, cols: list[str]) -> pa.RecordBatch:
    """The rows of `batch` whose (key, watermark) is not in `landed` (from landed_versions)."""
    if landed is None or batch.num_rows == 0:
        return batch
    joined = pa.Table.from_batches([batch]).join(landed, keys=cols, join_type="left outer")
    fresh = joined.filter(pc.is_null(joined.column("__landed"))).drop_columns(["__landed"])
    fresh = fresh.select(batch.schema.names)
    return fresh.combine_chunks().to_batches()[0] if fresh.num_rows else batch.slice(0, 0)


@dataclass
class Slice:
    rows: int = 0
    max_wm: int | None = None
    changed_keys: list = field(default_factory=list)
    files: list = field(default_factory=list)
    schema: pa.Schema | None = None
    new_columns: list = field(default_factory=list)


@dataclass(frozen=True)
class BatchTarget:
    """Where one batch's rows go and what they are stamped with."""

    table: Table
    staging: Path
    batch_id: int
    extracted_at: datetime
    rows_per_file: int
    landed: pa.Table | None  # versions already landed in the read's window (landed_versions), dropped
    scaled: dict[str, pa.DataType]  # columns read as scaled integers (plan.select_list)

    def stamped(self, batch: pa.RecordBatch, deleted: bool = False) -> pa.RecordBatch:
        return with_load_metadata(batch, self.batch_id, self.extracted_at, deleted)


def stream_slice(target: BatchTarget, source: Iterable[pa.RecordBatch], prefix: str, progress: Progress) -> Slice:
    """Stream one query's record batches into Parquet parts; never more than one batch in memory."""
    table = target.table
    out = Slice()
    writer: PartWriter | None = None
    for raw in source:
        batch, extra = conform(unscale(raw, target.scaled, table), table)
        if writer is None:
            out.new_columns = extra
            out.schema = pa.schema(list(batch.schema) + META_FIELDS)
            writer = PartWriter(target.staging, out.schema, target.rows_per_file, prefix)
        if batch.num_rows:
            # as integers (microseconds or key), turned into a datetime once at the end
            top = pc.max(batch.column(table.watermark_column).cast(pa.int64())).as_py()
            out.max_wm = top if out.max_wm is None or (top is not None and top > out.max_wm) else out.max_wm
        batch = drop_landed(batch, target.landed, table.version_columns)
        # a copy of its own: every column of a batch imported through Arrow's C interface (ADBC's) keeps the
        # whole batch alive, so a full read's key snapshot would otherwise hold the whole table in memory
        out.changed_keys.append(pa.concat_arrays([batch.column(table.key)]))
        writer.write(target.stamped(batch))
        out.rows += batch.num_rows
        progress.add(raw.num_rows)  # rows read, those of the overlap window that already landed included
    if writer is not None:
        out.files = writer.close()
    return out


def tombstones(target: BatchTarget, schema: pa.Schema, gone: pa.Array) -> pa.RecordBatch:
    """A row per deleted key: the key, every other data column null, `_is_deleted` true."""
    data_fields = [f for f in schema if not f.name.startswith("_")]
    cols = {f.name: pa.nulls(len(gone), f.type) for f in data_fields}
    cols[target.table.key] = gone
    return target.stamped(pa.RecordBatch.from_pydict(cols, schema=pa.schema(data_fields)), deleted=True)
