"""The data lake: batches of Parquet per source table, committed atomically.

Layout under the lake root::

    bronze/<Table>/batch=000042/part-00000.parquet   changed rows (and delete tombstones)
    bronze/<Table>/batch=000042/keys.parquet         every key in the source at extract time
    bronze/<Table>/batch=000042/_manifest.json       rows, watermark range, schema, files, timing
    _staging/<Table>/batch=000042.<random>/          a batch being written; never read

A batch is written in `_staging/` and becomes visible with one directory rename,
so a reader globbing `batch=*/part-*.parquet` never sees a partial batch, and
the manifest inside it is the commit record: watermarks are derived from the
committed manifests, so the watermark cannot move ahead of the data.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

MANIFEST = "_manifest.json"
KEYS_FILE = "keys.parquet"
BATCH_RE = re.compile(r"^batch=(\d{6,})$")


class LakeError(RuntimeError):
    """The lake is unreadable or a batch cannot be committed; the message names the table."""


@dataclass
class Manifest:
    table: str
    batch_id: int
    mode: str  # "incremental" or "full"
    watermark_column: str
    watermark_from: str | None  # exclusive lower bound used by the query (ISO text or key)
    watermark_to: str | None  # highest watermark value among the rows read
    rows: int
    deleted_rows: int
    files: list[dict] = field(default_factory=list)
    schema: list[dict] = field(default_factory=list)
    new_columns: list[str] = field(default_factory=list)
    key_count: int | None = None
    extracted_at: str = ""
    committed_at: str = ""
    seconds: float = 0.0
    source: str = ""
    run_id: str = ""

    @property
    def bytes(self) -> int:
        return sum(f["bytes"] for f in self.files)

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        return cls(**json.loads(text))


class Lake:
    """A lake on the local file system (the default, and the layout every backend follows)."""

    def __init__(self, root: Path | str):
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"Lake({str(self.root)!r})"

    def table_dir(self, table: str) -> Path:
        return self.root / "bronze" / table

    def batch_dir(self, table: str, batch_id: int) -> Path:
        return self.table_dir(table) / f"batch={batch_id:06d}"

    # ------------------------------------------------------------------ reading
    def manifests(self, table: str) -> list[Manifest]:
        """Committed batches of a table, oldest first."""
        tdir = self.table_dir(table)
        if not tdir.exists():
            return []
        out = []
        for entry in sorted(tdir.iterdir()):
            if not BATCH_RE.match(entry.name):
                continue
            mpath = entry / MANIFEST
            try:
                out.append(Manifest.from_json(mpath.read_text()))
            except (OSError, ValueError, TypeError) as exc:
                raise LakeError(f"table {table}: committed batch {entry.name} has an unreadable manifest "
                                f"({mpath}): {exc}") from None
        return out

    def latest_keys(self, table: str, manifests: list[Manifest] | None = None) -> pa.Array | None:
        """The key snapshot of the newest committed batch that has one."""
        for m in reversed(manifests if manifests is not None else self.manifests(table)):
            kpath = self.batch_dir(table, m.batch_id) / KEYS_FILE
            if kpath.exists():
                return pq.read_table(kpath).column(0).combine_chunks()
        return None

    def read_columns(self, table: str, batches: list[Manifest], columns: list[str] | None) -> pa.Table | None:
        """The given columns of the committed batches `batches` (their manifests, as `manifests` returns them)."""
        paths = [p for m in batches for p in sorted(self.batch_dir(table, m.batch_id).glob("part-*.parquet"))]
        if not paths:
            return None
        return pa.concat_tables(pq.read_table(p, columns=columns) for p in paths)

    # ------------------------------------------------------------------ writing
    @contextmanager
    def stage(self, table: str, batch_id: int) -> Iterator[Path]:
        """A private folder for a batch; removed on error, left for `commit` on success."""
        staging = self.root / "_staging" / table / f"batch={batch_id:06d}.{uuid.uuid4().hex[:8]}"
        staging.mkdir(parents=True)
        try:
            yield staging
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise

    def commit(self, staging: Path, manifest: Manifest) -> Path:
        """Write the manifest, fsync, and publish the batch with one atomic rename."""
        mpath = staging / MANIFEST
        with open(mpath, "w") as fh:
            json.dump(asdict(manifest), fh, indent=2, sort_keys=True)
            fh.flush()
            os.fsync(fh.fileno())
        for f in staging.iterdir():
            if f.name != MANIFEST:
                with open(f, "rb") as fh:
                    os.fsync(fh.fileno())
        final = self.batch_dir(manifest.table, manifest.batch_id)
        final.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.rename(staging, final)  # atomic; fails if another writer committed this batch id
        except OSError as exc:
            shutil.rmtree(staging, ignore_errors=True)
            raise LakeError(f"table {manifest.table}: batch {manifest.batch_id} could not be committed "
                            f"to {final}: {exc}") from None
        dfd = os.open(final.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
        return final

    def clean_staging(self, table: str) -> int:
        """Remove what a crashed writer of `table` left in `_staging/`; returns how many batches.

        Safe because one extract per table runs at a time (the DAG has max_active_runs=1)."""
        sdir = self.root / "_staging" / table
        if not sdir.exists():
            return 0
        leftovers = list(sdir.iterdir())
        for p in leftovers:
            shutil.rmtree(p, ignore_errors=True)
        return len(leftovers)


def delta_encoding(schema: pa.Schema) -> dict[str, str]:
    """DELTA_BINARY_PACKED for every column stored as a Parquet INT32/INT64: integers, timestamps and
    decimals up to 18 digits (written with `store_decimal_as_integer`). Ascending keys and clustered times
    leave small deltas; DuckDB and Spark read the encoding (Parquet v2)."""
    return {f.name: "DELTA_BINARY_PACKED" for f in schema
            if pa.types.is_integer(f.type) or pa.types.is_timestamp(f.type)
            or (pa.types.is_decimal(f.type) and f.type.precision <= 18)}


def write_keys(path: Path, key_name: str, keys: pa.Array | pa.ChunkedArray) -> int:
    table = pa.table({key_name: keys})
    pq.write_table(table, path, compression="zstd", use_dictionary=False,
                   column_encoding=delta_encoding(table.schema))
    return path.stat().st_size
