"""Crash safety: the extract is killed with SIGKILL at random points (30 runs), again and again, and rerun.

No reader ever sees a partial batch (every visible batch is complete and matches its manifest), and after a
final rerun every current source version has landed exactly once."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq

from logistics_etl.contract import TABLES
from logistics_etl.lake.batches import Lake
from logistics_etl.standin import generator
from tests.test_extract import lake_versions, source_versions

SCRIPT = """
import sys
from logistics_etl.contract import TABLES
from logistics_etl.extract.table import ExtractOptions, extract_table
from logistics_etl.lake.batches import Lake
for t in TABLES:
    extract_table(t, sys.argv[1], Lake(sys.argv[2]), ExtractOptions(batch_size=int(sys.argv[3])))
print("done")
"""


def extract_process(source: Path, lake_root: Path) -> subprocess.Popen:
    # small batches, so that a run is long enough to be killed in every phase
    return subprocess.Popen([sys.executable, "-c", SCRIPT, f"sqlite://{source}", str(lake_root), "700"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def assert_only_whole_batches_visible(lake: Lake) -> int:
    """What a reader globbing batch=*/part-*.parquet sees is exactly what the manifests committed."""
    batches = 0
    for t in TABLES:
        tdir = lake.table_dir(t.name)
        if not tdir.exists():
            continue
        committed = {m.batch_id: m for m in lake.manifests(t.name)}
        for bdir in sorted(tdir.glob("batch=*")):
            manifest = json.loads((bdir / "_manifest.json").read_text())  # a visible batch has its manifest
            assert manifest["batch_id"] in committed
            parts = sorted(p.name for p in bdir.glob("part-*.parquet"))
            assert parts == sorted(f["name"] for f in manifest["files"]), bdir
            rows = sum(pq.read_metadata(bdir / p).num_rows for p in parts)  # every part is a whole file
            assert rows == manifest["rows"] + manifest["deleted_rows"], bdir
            batches += 1
    return batches


def test_sigkill_at_random_points_never_loses_or_duplicates_a_row(source_db: Path, tmp_path: Path):
    lake = Lake(tmp_path / "lake")
    rng = random.Random(20261124)
    first = extract_process(source_db, lake.root)  # lands everything (and compiles a fresh venv's bytecode)
    assert first.wait(timeout=300) == 0, first.stderr.read()
    durations = []
    for _ in range(2):  # how long a warm run takes: the kill window
        started = time.monotonic()
        warm = extract_process(source_db, lake.root)
        assert warm.wait(timeout=300) == 0, warm.stderr.read()
        durations.append(time.monotonic() - started)
    duration = min(durations)
    kills = mid_extract = 0
    for run in range(30):
        if run % 6 == 5:
            generator.advance(source_db, 1)
        before = assert_only_whole_batches_visible(lake)
        proc = extract_process(source_db, lake.root)
        time.sleep(rng.uniform(0.25 * duration, 0.9 * duration))
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            kills += 1
        proc.wait(timeout=60)
        after = assert_only_whole_batches_visible(lake)
        half_written = any(p.iterdir() for p in (lake.root / "_staging").glob("*")) \
            if (lake.root / "_staging").exists() else False
        if 0 < after - before < len(TABLES) or half_written:
            mid_extract += 1
    assert kills >= 20, f"only {kills} of 30 runs were still going when killed (warm run: {duration:.2f}s)"
    assert mid_extract >= 10, f"only {mid_extract} of {kills} kills landed in the middle of an extract"

    final = extract_process(source_db, lake.root)
    out, err = final.communicate(timeout=300)
    assert final.returncode == 0 and "done" in out, err
    assert assert_only_whole_batches_visible(lake) > len(TABLES)
    for t in TABLES:
        versions = lake_versions(lake, t)
        assert max(versions.values()) == 1, f"{t.name}: a version landed twice"
        assert source_versions(source_db, t) <= set(versions), f"{t.name}: a current source version is missing"
    assert not any((lake.root / "_staging" / t.name).exists() and any((lake.root / "_staging" / t.name).iterdir())
                   for t in TABLES), "the final run cleaned what the killed runs left"
