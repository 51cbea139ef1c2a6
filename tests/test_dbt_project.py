"""The dbt project on its own: lint-clean, documented, and `dbt build` passes every test on a real lake."""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
import yaml
from deltalake import DeltaTable

from logistics_etl.contract import TABLES
from logistics_etl.extract.parts import PartWriter
from logistics_etl.lake.delta import MANIFEST_KEY, Lake, Manifest
from logistics_etl.settings import PROJECT_ROOT
from tests.conftest import run_cli
from tests.legacy_lake import write_legacy_lake

LINTED = ["dbt_project.yml", "dbt_project", "macros", "seeds", "snapshots", "profiles", "tests/dbt", ".sqlfluff",
          ".sqlfluffignore"]


def test_the_linters_report_seeded_mistakes_on_changed_files(tmp_path):
    """The pre-commit hooks (`.pre-commit-config.yaml`), run in a scratch git copy of the project on the files
    a change touched: ruff reports an unused import, sqlfluff (with the Rust parser, sqlfluffrs) an upper-case
    keyword in a model, and a ref to a model that does not exist, which the dbt templater finds as it
    compiles the project, fails the lint naming the model and the ref."""
    import subprocess
    import sys

    root = tmp_path / "project"
    for name in [*LINTED, ".pre-commit-config.yaml", "pyproject.toml"]:
        source = PROJECT_ROOT / name
        if source.is_dir():
            shutil.copytree(source, root / name)
        else:
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, root / name)
    (root / ".venv").symlink_to(Path(sys.executable).parent.parent)
    env = {**os.environ, "DBT_PROFILES_DIR": str(root / "profiles"), "PRE_COMMIT_HOME": str(tmp_path / "cache")}
    subprocess.run(["git", "init", "-q", str(root)], check=True)

    carrier = root / "dbt_project/gold/dim_carrier.sql"
    carrier.write_text(carrier.read_text().replace("select * from final", "SELECT * from final"))
    (root / "probe.py").write_text("import os\n")
    hooks = subprocess.run([str(Path(sys.executable).with_name("pre-commit")), "run", "--files",
                            "dbt_project/gold/dim_carrier.sql", "probe.py"], cwd=root, capture_output=True,
                           text=True, timeout=600, env=env)
    assert hooks.returncode == 1, hooks.stdout[-3000:]
    assert re.search(r"ruff \(Python\)\.+Failed", hooks.stdout) and "F401" in hooks.stdout, hooks.stdout[-3000:]
    assert re.search(r"sqlfluff .*\.+Failed", hooks.stdout), hooks.stdout[-3000:]
    last_line = len(carrier.read_text().splitlines())
    assert re.search(rf"L: *{last_line} \| P: *1 \| CP01", hooks.stdout), hooks.stdout[-3000:]

    route = root / "dbt_project/gold/dim_route.sql"
    text = route.read_text()
    assert text.count("ref('slv_routes')") == 1
    route.write_text(text.replace("ref('slv_routes')", "ref('slv_routez')"))
    lint = subprocess.run([str(Path(sys.executable).with_name("sqlfluff")), "lint", "dbt_project/gold/dim_route.sql"],
                          cwd=root, capture_output=True, text=True, timeout=600, env=env)
    assert lint.returncode == 2, lint.stderr[-2000:]
    assert "dim_route.sql" in lint.stderr and "'slv_routez' which was not found" in lint.stderr, lint.stderr


def test_every_model_and_column_is_described():
    missing = []
    for yml in (PROJECT_ROOT / "dbt_project").rglob("_*.yml"):
        doc = yaml.safe_load(yml.read_text())
        for model in doc.get("models", []):
            if not model.get("description"):
                missing.append(model["name"])
            missing += [f"{model['name']}.{c['name']}" for c in model.get("columns", []) if not c.get("description")]
    documented = {m["name"] for yml in (PROJECT_ROOT / "dbt_project").rglob("_*.yml")
                  for m in (yaml.safe_load(yml.read_text()).get("models") or [])}
    sql_models = {p.stem for p in (PROJECT_ROOT / "dbt_project").rglob("*.sql")}
    assert sql_models == documented, f"models without YAML: {sql_models - documented}"
    assert not missing, missing


# Audit marts that record dbt's own invocations: a full refresh is one more invocation, so they differ by design.
RUN_HISTORY_MODELS = {"pipeline_runs", "pipeline_model_timings"}
# When silver last wrote a row: the incremental high-water mark, not data.
AUDIT_COLUMNS = {"checked_at"}


@pytest.fixture(scope="module")
def change_days(tmp_path_factory: pytest.TempPathFactory):
    """A lake and warehouse built the way the nightly run builds them: a first load, then two change
    days, each extracted and built incrementally. Yields the data folder and the last build's results; the
    warehouse as the first night left it is kept (`night_1.duckdb`, with the time after it, `night-1.as-of`)."""
    data = tmp_path_factory.mktemp("change-days")
    with pytest.MonkeyPatch.context() as mp:
        for var in ("LOGISTICS_SOURCE_URL", "LAKE_ROOT", "DUCKDB_PATH", "DBT_TARGET"):
            mp.delenv(var, raising=False)
        mp.setenv("LOGISTICS_DATA_DIR", str(data))
        run_cli("source", "generate", "--scale", "0.05", "--seed", "5")
        run_cli("extract")
        run_cli("dbt", "build", "--quiet")
        shutil.copyfile(data / "warehouse.duckdb", data / "night_1.duckdb")  # what the first night produced
        (data / "night-1.as-of").write_text(datetime.now(UTC).isoformat())
        for _ in range(2):
            run_cli("source", "advance")
            run_cli("extract")
            run_cli("dbt", "build", "--quiet")
        results = json.loads((PROJECT_ROOT / "target" / "run_results.json").read_text())["results"]
        yield data, results


def test_dbt_build_passes_every_test_over_change_days(change_days):
    _, results = change_days
    statuses = {r["status"] for r in results}
    assert statuses <= {"success", "pass"}, [(r["unique_id"], r["status"]) for r in results
                                              if r["status"] not in ("success", "pass")]
    kinds = {r["unique_id"].split(".")[0] for r in results}
    assert {"model", "seed", "test", "unit_test"} <= kinds
    assert sum(1 for r in results if r["unique_id"].startswith("test.")) >= 150
    assert sum(1 for r in results if r["unique_id"].startswith("unit_test.")) >= 4

    # the lake's sources are fresh after tonight's extract, and the docs site builds with every column
    fresh = run_cli("dbt", "source", "freshness").stdout
    assert fresh.count("PASS freshness of lake.") == 9, fresh[-3000:]
    run_cli("dbt", "docs", "generate", "--quiet")
    catalog = json.loads((PROJECT_ROOT / "target" / "catalog.json").read_text())["nodes"]
    manifest = json.loads((PROJECT_ROOT / "target" / "manifest.json").read_text())["nodes"]
    models = [n for n in manifest.values() if n["resource_type"] == "model"]
    assert sum(1 for n in models if n["schema"] == "gold") >= 10
    # every column as built is described: a bronze model's YAML columns are also silver's column list
    for node in models:
        built = {c.lower() for c in catalog[node["unique_id"]]["columns"]}
        described = {c for c, meta in node["columns"].items() if meta.get("description")}
        assert built == described, f"{node['name']}: columns without a description: {built - described}"


def test_incremental_build_equals_a_full_refresh_in_every_silver_and_gold_model(change_days):
    """After two change days built incrementally, `dbt build --full-refresh` of a copy of the warehouse
    gives the same rows, row for row, in every silver and gold relation (snapshots included)."""
    data, _ = change_days
    incremental = data / "warehouse.duckdb"
    full = data / "full_refresh.duckdb"
    shutil.copyfile(incremental, full)
    run_cli("dbt", "build", "--full-refresh", "--quiet", env_extra={"DUCKDB_PATH": str(full)})

    con = duckdb.connect()
    con.execute(f"attach '{incremental}' as inc (read_only)")
    con.execute(f"attach '{full}' as ful (read_only)")
    relations = con.execute(
        "select table_schema, table_name from information_schema.tables "
        "where table_catalog = 'inc' and table_schema in ('silver', 'gold') order by all").fetchall()
    compared = 0
    for schema, name in relations:
        if name in RUN_HISTORY_MODELS:
            continue
        columns = [c for (c,) in con.execute(
            "select column_name from information_schema.columns where table_catalog = 'inc' "
            "and table_schema = ? and table_name = ? order by ordinal_position", [schema, name]).fetchall()
            if c not in AUDIT_COLUMNS]
        cols = ", ".join(f'"{c}"' for c in columns)
        only_inc = con.execute(f"select {cols} from inc.{schema}.{name} except all "
                               f"select {cols} from ful.{schema}.{name}").fetchall()
        only_full = con.execute(f"select {cols} from ful.{schema}.{name} except all "
                                f"select {cols} from inc.{schema}.{name}").fetchall()
        assert not only_inc and not only_full, (
            f"{schema}.{name}: {len(only_inc)} rows only in the incremental build (e.g. {only_inc[:3]}), "
            f"{len(only_full)} only in the full refresh (e.g. {only_full[:3]})")
        compared += 1
    assert compared >= 35, relations

    # and the incremental runs were incremental: most events kept the check of the first build
    per_run = con.execute("select checked_at, count(*) from inc.silver.slv_shipment_events_checked "
                          "group by all order by checked_at").fetchall()
    assert 2 <= len(per_run) <= 3, per_run  # the first build and up to two change days
    assert all(n < per_run[0][1] / 10 for _, n in per_run[1:]), per_run
    con.close()


# Columns that say when a row was built, or keys made of such a value: any two builds differ in them.
BUILD_COLUMNS = {"loaded_at", "checked_at", "dbt_updated_at", "dbt_valid_from", "dbt_valid_to", "dbt_scd_id",
                 "customer_key", "carrier_key", "valid_from", "valid_to"}


def different_rows(first: Path, second: Path, schemas: tuple[str, ...]) -> dict[str, tuple[int, int]]:
    """Relation -> (rows only in `first`, rows only in `second`), for every table of `schemas` in `first` but
    the run-history marts, over the columns but BUILD_COLUMNS."""
    con = duckdb.connect()
    con.execute(f"attach '{first}' as a (read_only)")
    con.execute(f"attach '{second}' as b (read_only)")
    relations = con.execute(
        "select table_schema, table_name from information_schema.tables where table_catalog = 'a' "
        f"and table_type = 'BASE TABLE' and table_schema in {schemas} order by all").fetchall()
    out = {}
    for schema, name in relations:
        if name in RUN_HISTORY_MODELS:
            continue
        cols = ", ".join(f'"{c}"' for (c,) in con.execute(
            "select column_name from information_schema.columns where table_catalog = 'a' "
            "and table_schema = ? and table_name = ? order by ordinal_position", [schema, name]).fetchall()
            if c not in BUILD_COLUMNS)
        only_a = con.execute(f"select count(*) from (select {cols} from a.{schema}.{name} except all "
                             f"select {cols} from b.{schema}.{name})").fetchone()[0]
        only_b = con.execute(f"select count(*) from (select {cols} from b.{schema}.{name} except all "
                             f"select {cols} from a.{schema}.{name})").fetchone()[0]
        out[f"{schema}.{name}"] = (only_a, only_b)
    con.close()
    return out


def test_a_rebuild_as_of_the_first_night_equals_what_that_night_built(change_days):
    """`logistics rebuild --as-of` reads every lake table at its version of that time (Delta time travel) and
    builds bronze, silver and gold from scratch into a warehouse of its own: as of the first night, after two
    more nights landed, it equals the warehouse the first night left, row for row in every model but the
    run-history marts (columns that say when a row was built aside)."""
    data, _ = change_days
    rebuilt = data / "as_of_night_1.duckdb"
    proc = run_cli("rebuild", "--as-of", (data / "night-1.as-of").read_text(), "--warehouse", str(rebuilt),
                   "--", "--quiet", env_extra={"LOGISTICS_DATA_DIR": str(data)})
    assert f"as of {(data / 'night-1.as-of').read_text()}" in proc.stdout
    differences = different_rows(data / "night_1.duckdb", rebuilt, ("bronze", "silver", "gold"))
    assert len(differences) >= 35, differences
    assert not {k: v for k, v in differences.items() if v != (0, 0)}, differences
    # and the nightly warehouse moved on: two more nights differ from the first
    moved_on = different_rows(data / "warehouse.duckdb", rebuilt, ("bronze",))
    assert moved_on["bronze.brz_shipments"][0] > 0, moved_on


def test_a_lake_of_the_earlier_format_converts_without_losing_a_row(change_days):
    """`logistics lake convert` turns a lake of the earlier format (batch folders with manifests, written here
    from the fixture's three nights: tests/legacy_lake.py) into Delta tables: every batch one commit with its
    manifest, every row, the newest key snapshot, nothing of an uncommitted folder. Silver and gold built from
    the converted lake equal those built from the lake it came from, both from scratch. Before it is converted,
an extract into the old lake is refused, naming the batch folder and the command."""
    data, _ = change_days
    original = Lake(data / "lake")
    batches = write_legacy_lake(original, data / "legacy-lake")
    assert batches == 3 * len(TABLES)
    refused = run_cli("extract", check=False, env_extra={"LAKE_ROOT": str(data / "legacy-lake")})
    assert refused.returncode == 2 and "earlier format (batch=000001)" in refused.stderr \
        and "convert the lake first" in refused.stderr, refused.stderr
    out = run_cli("lake", "convert", "--from", str(data / "legacy-lake"),
                  env_extra={"LAKE_ROOT": str(data / "converted-lake")}).stdout
    assert f"converted {batches} batches" in out, out
    converted = Lake(data / "converted-lake")
    for t in TABLES:
        before, after = original.manifests(t.name), converted.manifests(t.name)
        assert [(m.batch_id, m.watermark_to, m.rows, m.deleted_rows, m.run_id) for m in after] == \
            [(m.batch_id, m.watermark_to, m.rows, m.deleted_rows, m.run_id) for m in before], t.name
        order = [(t.key, "ascending"), ("_batch_id", "ascending")]
        assert converted.read_columns(t.name, after, None).sort_by(order).equals(
            original.read_columns(t.name, before, None).sort_by(order)), t.name
        assert converted.latest_keys(t.name, t.key).sort().equals(original.latest_keys(t.name, t.key).sort())
    again = run_cli("lake", "convert", "--from", str(data / "legacy-lake"), check=False,
                    env_extra={"LAKE_ROOT": str(data / "converted-lake")})
    assert again.returncode == 2 and "already has commits; convert into an empty lake" in again.stderr

    now = datetime.now(UTC).isoformat()
    for lake, warehouse in (("lake", "from_original.duckdb"), ("converted-lake", "from_converted.duckdb")):
        run_cli("rebuild", "--as-of", now, "--warehouse", str(data / warehouse), "--", "--quiet",
                "--exclude", "resource_type:test", "resource_type:unit_test",  # the rows, not the tests again
                env_extra={"LAKE_ROOT": str(data / lake)})
    differences = different_rows(data / "from_original.duckdb", data / "from_converted.duckdb",
                                 ("bronze", "silver", "gold"))
    assert len(differences) >= 35 and not {k: v for k, v in differences.items() if v != (0, 0)}, differences


def test_a_lake_of_many_nights_keeps_its_history_and_its_upkeep_loses_nothing(tmp_path, monkeypatch):
    """Eight nights of extracts: each table is a Delta table whose history has a commit per extract, the
    extract's manifest (watermark, batch, rows) in its metadata; the extract audit reads them all, with
    ShipmentEvents' integer watermark beside the others' timestamps. `lake optimize` compacts the nights'
    files into one per table without changing a row; `lake vacuum` keeps every file the versions of its
    window need, and deletes what no commit names once it is older than the window (a killed extract's)."""
    for var in ("LOGISTICS_SOURCE_URL", "LAKE_ROOT", "DUCKDB_PATH", "DBT_TARGET"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("LOGISTICS_DATA_DIR", str(tmp_path))
    run_cli("source", "generate", "--scale", "0.01", "--seed", "3")
    for night in range(8):
        if night % 2:
            run_cli("source", "advance")
        run_cli("extract")
    lake = Lake(tmp_path / "lake")
    for t in TABLES:
        history = DeltaTable(str(tmp_path / "lake" / "bronze" / t.name)).history()
        manifests = [json.loads(c[MANIFEST_KEY]) for c in reversed(history)]
        assert [m["batch_id"] for m in manifests] == list(range(1, 9)), t.name
        assert all(m["watermark_to"] and m["watermark_column"] == t.watermark_column for m in manifests), t.name
    run_cli("dbt", "run", "--select", "brz_extract_batches", "--quiet")

    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True)
    nights = dict(con.execute("select source_table, count(distinct batch_id) from bronze.brz_extract_batches "
                              "group by all").fetchall())
    assert len(nights) == 9 and set(nights.values()) == {8}, nights
    watermarks = con.execute("select distinct watermark_column, watermark_to from bronze.brz_extract_batches "
                             "where source_table = 'ShipmentEvents'").fetchall()
    assert {w[0] for w in watermarks} == {"EventID"} and all(w[1].isdigit() for w in watermarks), watermarks
    first = con.execute("select watermark_to from bronze.brz_extract_batches "
                        "where source_table = 'Carriers' and batch_id = 1").fetchone()[0]
    con.close()
    assert first.startswith("20"), first  # an ISO timestamp, as the manifest wrote it

    before = {t.name: lake.read_columns(t.name, lake.manifests(t.name), None).sort_by(
        [(t.key, "ascending"), ("_batch_id", "ascending")]) for t in TABLES}
    files_before = {t.name: len(lake.delta_table(t.name).file_uris()) for t in TABLES}
    out = run_cli("lake", "optimize").stdout
    assert "Shipments" in out
    for t in TABLES:
        after = lake.read_columns(t.name, lake.manifests(t.name), None)
        assert after.sort_by([(t.key, "ascending"), ("_batch_id", "ascending")]).equals(before[t.name]), t.name
        assert len(lake.delta_table(t.name).file_uris()) == 1 < files_before["Shipments"], t.name
    assert [m.batch_id for m in lake.manifests("Shipments")] == list(range(1, 9))  # OPTIMIZE is no extract

    killed = tmp_path / "lake" / "bronze" / "Orders" / "part-00000-left-by-a-killed-extract.parquet"
    shutil.copyfile(next((tmp_path / "lake" / "bronze" / "Orders").glob("part-*.parquet")), killed)
    dry = run_cli("lake", "vacuum", "--dry-run", "--list").stdout
    assert "killed" not in dry, dry  # new: it may be an unfinished night's
    two_days_ago = time.time() - 48 * 3600
    os.utime(killed, (two_days_ago, two_days_ago))
    run_cli("lake", "vacuum", "--tables", "Orders", "--retention-hours", "24")
    assert not killed.exists()
    too_short = run_cli("lake", "vacuum", "--retention-hours", "2", check=False)
    assert too_short.returncode == 2 and "under the minimum of 24" in too_short.stderr
    assert lake.read_columns("Orders", lake.manifests("Orders"), None).num_rows == before["Orders"].num_rows


def test_an_incremental_bronze_build_opens_only_the_new_batches(tmp_path, monkeypatch):
    """A nightly (incremental) bronze build reads the new night's files and never opens the nights it has
    loaded: on Azure each opened file costs requests, 365 files a table after a year (`lake_batches()`: the
    `_batch_id` filter reaches delta-rs's dataset, which skips files by their statistics in the Delta log).

    The proof: once night 1 is loaded and night 2 landed, every data file of night 1 is overwritten with
    bytes that are not Parquet. Night 2 still builds and loads in full, the extract audit included, while a
    read of the whole lake table fails on those files."""
    for var in ("LOGISTICS_SOURCE_URL", "LAKE_ROOT", "DUCKDB_PATH", "DBT_TARGET"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("LOGISTICS_DATA_DIR", str(tmp_path))
    run_cli("source", "generate", "--scale", "0.01", "--seed", "5")
    run_cli("extract")
    run_cli("dbt", "build", "--select", "bronze", "--quiet")
    run_cli("source", "advance", "--days", "1")
    run_cli("extract")  # (the extract reads night 1's overlap window: it de-duplicates against it)
    lake = Lake(tmp_path / "lake")
    night_one = [tmp_path / "lake" / "bronze" / t.name / add["path"] for t in TABLES
                 for add in pa.table(lake.delta_table(t.name).get_add_actions(flatten=True)).to_pylist()
                 if add["max._batch_id"] == 1]
    assert len(night_one) >= 9, night_one
    for part in night_one:
        part.write_bytes(b"not a parquet file: a night that is loaded must not be opened again")
    run_cli("dbt", "build", "--select", "bronze", "--quiet")

    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True)
    try:
        landed = dict(con.execute("select source_table, rows_landed + rows_deleted from bronze.brz_extract_batches "
                                  "where batch_id = 2").fetchall())
        loaded = dict(con.execute("select 'Shipments', count(*) from bronze.brz_shipments where batch_id = 2 union all "
                                  "select 'ShipmentEvents', count(*) from bronze.brz_shipment_events "
                                  "where batch_id = 2").fetchall())
        assert loaded == {t: landed[t] for t in loaded} and all(loaded.values()), (loaded, landed)
        audited = con.execute("select batch_id, count(distinct source_table), min(table_version), "
                              "max(table_version) from bronze.brz_extract_batches group by all order by 1").fetchall()
        assert audited == [(1, 9, 0, 0), (2, 9, 1, 1)], audited
    finally:
        con.close()
    proc = run_cli("dbt", "show", "--inline", "select count(*) from {{ source('lake', 'Shipments') }}",
                   check=False)
    assert proc.returncode != 0 and "Parquet magic bytes not found" in proc.stdout + proc.stderr, proc.stdout[-2000:]

    # source freshness reads each table's newest commit's manifest (`lake_extracted_at()`, from the audit): it
    # passes over night 1's broken files, and it is the newest commit that says when
    fresh = run_cli("dbt", "source", "freshness").stdout
    assert fresh.count("PASS freshness of lake.") == 9, fresh[-3000:]
    ages = [r["max_loaded_at_time_ago_in_s"]
            for r in json.loads((PROJECT_ROOT / "target" / "sources.json").read_text())["results"]]
    assert len(ages) == 9 and all(0 <= age < 3600 for age in ages), ages  # extracted minutes ago
    stale = Manifest(table="Shipments", batch_id=3, mode="incremental", watermark_column="ModifiedAt",
                     watermark_from=None, watermark_to=None, rows=0, deleted_rows=0,
                     extracted_at=(datetime.now(UTC) - timedelta(hours=60)).isoformat())
    keys = lake.latest_keys("Shipments", "ShipmentID")
    with lake.stage("Shipments", 3) as staging:  # a night whose extract started 60 hours ago, committed
        PartWriter(staging, lake.delta_table("Shipments").to_pyarrow_dataset().schema, 10).close(ensure_one=True)
        lake.commit(staging, stale, keys)
    proc = run_cli("dbt", "source", "freshness", check=False)
    assert proc.returncode != 0 and "ERROR STALE freshness of lake.Shipments" in proc.stdout, proc.stdout[-3000:]
    assert proc.stdout.count("PASS freshness of lake.") == 8, proc.stdout[-3000:]
