"""What one table's extract reads, decided before it reads a row.

`ExtractOptions` is how an extract reads and writes, built from the settings
in one place (`from_settings`). `plan_read` turns the options, the lake's
committed manifests and the source's catalog into a `ReadPlan`: full or
incremental, the window (watermark minus the overlap), the key snapshot that
turns hard deletes into tombstones, the key ranges read at once and the SQL of
each.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from logistics_etl.contract import Table
from logistics_etl.extract import queries
from logistics_etl.extract.conform import SchemaDriftError
from logistics_etl.extract.source import full_read_ranges
from logistics_etl.lake import watermarks
from logistics_etl.lake.delta import Manifest
from logistics_etl.settings import PARALLEL_MIN_KEYS

if TYPE_CHECKING:
    from logistics_etl.settings import Settings

Reader = Callable[[str, "str | list[str]", int], Iterable[pa.RecordBatch]]


@dataclass(frozen=True)
class ExtractOptions:
    """How an extract reads and writes. `parallel` > 1 reads that many key ranges at once (one reader over all
    of them, see `source.read_arrow`); a full read of a table whose keys span at least `parallel_min_keys` reads
    `full_read_parallel` ranges when that is more (None: as many as the source's driver gains from,
    `source.full_read_ranges`); `page_rows` > 0 reads each range as keyset pages of that many rows (one short
    statement per page, in key order, a thread per range) instead of one long statement."""

    full_refresh: bool = False
    batch_size: int = 200_000
    rows_per_file: int = 1_000_000
    overlap: timedelta = timedelta(hours=24)  # re-read window of an incremental read by ModifiedAt
    key_overlap: int = 10_000  # re-read window of an append-only table, in keys
    parallel: int = 1
    full_read_parallel: int | None = None
    parallel_min_keys: int = PARALLEL_MIN_KEYS
    page_rows: int = 0

    @classmethod
    def from_settings(cls, settings: Settings, **overrides) -> ExtractOptions:
        """The options the settings give; an override that is None keeps the setting."""
        options = cls(batch_size=settings.batch_size, parallel=settings.extract_parallelism,
                      full_read_parallel=settings.full_read_parallelism,
                      parallel_min_keys=settings.parallel_min_keys, page_rows=settings.extract_page_rows)
        return replace(options, **{k: v for k, v in overrides.items() if v is not None})


@dataclass(frozen=True)
class ReadPlan:
    """One table's read: the batch it will be, what it reads, and how."""

    batch_id: int
    mode: str  # full | incremental
    watermark: watermarks.Watermark
    since: datetime | int | None  # exclusive lower bound of the read; None on a full read
    columns: list[str] | None  # the select list from the source's catalog; None: the contract's (SQLite)
    scaled: dict[str, pa.DataType]  # decimal columns read as scaled integers
    keys: pa.Array | None  # the incremental read's key snapshot; a full read's keys are the rows it reads
    key_ranges: list[tuple[int | None, int | None] | None]
    sqls: list[str]


def read_from(table: Table, wm: watermarks.Watermark, options: ExtractOptions):
    """The exclusive lower bound of an incremental read: the watermark less the overlap window (in keys for an
    append-only table)."""
    if table.append_only and wm.value is not None:
        return wm.value - options.key_overlap
    return wm.query_from(options.overlap)


def enough_history(table: Table, options: ExtractOptions) -> Callable[[list[Manifest]], bool]:
    """For `Lake.manifests`: whether the newest manifests read (oldest first) are all an extract needs: the
    newest (the next batch id and the watermark), and every commit that may hold rows of the overlap window
    (`landed_versions`). A commit whose `table_watermark` is below the read's lower bound marks the end: no
    commit before it holds a higher watermark. Commits that do not record it send the read to the start."""
    def enough(found: list[Manifest]) -> bool:
        if options.full_refresh:
            return True
        if any(m.table_watermark is None for m in found):
            return False
        since = read_from(table, watermarks.current(table, found), options)
        return since is not None and watermarks.parse_value(table, found[0].table_watermark) < since
    return enough


def plan_read(table: Table, source_url: str, manifests: list[Manifest], options: ExtractOptions,
              reader: Reader) -> ReadPlan:
    """Decide the read; asks the source for its catalog (which fails first if the table is gone), the key
    snapshot of an incremental read and, to split a read into key ranges, the lowest and highest key."""
    dialect = queries.dialect_for(source_url)
    batch_id = (manifests[-1].batch_id + 1) if manifests else 1
    mode = "full" if options.full_refresh or not manifests else "incremental"
    wm = watermarks.current(table, manifests)
    since = read_from(table, wm, options) if mode == "incremental" else None
    columns, scaled = select_list(source_url, table, dialect, reader)

    # Incremental: the key snapshot first, so a row deleted while we read is seen as deleted on the next
    # run; comparing it with the previous snapshot turns hard deletes into tombstone rows. A full read
    # carries every key itself, so it needs no separate snapshot query.
    keys = None
    if mode == "incremental":
        keys = pa.concat_arrays([b.column(0).cast(pa.int64())
                                 for b in reader(source_url, queries.key_snapshot(table, dialect), options.batch_size)]
                                or [pa.nulls(0, pa.int64())])
    key_ranges: list[tuple[int | None, int | None] | None] = [None]
    ranges, bounds = options.parallel, None
    full_read_parallel = options.full_read_parallel
    if full_read_parallel is None:
        full_read_parallel = full_read_ranges(source_url)
    if mode == "full" and full_read_parallel > options.parallel:
        bounds = key_bounds(source_url, table, dialect, keys, reader)
        if bounds[0] is not None and bounds[1] - bounds[0] + 1 >= options.parallel_min_keys:
            ranges = full_read_parallel
    if ranges > 1:
        low, high = bounds or key_bounds(source_url, table, dialect, keys, reader)
        if table.append_only and since is not None and low is not None:
            low = max(low, since + 1)
        if low is not None:
            key_ranges = queries.split_key_range(low, high, ranges) or [None]
    page = (None, options.page_rows) if options.page_rows else None
    sqls = [queries.changed_rows(table, dialect, since, r, page=page, columns=columns) for r in key_ranges]
    return ReadPlan(batch_id, mode, wm, since, columns, scaled, keys, key_ranges, sqls)


def select_list(source_url: str, table: Table, dialect: queries.Dialect, reader) -> tuple[list[str] | None,
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


def key_bounds(source_url, table: Table, dialect, keys: pa.Array | None, reader) -> tuple[int | None, int | None]:
    """Lowest and highest key: from the snapshot when there is one, else asked of the source."""
    if keys is not None:
        return (pc.min(keys).as_py(), pc.max(keys).as_py()) if len(keys) else (None, None)
    batch = next(iter(reader(source_url, queries.key_bounds(table, dialect), 1)), None)
    if batch is None or batch.num_rows == 0:
        return None, None
    return batch.column(0)[0].as_py(), batch.column(1)[0].as_py()


def keyset_pages(page_sql: Callable[[int | None], str], key: str, page_rows: int,
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
