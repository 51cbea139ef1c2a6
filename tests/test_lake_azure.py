"""The lake on Azure Blob Storage: the same extract, the same Delta tables (delta-rs's object store) and the same
dbt project, on a real Azurite (npm).

Credentials come the production way: an Airflow connection `azure_data_lake_default`
(conn type wasb, a SAS token in its extra), defined through Airflow's own
`AIRFLOW_CONN_*` variable and read by Airflow's connection lookup at run time.
"""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path

import duckdb
import pytest

from logistics_etl.contract import TABLES, get_table
from logistics_etl.extract.table import ExtractOptions, extract_table
from logistics_etl.lake.upkeep import vacuum
from logistics_etl.orchestration.connections import open_lake
from logistics_etl.settings import PROJECT_ROOT, load_settings
from logistics_etl.standin import generator
from tests.conftest import report, run_cli
from tests.test_extract import extract_all, lake_versions, source_versions, url


@pytest.fixture
def blob_lake_env(azurite_server, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """LAKE_ROOT in a fresh container, credentials only in the Airflow connection (a SAS token)."""
    container = f"lake{uuid.uuid4().hex[:10]}"
    from azure.storage.blob import BlobServiceClient

    BlobServiceClient.from_connection_string(azurite_server.connection_string).create_container(container)
    sas = azurite_server.sas_token()
    conn = json.dumps({"conn_type": "wasb", "host": azurite_server.endpoint, "extra": {"sas_token": sas}})
    env = {"LAKE_ROOT": f"abfs://{container}/logistics", "AIRFLOW_CONN_AZURE_DATA_LAKE_DEFAULT": conn}
    monkeypatch.delenv("AZURE_STORAGE_CONNECTION_STRING", raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return {**env, "SAS": sas}


def test_blob_lake_lands_every_version_exactly_once(blob_lake_env, source_db: Path):
    lake = open_lake(load_settings())
    assert lake.is_blob and lake.storage_options.get("sas_key"), \
        "LAKE_ROOT=abfs://... must open the blob lake through the connection's SAS token"
    extract_all(source_db, lake)
    for _ in range(2):
        generator.advance(source_db, 1)
        results = extract_all(source_db, lake)
        assert results["Shipments"].rows > 0 and results["Shipments"].deleted_rows > 0
    for t in TABLES:
        versions = lake_versions(lake, t)
        assert max(versions.values()) == 1, f"{t.name}: a version landed twice"
        assert not source_versions(source_db, t) - set(versions), f"{t.name}: a current version never landed"
        assert [m.batch_id for m in lake.manifests(t.name)] == [1, 2, 3]


def test_a_blob_lake_of_the_earlier_format_is_refused(blob_lake_env, azurite_server, source_db: Path):
    """A table folder holding batch folders of the earlier format (`batch=N/`, here one uploaded manifest) is not
    written beside: the extract fails naming the folder and the conversion command, and writes nothing."""
    from azure.storage.blob import BlobServiceClient

    from logistics_etl.lake.errors import LakeError

    container, prefix = blob_lake_env["LAKE_ROOT"].removeprefix("abfs://").split("/", 1)
    client = BlobServiceClient.from_connection_string(azurite_server.connection_string).get_container_client(
        container)
    client.upload_blob(f"{prefix}/bronze/Customers/batch=000001/_manifest.json", b"{}")
    lake = open_lake(load_settings())
    with pytest.raises(LakeError, match=r"earlier format \(batch=000001\).*convert the lake first"):
        extract_table(get_table("Customers"), url(source_db), lake)
    assert [b.name for b in client.list_blobs(name_starts_with=prefix)] == \
        [f"{prefix}/bronze/Customers/batch=000001/_manifest.json"]
    assert lake.old_format_batch("Drivers") is None


def test_an_uncommitted_write_is_never_read_and_outlives_vacuum(blob_lake_env, azurite_server, source_db: Path):
    """A write that dies before its commit (a killed extract) leaves data files in the table's folder that no
    commit names: here a real Parquet file of rows uploaded beside the committed ones. Neither the extract nor
    dbt reads it, the next extract lands its batch exactly once, and VACUUM (whose window never goes under a
    day) keeps it while it may still be an unfinished night's."""
    import io

    import pyarrow.parquet as pq
    from azure.storage.blob import BlobServiceClient

    lake = open_lake(load_settings())
    shipments = get_table("Shipments")
    extract_table(shipments, url(source_db), lake, ExtractOptions(rows_per_file=500))
    generator.advance(source_db, 1)
    stray = lake.read_columns("Shipments", lake.manifests("Shipments"), None).slice(0, 50)
    buffer = io.BytesIO()
    pq.write_table(stray, buffer)
    container, prefix = blob_lake_env["LAKE_ROOT"].removeprefix("abfs://").split("/", 1)
    orphan = f"{prefix}/bronze/Shipments/part-00000-killed-before-its-commit.parquet"
    BlobServiceClient.from_connection_string(azurite_server.connection_string).get_blob_client(
        container, orphan).upload_blob(buffer.getvalue())
    assert [m.batch_id for m in lake.manifests("Shipments")] == [1]

    # dbt reads the lake while the orphan is there: only the committed batch
    for t in TABLES:
        if t.name != "Shipments":
            extract_table(t, url(source_db), lake)
    run_cli("dbt", "run", "--select", "brz_shipments", "--quiet")
    con = duckdb.connect(str(load_settings().duckdb_path), read_only=True)
    assert con.execute("select count(*), max(batch_id) from bronze.brz_shipments").fetchone() == \
        (lake.manifests("Shipments")[0].rows, 1)
    con.close()

    r = extract_table(shipments, url(source_db), lake, ExtractOptions(rows_per_file=500))
    assert r.batch_id == 2 and r.rows > 0
    versions = lake_versions(lake, shipments)
    assert max(versions.values()) == 1 and not source_versions(source_db, shipments) - set(versions)
    assert not any(p.endswith("killed-before-its-commit.parquet") for p in vacuum(lake, "Shipments", dry_run=True))


def test_dbt_builds_bronze_from_the_blob_lake_night_after_night(blob_lake_env, source_db: Path):
    """`logistics extract` and `logistics dbt build` of what reads the lake (bronze and the extract audit; silver
    and gold read only the warehouse) on the dev target, the lake on Azurite through delta-rs, then a third night
    built incrementally (bronze reads only the new night's batch: `lake_batches()`); bronze holds exactly what
    the commits hold, equals a full refresh of a copy, and the SAS token appears in no output or log."""
    run_cli("extract")
    generator.advance(source_db, 1)
    run_cli("extract")
    first = run_cli("dbt", "build", "--select", "tag:bronze")
    generator.advance(source_db, 1)
    run_cli("extract")
    proc = run_cli("dbt", "build", "--select", "tag:bronze")
    compiled = (PROJECT_ROOT / "target" / "compiled" / "logistics_warehouse" / "dbt_project" / "bronze"
                / "brz_shipments.sql").read_text()
    assert "where _batch_id > 2" in compiled, compiled
    fresh = run_cli("dbt", "source", "freshness")  # from each table's newest commit on the blob store
    assert fresh.stdout.count("PASS freshness of lake.") == 9, fresh.stdout[-3000:]
    lake = open_lake(load_settings())
    con = duckdb.connect(str(load_settings().duckdb_path), read_only=True)
    for t in TABLES:
        committed = sum(m.rows + m.deleted_rows for m in lake.manifests(t.name))
        model = "brz_" + {"ShipmentEvents": "shipment_events"}.get(t.name, t.name.lower())
        assert con.execute(f"select count(*) from bronze.{model}").fetchone()[0] == committed, t.name
    batches = con.execute("select count(*) from bronze.brz_extract_batches").fetchone()[0]
    con.close()
    assert batches == 3 * len(TABLES)
    sas = blob_lake_env["SAS"]
    logs = "".join(p.read_text(errors="replace") for p in Path("logs").glob("*.log")) if Path("logs").exists() else ""
    outputs = first.stdout + first.stderr + proc.stdout + proc.stderr + fresh.stdout + fresh.stderr
    assert sas not in outputs and sas.split("sig=")[-1] not in logs
    report("dbt build of bronze from the Azurite lake", f"{batches} batches in the extract audit")

    # the nights built incrementally hold what one full refresh of a copy reads from the blob lake
    warehouse = load_settings().duckdb_path
    full = warehouse.with_name("full_refresh.duckdb")
    shutil.copyfile(warehouse, full)
    run_cli("dbt", "build", "--select", "tag:bronze", "--full-refresh", "--quiet", env_extra={"DUCKDB_PATH": str(full)})
    con = duckdb.connect()
    con.execute(f"attach '{warehouse}' as inc (read_only)")
    con.execute(f"attach '{full}' as ful (read_only)")
    for t in [*TABLES, None]:
        model = "brz_extract_batches" if t is None else \
            "brz_" + {"ShipmentEvents": "shipment_events"}.get(t.name, t.name.lower())
        cols = ", ".join(c for (c,) in con.execute(
            "select column_name from information_schema.columns where table_catalog = 'inc' and table_name = ? "
            "and column_name <> 'loaded_at'", [model]).fetchall())
        differ = con.execute(f"select count(*) from ((select {cols} from inc.bronze.{model} except all select {cols} "
                             f"from ful.bronze.{model}) union all (select {cols} from ful.bronze.{model} except all "
                             f"select {cols} from inc.bronze.{model}))").fetchone()[0]
        assert differ == 0, f"{model}: {differ} rows differ between the incremental nights and a full refresh"
    con.close()


def test_missing_lake_connection_names_it(data_dir: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("LAKE_ROOT", "abfs://lake/logistics")
    monkeypatch.delenv("AZURE_STORAGE_CONNECTION_STRING", raising=False)
    monkeypatch.delenv("AIRFLOW_CONN_AZURE_DATA_LAKE_DEFAULT", raising=False)
    proc = run_cli("history", check=False, env_extra={"AIRFLOW_CONN_AZURE_DATA_LAKE_DEFAULT": ""})
    assert proc.returncode == 2 and "azure_data_lake_default" in proc.stderr, proc.stderr
    monkeypatch.setenv("AIRFLOW_CONN_AZURE_DATA_LAKE_DEFAULT", json.dumps({"conn_type": "wasb", "login": "acct"}))
    proc = run_cli("history", check=False)
    assert proc.returncode == 2 and "'sas_token'" in proc.stderr and "azure_data_lake_default" in proc.stderr
