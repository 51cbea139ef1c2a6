"""The lake on Azure Blob Storage / ADLS Gen2 (and Azurite), through fsspec's adlfs.

Same layout as the local lake (`bronze/<Table>/batch=NNNNNN/...`), but blob
storage has no atomic rename of a folder, so the commit protocol differs:

1. the batch is written to a local staging folder, exactly as for the local lake;
2. its data files and key snapshot are uploaded into `batch=NNNNNN/` (each blob
   appears whole or not at all: a block blob is visible only once its block
   list is committed);
3. `_manifest.json` is uploaded last. **The manifest is the commit.**

Readers are manifest-gated: this class lists only batches that have a manifest
and reads only the files the manifest names, and the dbt sources join each part
file to the manifests (`_bronze.yml`), so the parts of a batch whose upload was
cut off are never read. The next extract of that table deletes them before it
writes the same batch id again.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from logistics_etl.lake.batches import BATCH_RE, KEYS_FILE, MANIFEST, Lake, LakeError, Manifest
from logistics_etl.settings import BLOB_SCHEMES


def is_blob_url(root: str | Path) -> bool:
    return isinstance(root, str) and root.startswith(BLOB_SCHEMES)


class BlobLake(Lake):
    """A lake in a blob container: `abfs://<container>/<prefix>`."""

    def __init__(self, url: str, connection_string: str):
        if not is_blob_url(url):
            raise LakeError(f"lake root {url!r} is not a blob URL (abfs://<container>/<path>)")
        if not connection_string:
            raise LakeError(f"lake {url}: no credentials (an Azure Storage connection string or SAS token)")
        import adlfs

        self.url = url.rstrip("/")
        self._path = self.url.split("://", 1)[1]  # container/prefix, as adlfs names paths
        self.fs = adlfs.AzureBlobFileSystem(connection_string=connection_string)
        self.root = self.url  # for messages; Path operations are never used on a blob lake

    def __repr__(self) -> str:
        return f"BlobLake({self.url!r})"

    def _table(self, table: str) -> str:
        return f"{self._path}/bronze/{table}"

    def _batch(self, table: str, batch_id: int) -> str:
        return f"{self._table(table)}/batch={batch_id:06d}"

    def ensure_container(self) -> None:
        container = self._path.split("/", 1)[0]
        if not self.fs.exists(container):
            self.fs.mkdir(container)

    # ------------------------------------------------------------------ reading
    def manifests(self, table: str) -> list[Manifest]:
        """Committed batches of a table, oldest first. A table gains a manifest a night, so they are
        fetched 16 at a time: one request after another, a year of them cost 365 round trips a table (adlfs's
        own multi-path `cat` sends them one after another too; benchmarks/blob_manifests.py)."""
        self.fs.invalidate_cache()
        paths = sorted(self.fs.glob(f"{self._table(table)}/batch=*/{MANIFEST}"))

        def read(mpath: str) -> Manifest:
            try:
                return Manifest.from_json(self.fs.cat_file(mpath).decode())
            except (OSError, ValueError, TypeError) as exc:
                raise LakeError(f"table {table}: committed batch has an unreadable manifest ({mpath}): {exc}") from None

        with ThreadPoolExecutor(max_workers=16, thread_name_prefix=f"manifests-{table}") as pool:
            return list(pool.map(read, paths))

    def latest_keys(self, table: str, manifests: list[Manifest] | None = None) -> pa.Array | None:
        for m in reversed(manifests if manifests is not None else self.manifests(table)):
            kpath = f"{self._batch(table, m.batch_id)}/{KEYS_FILE}"
            if self.fs.exists(kpath):
                with self.fs.open(kpath, "rb") as fh:
                    return pq.read_table(fh).column(0).combine_chunks()
        return None

    def read_columns(self, table: str, batches: list[Manifest], columns: list[str] | None) -> pa.Table | None:
        # only the files a manifest names: never a cut-off upload (the caller's manifests, not listed again)
        parts = [f"{self._batch(table, m.batch_id)}/{f['name']}" for m in batches for f in m.files]
        if not parts:
            return None
        tables = []
        for p in parts:
            with self.fs.open(p, "rb") as fh:
                tables.append(pq.read_table(fh, columns=columns))
        return pa.concat_tables(tables)

    # ------------------------------------------------------------------ writing
    @contextmanager
    def stage(self, table: str, batch_id: int) -> Iterator[Path]:
        """A local folder for the batch's files; uploaded by `commit`, removed either way."""
        staging = Path(tempfile.mkdtemp(prefix=f"lake-{table}-batch={batch_id:06d}-"))
        try:
            yield staging
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def commit(self, staging: Path, manifest: Manifest) -> str:
        """Upload the batch's files, then its manifest: the manifest makes the batch visible."""
        final = self._batch(manifest.table, manifest.batch_id)
        if self.fs.exists(f"{final}/{MANIFEST}"):
            raise LakeError(f"table {manifest.table}: batch {manifest.batch_id} is already committed at "
                            f"{self.url}/bronze/{manifest.table}; another extract of this table ran at the same time")
        try:
            for f in sorted(staging.iterdir()):
                if f.name != MANIFEST:
                    self.fs.put_file(str(f), f"{final}/{f.name}")
            self.fs.pipe_file(f"{final}/{MANIFEST}", json.dumps(asdict(manifest), indent=2, sort_keys=True).encode())
        except Exception as exc:
            raise LakeError(f"table {manifest.table}: batch {manifest.batch_id} could not be uploaded to "
                            f"{self.url}: {exc}") from exc
        return f"{self.url}/bronze/{manifest.table}/batch={manifest.batch_id:06d}"

    def clean_staging(self, table: str) -> int:
        """Delete the uploaded parts of batches that never got a manifest (an interrupted commit)."""
        tdir = self._table(table)
        self.fs.invalidate_cache()
        if not self.fs.exists(tdir):
            return 0
        removed = 0
        for entry in self.fs.ls(tdir, detail=False):
            name = entry.rstrip("/").rsplit("/", 1)[-1]
            if BATCH_RE.match(name) and not self.fs.exists(f"{entry}/{MANIFEST}"):
                self.fs.rm(entry, recursive=True)
                removed += 1
        self.fs.invalidate_cache()
        return removed
