"""Progress of a table's extract: the rows read so far, reported while it runs."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


class Progress:
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
