"""The dbt project on its own: lint-clean, documented, and `dbt build` passes every test on a real lake."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
import yaml

from logistics_etl.settings import PROJECT_ROOT
from tests.conftest import run_cli


def test_sqlfluff_lint_is_clean_on_every_model_and_test():
    proc = run_cli("dbt", "--version", check=False)  # dbt importable in this environment
    assert proc.returncode == 0
    import subprocess
    import sys

    lint = subprocess.run([str(Path(sys.executable).with_name("sqlfluff")), "lint", "dbt_project", "tests/dbt",
                           "--format", "json"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600)
    results = json.loads(lint.stdout)
    linted = {r["filepath"] for r in results}
    models = {str(p.relative_to(PROJECT_ROOT)) for p in (PROJECT_ROOT / "dbt_project").rglob("*.sql")}
    assert models <= linted, f"not linted: {models - linted}"
    violations = [(r["filepath"], v["code"], v["start_line_no"], v["description"])
                  for r in results for v in r["violations"]]
    assert not violations, violations
    assert lint.returncode == 0, lint.stderr[-2000:]


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
    days, each extracted and built incrementally. Yields the data folder and the last build's results."""
    data = tmp_path_factory.mktemp("change-days")
    with pytest.MonkeyPatch.context() as mp:
        for var in ("LOGISTICS_SOURCE_URL", "LAKE_ROOT", "DUCKDB_PATH", "DBT_TARGET"):
            mp.delenv(var, raising=False)
        mp.setenv("LOGISTICS_DATA_DIR", str(data))
        run_cli("source", "generate", "--scale", "0.05", "--seed", "5")
        run_cli("extract")
        run_cli("dbt", "build", "--quiet")
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
    full = data / "full-refresh.duckdb"
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


def test_the_extract_audit_reads_a_lake_of_many_nights(tmp_path, monkeypatch):
    """Eight nights of batches, then the extract audit model over their manifests.

    Most tables' manifests carry a timestamp watermark, ShipmentEvents' an integer one (its EventID).
    DuckDB types a JSON field from the first files it samples (32): once eight nights of Carriers,
    Customers, Drivers and Orders sort ahead of ShipmentEvents, `watermark_to` was typed a timestamp and
    bronze failed on the eighth night ("invalid timestamp field format"). The source now names its types."""
    for var in ("LOGISTICS_SOURCE_URL", "LAKE_ROOT", "DUCKDB_PATH", "DBT_TARGET"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("LOGISTICS_DATA_DIR", str(tmp_path))
    run_cli("source", "generate", "--scale", "0.01", "--seed", "3")
    for _ in range(8):
        run_cli("extract")
    run_cli("dbt", "run", "--select", "brz_extract_batches", "--quiet")

    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True)
    nights = dict(con.execute("select source_table, count(distinct batch_id) from bronze.brz_extract_batches "
                              "group by all").fetchall())
    assert len(nights) == 9 and set(nights.values()) == {8}, nights
    watermarks = con.execute("select distinct watermark_column, watermark_to from bronze.brz_extract_batches "
                             "where source_table = 'ShipmentEvents'").fetchall()
    assert len(watermarks) == 1 and watermarks[0][0] == "EventID" and watermarks[0][1].isdigit(), watermarks
    first = con.execute("select watermark_to from bronze.brz_extract_batches "
                        "where source_table = 'Carriers' and batch_id = 1").fetchone()[0]
    assert first.startswith("20"), first  # an ISO timestamp, as the manifest wrote it


def test_an_incremental_bronze_build_opens_only_the_new_batches(tmp_path, monkeypatch):
    """A nightly (incremental) bronze build reads the new night's files and never opens the nights it has
    loaded: on Azure each opened file costs requests, 365 files a table after a year (`lake_batches()`).

    The proof: once night 1 is loaded and night 2 landed, every part file of night 1 is overwritten with
    bytes that are not Parquet, and every manifest of night 1 with text that is not JSON. Night 2 still
    builds and loads in full, the extract audit included (`new_manifests()`), while the lake source
    itself, which every bronze model read before (it opens every file, for `union_by_name`), fails on
    those files."""
    for var in ("LOGISTICS_SOURCE_URL", "LAKE_ROOT", "DUCKDB_PATH", "DBT_TARGET"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("LOGISTICS_DATA_DIR", str(tmp_path))
    run_cli("source", "generate", "--scale", "0.01", "--seed", "5")
    run_cli("extract")
    run_cli("dbt", "build", "--select", "bronze", "--quiet")
    run_cli("source", "advance", "--days", "1")
    run_cli("extract")  # (the extract reads night 1's overlap window: it de-duplicates against it)
    night_one = sorted((tmp_path / "lake" / "bronze").glob("*/batch=000001/part-*.parquet"))
    assert len(night_one) >= 9, night_one
    for part in night_one:
        part.write_bytes(b"not a parquet file: a night that is loaded must not be opened again")
    for manifest in (tmp_path / "lake" / "bronze").glob("*/batch=000001/_manifest.json"):
        manifest.write_text("not json: a manifest that is read must not be read again")  # (it is still listed)
    run_cli("dbt", "build", "--select", "bronze", "--quiet")

    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True)
    try:
        landed = dict(con.execute("select source_table, rows_landed + rows_deleted from bronze.brz_extract_batches "
                                  "where batch_id = 2").fetchall())
        loaded = dict(con.execute("select 'Shipments', count(*) from bronze.brz_shipments where batch_id = 2 union all "
                                  "select 'ShipmentEvents', count(*) from bronze.brz_shipment_events "
                                  "where batch_id = 2").fetchall())
        assert loaded == {t: landed[t] for t in loaded} and all(loaded.values()), (loaded, landed)
        audited = con.execute("select batch_id, count(distinct source_table) from bronze.brz_extract_batches "
                              "group by all order by 1").fetchall()
        assert audited == [(1, 9), (2, 9)], audited
    finally:
        con.close()
    compiled = (PROJECT_ROOT / "target" / "compiled" / "logistics_warehouse" / "dbt_project" / "bronze"
                / "brz_shipments.sql").read_text()
    assert "batch=000002/part-*.parquet" in compiled and "batch=000001" not in compiled, compiled
    proc = run_cli("dbt", "show", "--inline", "select count(*) from {{ source('lake', 'Shipments') }}",
                   check=False)
    assert proc.returncode != 0 and "batch=000001" in proc.stdout + proc.stderr, proc.stdout[-2000:]

    # the audit knows a manifest it has read by table and batch, not by the path it was read at (here as if
    # read through another spelling of the lake root): nothing is read twice
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    con.execute("update bronze.brz_extract_batches set manifest_file = replace(manifest_file, '/lake/', '/x/')")
    con.close()
    run_cli("dbt", "build", "--select", "brz_extract_batches", "--quiet")  # its unique test included
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True)
    assert con.execute("select count(*) from bronze.brz_extract_batches").fetchone()[0] == 18
    con.close()

    # source freshness reads each table's newest manifest (`lake_extracted_at()`), no part file and no older
    # manifest: it passes over night 1's broken files, and it is the newest manifest that says when
    fresh = run_cli("dbt", "source", "freshness").stdout
    assert fresh.count("PASS freshness of lake.") == 9, fresh[-3000:]
    ages = [r["max_loaded_at_time_ago_in_s"]
            for r in json.loads((PROJECT_ROOT / "target" / "sources.json").read_text())["results"]]
    assert len(ages) == 9 and all(0 <= age < 3600 for age in ages), ages  # extracted minutes ago
    newest = tmp_path / "lake" / "bronze" / "Shipments" / "batch=000002" / "_manifest.json"
    manifest = json.loads(newest.read_text())
    manifest["extracted_at"] = (datetime.now(UTC) - timedelta(hours=60)).isoformat()
    newest.write_text(json.dumps(manifest))
    proc = run_cli("dbt", "source", "freshness", check=False)
    assert proc.returncode != 0 and "ERROR STALE freshness of lake.Shipments" in proc.stdout, proc.stdout[-3000:]
    assert proc.stdout.count("PASS freshness of lake.") == 8, proc.stdout[-3000:]
