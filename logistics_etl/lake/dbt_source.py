"""How dbt on DuckDB reads the lake: a dbt-duckdb source plugin (dbt-duckdb's documented extension point).

DuckDB's own Delta extension cannot be installed here, so the `dev` target's profile loads this module as
the plugin `lake` (profiles/profiles.yml), and the lake sources of `_bronze.yml` name it:

* `source('lake', '<Table>')` is the table's Delta snapshot as an Arrow dataset (delta-rs reads the log):
  DuckDB scans it lazily and pushes filters down, so an incremental bronze run's `_batch_id > n` opens only
  the files of the new commits (each file's `_batch_id` statistics are in the log).
* `source('lake_audit', 'batches')` is one row per extract commit of every table: its manifest (the nine
  tables' logs read at once).

With `empty` (the `lint` target) every source is an empty table of the contract's columns. With `as_of`
in the plugin's config (LAKE_AS_OF: an ISO time), every table is read as it was then, and the
audit lists only the commits made by then: silver and gold as of a past night (`logistics rebuild
--as-of`). Credentials of a blob lake come from AZURE_STORAGE_CONNECTION_STRING, never from the profile.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

import pyarrow as pa
from dbt.adapters.duckdb.plugins import BasePlugin
from dbt.adapters.duckdb.utils import SourceConfig

from logistics_etl.contract import TABLES, get_table
from logistics_etl.lake.delta import META_FIELDS, Lake, LakeError, Manifest

FILE = pa.struct([("name", pa.string()), ("rows", pa.int64()), ("bytes", pa.int64())])
AUDIT_SCHEMA = pa.schema([
    ("table", pa.string()), ("batch_id", pa.int64()), ("mode", pa.string()), ("rows", pa.int64()),
    ("deleted_rows", pa.int64()), ("files", pa.list_(FILE)), ("seconds", pa.float64()), ("key_count", pa.int64()),
    ("watermark_column", pa.string()), ("watermark_from", pa.string()), ("watermark_to", pa.string()),
    ("extracted_at", pa.timestamp("us", tz="UTC")), ("committed_at", pa.timestamp("us", tz="UTC")),
    ("run_id", pa.string()), ("version", pa.int64()),
])


def parse_as_of(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise LakeError(f"LAKE_AS_OF={text!r} is not an ISO time (e.g. 2025-06-02T02:30:00+00:00)") from None
    if moment.tzinfo is None:
        raise LakeError(f"LAKE_AS_OF={text!r} has no time zone (e.g. 2025-06-02T02:30:00+00:00)")
    return moment


def audit_rows(manifests: list[Manifest]) -> pa.Table:
    """The audit source's rows: a manifest per row, typed (AUDIT_SCHEMA)."""
    columns: dict[str, list] = {name: [] for name in AUDIT_SCHEMA.names}
    for m in manifests:
        for name in AUDIT_SCHEMA.names:
            value = getattr(m, name)
            if name in ("extracted_at", "committed_at"):
                value = datetime.fromisoformat(value) if value else None
            columns[name].append(value)
    return pa.table(columns, schema=AUDIT_SCHEMA)


class Plugin(BasePlugin):
    def initialize(self, plugin_config: dict[str, Any]) -> None:
        self.root = plugin_config.get("root") or "data/lake"
        self.as_of = parse_as_of(plugin_config.get("as_of"))
        self.empty = bool(plugin_config.get("empty"))

    def _lake(self) -> Lake:
        return Lake(self.root, os.environ.get("AZURE_STORAGE_CONNECTION_STRING"))

    def load(self, source_config: SourceConfig):
        if self.empty:  # the lint target: no lake, the contract's columns
            if source_config.get("lake_read") == "commits":
                return AUDIT_SCHEMA.empty_table()
            table = get_table(source_config.identifier)
            return pa.schema([pa.field(c.name, c.arrow_type) for c in table.columns] + META_FIELDS).empty_table()
        lake = self._lake()
        if source_config.get("lake_read") == "commits":
            def commits(table: str) -> list[Manifest]:
                last = None if self.as_of is None else self._table(lake, table).version()
                return [m for m in lake.manifests(table) if last is None or m.version <= last]

            # every commit's metadata is a file of its own (a request each on Azure): the tables read at once
            with ThreadPoolExecutor(max_workers=len(TABLES), thread_name_prefix="lake-audit") as pool:
                return audit_rows([m for found in pool.map(commits, [t.name for t in TABLES]) for m in found])
        return self._table(lake, source_config.identifier).to_pyarrow_dataset()

    def _table(self, lake: Lake, table: str):
        """The table's snapshot, as of `as_of` when set."""
        try:
            dt = lake.delta_table(table, self.as_of)
        except Exception as exc:  # delta-rs: no version at that time
            raise LakeError(f"table {table}: no snapshot as of {self.as_of} in {lake.table_uri(table)}: "
                            f"{str(exc).splitlines()[0][:300]}") from None
        if dt is None:
            raise LakeError(f"table {table}: no Delta table at {lake.table_uri(table)}; run the extract first "
                            f"(`logistics extract`)")
        return dt

    def default_materialization(self) -> str:
        return "view"
