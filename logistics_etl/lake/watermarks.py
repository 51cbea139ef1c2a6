"""Watermarks, derived from the committed batch manifests.

There is no separate watermark store to drift: a table's watermark is the
highest `watermark_to` among its committed batches, so it advances exactly when
a batch is committed and never before. Each commit also records that highest
value so far (`table_watermark`), so the newest commit alone gives it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from logistics_etl.contract import Table
from logistics_etl.lake.delta import Manifest


@dataclass(frozen=True)
class Watermark:
    column: str
    value: datetime | int | None  # None: nothing landed yet, read everything

    def query_from(self, overlap: timedelta) -> datetime | int | None:
        """Exclusive lower bound for the next read: the watermark minus the overlap window."""
        if self.value is None or isinstance(self.value, int):
            return self.value
        return self.value - overlap


def parse_value(table: Table, text: str | None) -> datetime | int | None:
    if text is None:
        return None
    if table.append_only:
        return int(text)
    return datetime.fromisoformat(text)


def format_value(value: datetime | int | None) -> str | None:
    if value is None:
        return None
    return str(value) if isinstance(value, int) else value.isoformat()


def current(table: Table, manifests: list[Manifest]) -> Watermark:
    """The table's watermark after the newest of `manifests` (oldest first): the one it records, else (commits
    written before it was recorded) the highest `watermark_to` of them all."""
    if manifests and manifests[-1].table_watermark is not None:
        return Watermark(table.watermark_column, parse_value(table, manifests[-1].table_watermark))
    values = [parse_value(table, m.watermark_to) for m in manifests if m.watermark_to is not None]
    return Watermark(table.watermark_column, max(values) if values else None)
