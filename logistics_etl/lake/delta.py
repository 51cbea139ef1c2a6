"""The data lake: one Delta table per source table, one commit per extract (delta-rs, no JVM).

Layout under the lake root (a local folder or `abfs://<container>/<path>`, the same code)::

    bronze/<Table>/_delta_log/...      the table's transaction log: a commit per extract (`Manifest`)
    bronze/<Table>/part-*.parquet      its data files: changed rows and delete tombstones
    keys/<Table>/...                   a Delta table of its own: every source key at the last extract
    _staging/<Table>/batch=N.<random>/ a local lake's batch being written; never read

An extract streams its batch to Parquet parts in a staging folder, moves (or
uploads) them into the table's folder and adds them to the table's Delta log
in one commit whose metadata holds the batch's `Manifest` (batch id,
watermark, counts, run id), through delta-rs's public transaction API
(`create_write_transaction`): rows and watermark become visible together or
not at all, and the files are the extract's own (its encodings, no rewrite). The watermark and
the next batch id are read back from that metadata (`manifests`), so neither
can move ahead of the data. Files of a commit that never happened (a killed
extract) are in no snapshot, are never read, and `vacuum` removes them.

The key snapshot is committed after the data, with its batch id in the commit's
metadata; when it lags the data (a crash between the two commits), the live
keys are derived from the data table instead (`latest_keys`).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from logistics_etl.lake.errors import LakeError, first_line
from logistics_etl.lake.files import evolve_schema, file_statistics
from logistics_etl.lake.manifest import MANIFEST_KEY, Manifest
from logistics_etl.lake.storage import delta_storage_options, first_child, is_blob_url, upload

META_FIELDS = [  # the load metadata every landed row carries, after the source's columns
    pa.field("_batch_id", pa.int64(), nullable=False),
    pa.field("_extracted_at", pa.timestamp("us", tz="UTC"), nullable=False),
    pa.field("_is_deleted", pa.bool_(), nullable=False),
]
HISTORY_PAGE = 16  # commits read at once by `Lake.manifests` when it may stop early
OLD_BATCH_PREFIX = "batch="  # a batch folder of the lake's earlier format (lake/legacy.py), which is refused
# Table properties, set when a table is created: statistics on every column (the load metadata comes after the
# source's columns, and readers prune files by `_batch_id`); the log's JSON commits kept (the Spark reader lists
# them, macros/lake_tables.sql); a checkpoint every 10 commits (a reader opening the table replays at most 9
# commits after it: benchmarks/lake_reads.py)
TABLE_CONFIGURATION = {"delta.dataSkippingNumIndexedCols": "-1", "delta.enableExpiredLogCleanup": "false",
                       "delta.checkpointInterval": "10"}


class Lake:
    """A lake of Delta tables under `root`: a local folder, or `abfs://<container>/<path>` with the credentials
    of an Azure Storage connection string (account key or SAS)."""

    def __init__(self, root: Path | str, connection_string: str | None = None):
        root = str(root)
        self.is_blob = is_blob_url(root)
        if self.is_blob:
            if not connection_string:
                raise LakeError(f"lake {root}: no credentials (an Azure Storage connection string or SAS token)")
            self.root: Path | str = root.rstrip("/")
        else:
            self.root = Path(root).resolve()
            if blocker := next((p for p in (self.root, *self.root.parents) if p.exists() and not p.is_dir()), None):
                raise LakeError(f"lake {self.root}: {blocker} is a file, not a folder (LAKE_ROOT or --lake)")
        self.storage_options = delta_storage_options(connection_string) if self.is_blob else None
        self._connection_string = connection_string

    def __repr__(self) -> str:
        return f"Lake({str(self.root)!r})"

    def table_uri(self, table: str) -> str:
        return f"{self.root}/bronze/{table}"

    def keys_uri(self, table: str) -> str:
        return f"{self.root}/keys/{table}"

    def delta_table(self, table: str, version: int | str | datetime | None = None):
        """The table's `deltalake.DeltaTable` (at a version or time when given); None before its first commit."""
        from deltalake import DeltaTable
        from deltalake.exceptions import TableNotFoundError

        try:
            dt = DeltaTable(self.table_uri(table), storage_options=self.storage_options)
        except TableNotFoundError:
            if old := self.old_format_batch(table):
                raise LakeError(f"table {table}: {self.table_uri(table)} holds batch folders of the lake's earlier "
                                f"format ({old}), not a Delta table; convert the lake first: logistics lake "
                                f"convert --from OLD_LAKE into a new LAKE_ROOT") from None
            return None
        except Exception as exc:
            raise LakeError(f"table {table}: the Delta table at {self.table_uri(table)} cannot be opened: "
                            f"{first_line(exc)}") from None
        if version is not None:
            dt.load_as_version(version)
        return dt

    def old_format_batch(self, table: str) -> str | None:
        """The first batch folder of the earlier format (`batch=NNNNNN/`, lake/legacy.py) in the table's folder,
        if there is one: a lake of that format is converted, never written beside."""
        return first_child(self.table_uri(table), OLD_BATCH_PREFIX, self._connection_string)

    # ------------------------------------------------------------------ reading
    def manifests(self, table: str, enough: Callable[[list[Manifest]], bool] | None = None) -> list[Manifest]:
        """The extracts committed to a table, oldest first (commits by upkeep, e.g. OPTIMIZE, have none).

        Every commit's metadata is a file of its own in the Delta log (a request each on Azure: a year of
        nights is 365). With `enough`, the newest commits are read first, in pages growing fourfold, until
        `enough(manifests read so far)` is true or the history ends: the extract reads only back to its overlap
        window (extract/plan.py `enough_history`)."""
        dt = self.delta_table(table)
        if dt is None:
            return []
        limit = None if enough is None else HISTORY_PAGE
        while True:
            try:
                history = dt.history(limit)
            except Exception as exc:
                raise LakeError(f"table {table}: the Delta log at {self.table_uri(table)} cannot be read: "
                                f"{first_line(exc)}") from None
            found = []
            for commit in reversed(history):
                try:
                    manifest = Manifest.from_commit(commit)
                except (ValueError, TypeError) as exc:
                    raise LakeError(f"table {table}: commit {commit.get('version')} has unreadable batch "
                                    f"metadata ({MANIFEST_KEY}): {exc}") from None
                if manifest is not None:
                    found.append(manifest)
            if limit is None or len(history) < limit or (found and enough(found)):
                return found
            limit *= 4

    def latest_keys(self, table: str, key: str, manifests: list[Manifest] | None = None) -> pa.Array | None:
        """Every key the source held at the last committed extract: the key snapshot when it is that extract's,
        else (a crash between the data's commit and the keys') the keys whose newest version is not a
        tombstone, read from the data."""
        manifests = self.manifests(table, enough=lambda _: True) if manifests is None else manifests
        if not manifests:
            return None
        from deltalake import DeltaTable
        from deltalake.exceptions import TableNotFoundError

        try:
            keys = DeltaTable(self.keys_uri(table), storage_options=self.storage_options)
            snapshot_of = next((c.get("batch_id") for c in keys.history(1)), None)
        except TableNotFoundError:
            keys, snapshot_of = None, None
        if keys is not None and snapshot_of == str(manifests[-1].batch_id):
            return keys.to_pyarrow_table().column(0).combine_chunks().cast(pa.int64())
        # every batch's rows, not only the recent ones the caller may have read
        versions = self.read_columns(table, self.manifests(table), [key, "_batch_id", "_is_deleted"])
        if versions is None:
            return pa.nulls(0, pa.int64())
        newest = versions.group_by(key).aggregate([("_batch_id", "max")])
        last = versions.join(newest, keys=[key, "_batch_id"], right_keys=[key, "_batch_id_max"], join_type="inner")
        return pc.filter(last.column(key), pc.invert(last.column("_is_deleted"))).combine_chunks().cast(pa.int64())

    def read_columns(self, table: str, batches: list[Manifest], columns: list[str] | None) -> pa.Table | None:
        """The given columns of the rows of the committed batches `batches` (files pruned by `_batch_id`)."""
        import pyarrow.dataset as ds  # here, not at the top: it imports pandas (0.5 s), which a full extract skips

        dt = self.delta_table(table)
        if dt is None or not batches:
            return None
        ids = pa.array(sorted({m.batch_id for m in batches}), pa.int64())
        dataset = dt.to_pyarrow_dataset()
        return dataset.to_table(columns=columns, filter=(ds.field("_batch_id") >= ids[0].as_py())
                                & (ds.field("_batch_id") <= ids[-1].as_py()) & ds.field("_batch_id").isin(ids))

    # ------------------------------------------------------------------ writing
    @contextmanager
    def stage(self, table: str, batch_id: int) -> Iterator[Path]:
        """A private local folder for a batch's Parquet parts, removed once committed or on error."""
        if self.is_blob:
            staging = Path(tempfile.mkdtemp(prefix=f"lake-{table}-batch={batch_id:06d}-"))
        else:
            staging = self.root / "_staging" / table / f"batch={batch_id:06d}.{uuid.uuid4().hex[:8]}"
            staging.mkdir(parents=True)
        try:
            yield staging
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def commit(self, staging: Path, manifest: Manifest, keys: pa.Array | None) -> int:
        """Add the staged Parquet parts to the table as they are, in one Delta commit carrying the manifest, then
        replace the key snapshot (unless `keys` is None); returns the table version. The parts are moved (local)
        or uploaded (blob) into the table's folder first: until the commit names them no reader sees them. A new
        source column is added to the table's schema first (an additive change, a commit of its own); a column
        whose type changed fails the table, naming it."""
        from deltalake import CommitProperties, Schema
        from deltalake.transaction import create_table_with_add_actions

        parts = sorted(p for p in staging.glob("*.parquet") if pq.read_metadata(p).num_rows)
        schema = pq.read_schema(sorted(staging.glob("*.parquet"))[0]) if any(staging.glob("*.parquet")) else None
        table = self.delta_table(manifest.table)
        if table is not None and schema is not None:
            evolve_schema(table, manifest.table, schema)
        actions = [self._add(manifest.table, part, manifest.batch_id, i) for i, part in enumerate(parts)]
        commit = CommitProperties(custom_metadata={MANIFEST_KEY: manifest.to_json()})
        try:
            if table is None:
                create_table_with_add_actions(self.table_uri(manifest.table), Schema.from_arrow(schema), actions,
                                              mode="append", configuration=TABLE_CONFIGURATION,
                                              storage_options=self.storage_options, commit_properties=commit)
            else:
                table.create_write_transaction(actions, mode="append", schema=table.schema(),
                                               commit_properties=commit)
        except Exception as exc:
            raise LakeError(f"table {manifest.table}: batch {manifest.batch_id} could not be committed to "
                            f"{self.table_uri(manifest.table)}: {first_line(exc)}") from None
        version = self.delta_table(manifest.table).version()
        if keys is not None:
            self.write_keys(manifest.table, manifest.batch_id, keys)
        return version

    def _add(self, table: str, part: Path, batch_id: int, index: int):
        """Place one staged part in the table's folder under a name of its own; its add action, with statistics."""
        name = f"part-{batch_id:06d}-{index:05d}-{uuid.uuid4().hex}.zstd.parquet"
        return self._add_file(self.table_uri(table), part, name)

    def _add_file(self, table_uri: str, part: Path, name: str):
        """Move (local) or upload (blob) a Parquet file into a Delta table's folder as `name`; its add action,
        with the statistics of its footer. No reader sees it until a commit names it."""
        from deltalake.transaction import AddAction

        size = part.stat().st_size
        stats = json.dumps(file_statistics(pq.read_metadata(part)))
        if self.is_blob:
            upload(self._connection_string, part, f"{table_uri}/{name}")
        else:
            target = Path(table_uri)
            target.mkdir(parents=True, exist_ok=True)
            os.replace(part, target / name)
        return AddAction(name, size, {}, int(time.time() * 1000), True, stats)

    def write_keys(self, table: str, batch_id: int, keys: pa.Array | pa.ChunkedArray) -> None:
        """Replace the table's key snapshot with `keys`, the snapshot of batch `batch_id` (in its commit): one
        Parquet file of its own (delta-encoded, zstd: keys in ascending runs take a few bytes each, where the
        default encoding takes eight), committed over the previous one (overwrite)."""
        from deltalake import CommitProperties, Schema
        from deltalake.transaction import create_table_with_add_actions

        column = pa.table({"key": keys.cast(pa.int64())})
        commit = CommitProperties(custom_metadata={"batch_id": str(batch_id)})
        with tempfile.TemporaryDirectory(prefix=f"lake-{table}-keys-") as tmp:
            part = Path(tmp) / "keys.parquet"
            pq.write_table(column, part, compression="zstd", use_dictionary=False,
                           column_encoding={"key": "DELTA_BINARY_PACKED"})
            try:
                add = self._add_file(self.keys_uri(table), part, f"keys-{batch_id:06d}-{uuid.uuid4().hex}.parquet")
                keys_table = self._open(self.keys_uri(table))
                if keys_table is None:
                    create_table_with_add_actions(self.keys_uri(table), Schema.from_arrow(column.schema), [add],
                                                  mode="append", storage_options=self.storage_options,
                                                  commit_properties=commit)
                else:
                    keys_table.create_write_transaction([add], mode="overwrite", schema=keys_table.schema(),
                                                        commit_properties=commit)
            except Exception as exc:  # the data is committed; the next extract derives the keys from it
                raise LakeError(f"table {table}: batch {batch_id} is committed but its key snapshot could not be "
                                f"written to {self.keys_uri(table)}: {first_line(exc)}") from None

    def _open(self, uri: str):
        """The Delta table at `uri`, or None if there is none yet."""
        from deltalake import DeltaTable
        from deltalake.exceptions import TableNotFoundError

        try:
            return DeltaTable(uri, storage_options=self.storage_options)
        except TableNotFoundError:
            return None

    def clean_staging(self, table: str) -> int:
        """Remove what a crashed writer of `table` left in a local lake's `_staging/`; returns how many batches.

        Safe because one extract per table runs at a time (the DAG has max_active_runs=1)."""
        if self.is_blob:
            return 0
        sdir = self.root / "_staging" / table
        if not sdir.exists():
            return 0
        leftovers = list(sdir.iterdir())
        for p in leftovers:
            shutil.rmtree(p, ignore_errors=True)
        return len(leftovers)
