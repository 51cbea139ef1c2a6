"""Keeping the lake's Delta tables healthy: their history, compaction (OPTIMIZE) and VACUUM.

Each extract adds a few small files to its table; `optimize` rewrites a table's small files into large ones
(a new version: readers of older versions keep theirs). `vacuum` deletes the files that no version within
the retention window references, and files that no commit references (a killed extract's) once they are
older than the window. The window never goes below `MIN_RETENTION_HOURS`: a night's dbt build reads the
version it started with, an extract's files exist before its commit, and `--as-of` rebuilds read old
versions, so a shorter one could delete what an unfinished night still needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from logistics_etl.lake.delta import Lake, LakeError, Manifest

MIN_RETENTION_HOURS = 24
DEFAULT_RETENTION_HOURS = 168  # a week of nights can be rebuilt `--as-of` (LOGISTICS_LAKE_RETENTION_HOURS)


@dataclass(frozen=True)
class Commit:
    table: str
    version: int
    at: datetime
    operation: str
    batch: Manifest | None  # the extract's manifest; None for upkeep commits


def history(lake: Lake, table: str, last: int | None = None) -> list[Commit]:
    """A table's commits, newest first: every extract (with its manifest) and every OPTIMIZE or VACUUM."""
    dt = lake.delta_table(table)
    if dt is None:
        return []
    out = []
    for entry in dt.history(last):
        out.append(Commit(table, entry.get("version", -1), datetime.fromtimestamp(entry["timestamp"] / 1000, UTC),
                          entry.get("operation", "?"), Manifest.from_commit(entry)))
    return out


def optimize(lake: Lake, table: str, target_size: int | None = None) -> dict:
    """Compact the table's small files into files of about `target_size` bytes (delta-rs's default: 100 MB)."""
    dt = lake.delta_table(table)
    if dt is None:
        return {"table": table, "files_added": 0, "files_removed": 0}
    try:
        metrics = dt.optimize.compact(target_size=target_size)
    except Exception as exc:
        raise LakeError(f"table {table}: OPTIMIZE failed: {str(exc).splitlines()[0][:300]}") from None
    return {"table": table, "files_added": metrics.get("numFilesAdded", 0),
            "files_removed": metrics.get("numFilesRemoved", 0)}


def vacuum(lake: Lake, table: str, retention_hours: int = DEFAULT_RETENTION_HOURS, dry_run: bool = False) -> list[str]:
    """Delete the files no version of the last `retention_hours` references; returns them (dry run: lists)."""
    if retention_hours < MIN_RETENTION_HOURS:
        raise LakeError(f"vacuum retention of {retention_hours} hours is under the minimum of {MIN_RETENTION_HOURS}: "
                        f"it could delete files an unfinished night still reads or is about to commit")
    dt = lake.delta_table(table)
    if dt is None:
        return []
    try:
        # full: files no commit names (a killed extract's) too, once older than the window, as the files removed by one
        return list(dt.vacuum(retention_hours=retention_hours, dry_run=dry_run, enforce_retention_duration=False,
                              full=True))
    except Exception as exc:
        raise LakeError(f"table {table}: VACUUM failed: {str(exc).splitlines()[0][:300]}") from None
