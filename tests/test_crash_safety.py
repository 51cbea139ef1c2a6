"""Crash safety: the extract is killed with SIGKILL at random points (30 runs), again and again, and rerun.

No reader ever sees a partial batch (a table's Delta snapshot holds exactly the rows its committed manifests
count, and no row of a batch that was not committed), and after a final rerun every current source version has
landed exactly once."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from logistics_etl.contract import TABLES
from logistics_etl.lake.delta import Lake
from logistics_etl.standin import generator
from tests.test_extract import lake_versions, source_versions

SCRIPT = """
import os, sys
from logistics_etl.contract import TABLES
from logistics_etl.extract.table import ExtractOptions, extract_table
from logistics_etl.lake.delta import Lake
lake = Lake(sys.argv[2], os.environ.get("AZURE_STORAGE_CONNECTION_STRING"))
for t in TABLES:
    extract_table(t, sys.argv[1], lake, ExtractOptions(batch_size=int(sys.argv[3])))
print("done")
"""


def extract_process(source: Path, lake: Lake) -> subprocess.Popen:
    # small batches, so that a run is long enough to be killed in every phase
    env = {**os.environ, "AZURE_STORAGE_CONNECTION_STRING": lake._connection_string or ""}
    return subprocess.Popen([sys.executable, "-c", SCRIPT, f"sqlite://{source}", str(lake.root), "700"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def assert_only_whole_batches_visible(lake: Lake) -> int:
    """What a reader of each table's Delta snapshot sees is exactly what the committed manifests count."""
    batches = 0
    for t in TABLES:
        dt = lake.delta_table(t.name)
        if dt is None:
            continue
        committed = {m.batch_id: m for m in lake.manifests(t.name)}
        counts = dt.to_pyarrow_table(columns=["_batch_id"]).column("_batch_id").value_counts().to_pylist()
        seen = {c["values"]: c["counts"] for c in counts}
        assert set(seen) <= set(committed), f"{t.name}: rows of uncommitted batches {set(seen) - set(committed)}"
        for batch_id, m in committed.items():
            assert seen.get(batch_id, 0) == m.rows + m.deleted_rows, (t.name, batch_id)
        batches += len(committed)
    return batches


def uncommitted_files(lake: Lake) -> int:
    """Data files of a local table's folder that no commit added: a write killed before its commit."""
    found = 0
    for t in TABLES if not lake.is_blob else []:
        dt = lake.delta_table(t.name)
        if dt is not None:
            live = {p.rsplit("/", 1)[-1] for p in dt.file_uris()}
            found += sum(1 for p in (lake.root / "bronze" / t.name).glob("*.parquet") if p.name not in live)
    return found


@pytest.mark.parametrize("where, runs", [("local", 30), ("azurite", 6)])
def test_sigkill_at_random_points_never_loses_or_duplicates_a_row(request, where: str, runs: int, source_db: Path,
                                                                 tmp_path: Path):
    """Locally 30 kills; on Azurite (through delta-rs's object store, as production writes ADLS) 6."""
    if where == "local":
        lake = Lake(tmp_path / "lake")
    else:
        from azure.storage.blob import BlobServiceClient

        azurite = request.getfixturevalue("azurite_server")
        container = f"crash{uuid.uuid4().hex[:10]}"
        BlobServiceClient.from_connection_string(azurite.connection_string).create_container(container)
        lake = Lake(f"abfs://{container}/lake", azurite.connection_string)
    rng = random.Random(20261124)
    first = extract_process(source_db, lake)  # lands everything (and compiles a fresh venv's bytecode)
    assert first.wait(timeout=300) == 0, first.stderr.read()
    durations = []
    for _ in range(2):  # how long a warm run takes: the kill window
        started = time.monotonic()
        warm = extract_process(source_db, lake)
        assert warm.wait(timeout=300) == 0, warm.stderr.read()
        durations.append(time.monotonic() - started)
    duration = min(durations)
    kills = mid_extract = 0
    for run in range(runs):
        if run % 6 == 5:
            generator.advance(source_db, 1)
        before, orphans = assert_only_whole_batches_visible(lake), uncommitted_files(lake)
        proc = extract_process(source_db, lake)
        time.sleep(rng.uniform(0.25 * duration, 0.9 * duration))
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            kills += 1
        proc.wait(timeout=60)
        after = assert_only_whole_batches_visible(lake)
        half_written = not lake.is_blob and (lake.root / "_staging").exists() and \
            any(any(p.iterdir()) for p in (lake.root / "_staging").glob("*"))
        if 0 < after - before < len(TABLES) or half_written or uncommitted_files(lake) > orphans:
            mid_extract += 1
    assert kills >= runs * 2 // 3, f"only {kills} of {runs} runs were going when killed (warm run: {duration:.2f}s)"
    assert mid_extract >= runs // 3, f"only {mid_extract} of {kills} kills landed in the middle of an extract"

    final = extract_process(source_db, lake)
    out, err = final.communicate(timeout=300)
    assert final.returncode == 0 and "done" in out, err
    assert assert_only_whole_batches_visible(lake) > len(TABLES)
    for t in TABLES:
        versions = lake_versions(lake, t)
        assert max(versions.values()) == 1, f"{t.name}: a version landed twice"
        assert source_versions(source_db, t) <= set(versions), f"{t.name}: a current source version is missing"
    assert lake.is_blob or not any((lake.root / "_staging" / t.name).exists() and any(
        (lake.root / "_staging" / t.name).iterdir()) for t in TABLES), "the final run cleaned what the killed runs left"
