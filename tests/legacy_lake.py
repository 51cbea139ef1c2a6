"""A lake of the project's earlier format, written from a Delta lake's batches, for the conversion test.

The earlier extract wrote each batch as `bronze/<Table>/batch=NNNNNN/` with its rows in `part-00000.parquet`,
every source key at that extract in `keys.parquet` and the commit record `_manifest.json` (docs/lake.md before
the Delta change; `logistics_etl/lake/legacy.py` reads it). Here each Delta commit becomes one such folder: its
rows, the key snapshot of its batch (the keys table at that version) and its manifest. One uncommitted folder
(parts, no manifest) is added too, as a killed extract left them.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from deltalake import DeltaTable

from logistics_etl.contract import TABLES
from logistics_etl.lake.delta import Lake


def write_legacy_lake(lake: Lake, old_root: Path) -> int:
    """Write `lake`'s batches in the earlier format under `old_root`; returns how many batches."""
    written = 0
    for t in TABLES:
        manifests = lake.manifests(t.name)
        for i, m in enumerate(manifests):
            folder = old_root / "bronze" / t.name / f"batch={m.batch_id:06d}"
            folder.mkdir(parents=True)
            rows = lake.read_columns(t.name, [m], None)
            pq.write_table(rows, folder / "part-00000.parquet", compression="zstd")
            keys = DeltaTable(lake.keys_uri(t.name), version=i).to_pyarrow_table().column(0)
            pq.write_table(pa.table({t.key: keys}), folder / "keys.parquet")
            record = {k: v for k, v in asdict(m).items() if k != "version"}
            # its rows in one part here; the bytes the extract staged, as its manifest said
            record["files"] = [{"name": "part-00000.parquet", "rows": rows.num_rows, "bytes": m.bytes}]
            (folder / "_manifest.json").write_text(json.dumps(record))
            written += 1
        uncommitted = old_root / "bronze" / t.name / f"batch={len(manifests) + 1:06d}"
        uncommitted.mkdir()
        pq.write_table(lake.read_columns(t.name, manifests[:1], None), uncommitted / "part-00000.parquet")
    return written

