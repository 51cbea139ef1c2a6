"""Converting a lake of the project's earlier format into Delta tables, once (`logistics lake convert`).

The earlier format kept each extract as a folder `bronze/<Table>/batch=NNNNNN/` of Parquet parts, a key
snapshot `keys.parquet` and the commit record `_manifest.json` (a batch existed once its manifest did). Each
committed batch becomes one Delta commit of its table, in batch order, carrying its manifest, so batch ids,
watermarks and the extract audit carry over; the newest batch's key snapshot becomes the table's. Folders
without a manifest (uncommitted) are skipped, as every reader of that format skipped them.

The old lake is read from a local folder (copy a blob lake down first, e.g. with `azcopy`); the Delta lake is
written where `LAKE_ROOT` says, local or `abfs://`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path

import pyarrow.parquet as pq

from logistics_etl.lake.delta import Lake, LakeError, Manifest

BATCH_RE = re.compile(r"^batch=(\d{6,})$")
OLD_MANIFEST = "_manifest.json"
OLD_KEYS = "keys.parquet"


def committed_batches(old_root: Path, table: str) -> list[tuple[Path, Manifest]]:
    """The committed batch folders of a table in the old lake, in batch order, with their manifests."""
    folder = old_root / "bronze" / table
    found = []
    for entry in sorted(folder.iterdir()) if folder.exists() else []:
        if not BATCH_RE.match(entry.name) or not (entry / OLD_MANIFEST).exists():
            continue
        try:
            raw = json.loads((entry / OLD_MANIFEST).read_text())
        except ValueError as exc:
            raise LakeError(f"table {table}: {entry / OLD_MANIFEST} is not JSON: {exc}") from None
        known = {f.name for f in fields(Manifest)}
        found.append((entry, Manifest(**{k: v for k, v in raw.items() if k in known})))
    return sorted(found, key=lambda pair: pair[1].batch_id)


def convert_table(old_root: Path, lake: Lake, table: str,
                  progress: Callable[[str], None] = print) -> int:
    """Commit every committed batch of `table` of the old lake to `lake`'s Delta table; returns how many."""
    if lake.manifests(table):
        raise LakeError(f"table {table}: {lake.table_uri(table)} already has commits; convert into an empty lake")
    batches = committed_batches(old_root, table)
    for i, (folder, manifest) in enumerate(batches):
        parts = [folder / f["name"] for f in manifest.files] or sorted(folder.glob("part-*.parquet"))
        missing = [p.name for p in parts if not p.exists()]
        if missing:
            raise LakeError(f"table {table}: batch {manifest.batch_id} names files that are gone: {missing}")
        # the newest batch's key snapshot becomes the table's; with none, the live keys are derived from the data
        keys = None
        if i == len(batches) - 1 and (folder / OLD_KEYS).exists():
            keys = pq.read_table(folder / OLD_KEYS).column(0).combine_chunks()
        with lake.stage(table, manifest.batch_id) as staging:
            for p in parts:  # the parts as they are: the commit rewrites them into the table's files
                (staging / p.name).symlink_to(p.resolve())
            lake.commit(staging, manifest, keys)
        progress(f"{table:<15} batch {manifest.batch_id:>6} -> version {i}")
    return len(batches)
