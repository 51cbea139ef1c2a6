"""The extract: watermarks, batches, deletes, late rows, crash safety and schema drift, on a real SQLite source."""

from __future__ import annotations

import json
import re
import sqlite3
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable

from logistics_etl.contract import TABLES, TYPES, get_table, resolve_tables
from logistics_etl.extract import queries
from logistics_etl.extract.conform import SchemaDriftError
from logistics_etl.extract.source import full_read_ranges, read_arrow
from logistics_etl.extract.source_url import SourceURLError, redact
from logistics_etl.extract.table import ExtractOptions, SourceError, extract_table
from logistics_etl.lake.delta import MANIFEST_KEY, Lake
from logistics_etl.lake.errors import LakeError
from logistics_etl.settings import FULL_READ_PARALLEL, ConfigError, load_settings
from logistics_etl.standin import generator


def url(path: Path) -> str:
    return f"sqlite://{path}"


def extract_all(source, lake: Lake, **kw) -> dict:
    source_url = source.url if hasattr(source, "url") else url(source)
    return {t.name: extract_table(t, source_url, lake, ExtractOptions(**kw)) for t in TABLES}


def landed(lake: Lake, table: str) -> pa.Table:
    """Every row of every committed batch, read through the lake (local or blob)."""
    return lake.read_columns(table, lake.manifests(table), None)


def source_versions(source: Path, table) -> set[tuple]:
    con = sqlite3.connect(source)
    col = table.watermark_column
    rows = con.execute(f'SELECT "{table.key}", "{col}" FROM "{table.name}"').fetchall()
    con.close()
    if table.append_only:
        return {(k,) for k, _ in rows}
    return {(k, generator.fmt_times([_epoch(m)])[0]) for k, m in rows}


def _epoch(text: str) -> float:
    from datetime import datetime
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def lake_versions(lake: Lake, table, rows: pa.Table | None = None) -> Counter:
    """How often each source version landed (of `rows`, by default every committed batch's)."""
    t = (landed(lake, table.name) if rows is None else rows).filter(pa.compute.invert(pa.compute.field("_is_deleted")))
    keys = t.column(table.key).to_pylist()
    if table.append_only:
        return Counter((k,) for k in keys)
    mods = [generator.fmt_times([m.timestamp()])[0] for m in t.column("ModifiedAt").to_pylist()]
    return Counter(zip(keys, mods, strict=True))


def test_first_run_lands_every_row_with_a_manifest(source, source_db: Path, tmp_path: Path):
    """Each table is a Delta table that delta-rs opens, with one commit carrying the batch's manifest."""
    lake = Lake(tmp_path / "lake")
    results = extract_all(source, lake)
    counts = generator.table_counts(source_db)
    for t in TABLES:
        r = results[t.name]
        assert (r.rows, r.mode, r.batch_id, r.deleted_rows) == (counts[t.name], "full", 1, 0)
        [m] = lake.manifests(t.name)
        assert m.rows == counts[t.name] and m.key_count == counts[t.name] and m.version == 0
        assert m.watermark_from is None and m.watermark_to is not None
        assert len(m.files) == 1 and m.files[0]["bytes"] > 0
        assert {c["name"] for c in m.schema} >= set(t.column_names) | {"_batch_id", "_is_deleted"}
        dt = DeltaTable(str(tmp_path / "lake" / "bronze" / t.name))
        [commit] = dt.history()
        assert json.loads(commit[MANIFEST_KEY])["watermark_to"] == m.watermark_to
        schema = dt.to_pyarrow_dataset().schema
        for col in t.columns:
            assert schema.field(col.name).type == col.arrow_type, (t.name, col.name)
        assert dt.to_pyarrow_table().num_rows == counts[t.name]
        keys = DeltaTable(str(tmp_path / "lake" / "keys" / t.name))
        assert keys.to_pyarrow_table().num_rows == counts[t.name] and keys.history(1)[0]["batch_id"] == "1"
        assert not (tmp_path / "lake" / "_staging" / t.name).exists() or \
            not any((tmp_path / "lake" / "_staging" / t.name).iterdir())


def test_values_survive_the_trip(source, source_db: Path, tmp_path: Path):
    lake = Lake(tmp_path / "lake")
    extract_table(get_table("Shipments"), source.url, lake)
    t = landed(lake, "Shipments").sort_by("ShipmentID")
    con = sqlite3.connect(source_db)
    first = con.execute('SELECT "ShipmentID", "WeightKg", "FreightCost", "ShippedAt" FROM "Shipments" '
                        'WHERE "ShippedAt" IS NOT NULL ORDER BY 1 LIMIT 1').fetchone()
    row = t.filter(pa.compute.equal(t.column("ShipmentID"), first[0])).to_pylist()[0]
    assert str(row["WeightKg"]) == f"{first[1]:.2f}" and str(row["FreightCost"]) == f"{first[2]:.2f}"
    from datetime import datetime
    assert row["ShippedAt"] == datetime.fromisoformat(first[3]).replace(tzinfo=UTC)
    # stored compactly (zstd), with statistics on the load metadata that readers prune by
    shipments = DeltaTable(str(tmp_path / "lake" / "bronze" / "Shipments"))
    [add] = pa.table(shipments.get_add_actions(flatten=True)).to_pylist()
    assert add["min._batch_id"] == add["max._batch_id"] == 1
    meta = pq.ParquetFile(tmp_path / "lake" / "bronze" / "Shipments" / add["path"]).metadata
    assert meta.row_group(0).column(0).compression == "ZSTD"


def test_rerun_without_changes_lands_nothing(source, tmp_path: Path):
    lake = Lake(tmp_path / "lake")
    extract_all(source, lake)
    again = extract_all(source, lake)
    for t in TABLES:
        assert (again[t.name].rows, again[t.name].deleted_rows, again[t.name].mode) == (0, 0, "incremental")
        ms = lake.manifests(t.name)
        assert ms[-1].watermark_to == ms[0].watermark_to, "an empty batch keeps the watermark"
        assert max(lake_versions(lake, t).values()) == 1


def test_change_days_land_every_version_exactly_once(source, source_db: Path, tmp_path: Path):
    """Late-committed rows (older ModifiedAt) are caught by the overlap window; nothing lands twice."""
    lake = Lake(tmp_path / "lake")
    extract_all(source, lake)
    for _ in range(3):
        generator.advance(source_db, 1)
        source.sync()
        results = extract_all(source, lake)
        assert results["Shipments"].rows > 0 and results["Shipments"].deleted_rows > 0
    for t in TABLES:
        versions = lake_versions(lake, t)
        assert max(versions.values()) == 1, f"{t.name}: a version landed twice"
        missing = source_versions(source_db, t) - set(versions)
        assert not missing, f"{t.name}: current source versions never landed: {sorted(missing)[:5]}"


def test_hard_deletes_become_tombstones(source, source_db: Path, tmp_path: Path):
    lake = Lake(tmp_path / "lake")
    extract_all(source, lake)
    con = sqlite3.connect(source_db)
    before = {r[0] for r in con.execute('SELECT "ShipmentID" FROM "Shipments"')}
    con.close()
    generator.advance(source_db, 1)
    source.sync()
    con = sqlite3.connect(source_db)
    gone = before - {r[0] for r in con.execute('SELECT "ShipmentID" FROM "Shipments"')}
    con.close()
    assert gone
    r = extract_table(get_table("Shipments"), source.url, lake)
    assert r.deleted_rows == len(gone)
    batch = landed(lake, "Shipments").filter(pa.compute.field("_batch_id") == r.batch_id)
    tombs = batch.filter(pa.compute.field("_is_deleted"))
    assert set(tombs.column("ShipmentID").to_pylist()) == gone
    assert tombs.column("Status").null_count == tombs.num_rows


def test_a_crash_before_commit_leaves_no_batch_and_no_watermark(source_db: Path, tmp_path: Path):
    lake = Lake(tmp_path / "lake")
    table = get_table("ShipmentEvents")

    def dying_reader(source_url, sql, batch_size):
        reader = read_arrow(source_url, sql, batch_size)
        if not sql.startswith('SELECT *'):
            return reader

        def batches():
            for i, b in enumerate(reader):
                if i == 2:
                    raise ConnectionError("source went away")
                yield b
        return pa.RecordBatchReader.from_batches(reader.schema, batches())

    with pytest.raises(SourceError, match=r"^table ShipmentEvents: reading the source sqlite://.* failed: source "
                       r"went away; statement: SELECT \* FROM \"ShipmentEvents\"") as failed:
        extract_table(table, url(source_db), lake, ExtractOptions(batch_size=500), reader=dying_reader)
    assert isinstance(failed.value.__cause__, ConnectionError)
    assert lake.manifests(table.name) == [] and lake.delta_table(table.name) is None
    assert not any((tmp_path / "lake" / "_staging" / table.name).iterdir())
    r = extract_table(table, url(source_db), lake)
    assert (r.batch_id, r.mode, r.rows) == (1, "full", generator.table_counts(source_db)["ShipmentEvents"])


def test_an_extract_reads_the_lake_history_only_back_to_its_overlap_window(source_db: Path, tmp_path: Path):
    """Each commit's metadata is a file of the Delta log (a request on Azure: 365 after a year). An extract
    reads the newest commits first and stops at the first whose `table_watermark` is below its overlap window.
    The proof: after 24 nights, the batch metadata of the first eight commits is made unreadable. Reading the
    whole history fails on them; the next night's extract still lands every source version exactly once, from
    the newest commit's watermark, and a full refresh after it still numbers its batch."""
    lake = Lake(tmp_path / "lake")
    orders = get_table("Orders")
    for night in range(24):
        if night:
            generator.advance(source_db, 1)
        extract_table(orders, url(source_db), lake)
    manifests = lake.manifests(orders.name)
    assert [m.batch_id for m in manifests] == list(range(1, 25))
    assert all(m.table_watermark == max(n.watermark_to for n in manifests[:i + 1])
               for i, m in enumerate(manifests))
    log = tmp_path / "lake" / "bronze" / orders.name / "_delta_log"
    for version in range(8):
        commit = log / f"{version:020d}.json"
        lines = [json.loads(line) for line in commit.read_text().splitlines()]
        for action in lines:
            if "commitInfo" in action:
                action["commitInfo"][MANIFEST_KEY] = "{not a manifest"
        commit.write_text("\n".join(json.dumps(action) for action in lines) + "\n")
    with pytest.raises(LakeError, match=r"table Orders: commit \d has unreadable batch metadata"):
        lake.manifests(orders.name)

    generator.advance(source_db, 1)
    night = extract_table(orders, url(source_db), lake)
    assert (night.batch_id, night.mode) == (25, "incremental") and night.rows > 0
    assert night.watermark_from == (datetime.fromisoformat(manifests[-1].table_watermark)
                                    - ExtractOptions().overlap).isoformat()
    versions = lake_versions(lake, orders, lake.delta_table(orders.name).to_pyarrow_table())  # no metadata read
    assert max(versions.values()) == 1, "a version landed twice"
    assert not source_versions(source_db, orders) - set(versions), "a current source version never landed"
    refresh = extract_table(orders, url(source_db), lake, ExtractOptions(full_refresh=True))
    assert (refresh.batch_id, refresh.mode, refresh.rows) == (26, "full", generator.table_counts(source_db)["Orders"])


def test_full_refresh_rereads_everything(source_db: Path, tmp_path: Path):
    lake = Lake(tmp_path / "lake")
    extract_table(get_table("Carriers"), url(source_db), lake)
    r = extract_table(get_table("Carriers"), url(source_db), lake, ExtractOptions(full_refresh=True))
    assert (r.mode, r.rows, r.watermark_from) == ("full", 12, None)


def test_a_full_refresh_tombstones_what_the_source_deleted_and_snapshots_every_key(source_db: Path, tmp_path: Path):
    """A full read keeps its key snapshot in the read batches' own chunks (many here: 100 rows a batch); the
    tombstones and the key snapshot come out of those chunks as they would out of one array."""
    lake = Lake(tmp_path / "lake")
    table = get_table("Shipments")
    extract_table(table, url(source_db), lake)
    con = sqlite3.connect(source_db)
    gone = {r[0] for r in con.execute('SELECT "ShipmentID" FROM "Shipments" WHERE "ShipmentID" % 97 = 0')}
    con.execute('DELETE FROM "Shipments" WHERE "ShipmentID" % 97 = 0')
    con.commit()
    kept = sorted(r[0] for r in con.execute('SELECT "ShipmentID" FROM "Shipments"'))
    con.close()
    assert gone and len(kept) > 1_000

    r = extract_table(table, url(source_db), lake, ExtractOptions(full_refresh=True, batch_size=100))
    assert (r.mode, r.rows, r.deleted_rows) == ("full", len(kept), len(gone))
    batch = landed(lake, "Shipments").filter(pa.compute.field("_batch_id") == r.batch_id)
    tombs = batch.filter(pa.compute.field("_is_deleted"))
    assert set(tombs.column("ShipmentID").to_pylist()) == gone
    assert sorted(lake.latest_keys("Shipments", "ShipmentID").to_pylist()) == kept
    assert lake.manifests("Shipments")[-1].key_count == len(kept)


def _progress_counts(text: str, indent: str = "") -> list[int]:
    """The row counts of ShipmentEvents' progress lines in `text`, one line each (see `progress_logger`)."""
    return [int(m.group(1).replace(",", "")) for m in re.finditer(
        rf"^{indent}table ShipmentEvents: ([\d,]+) rows read so far \([\d,]+ rows/s\)$", text, re.MULTILINE)]


def test_a_long_read_logs_its_progress_at_most_once_per_interval(source_db: Path, tmp_path: Path, caplog):
    """The DAG's extract task logs a table's rows so far while it reads (`progress_logger`); every batch here
    (interval 0), and, on a clock that the test moves, no more often than the interval."""
    import logging

    from logistics_etl.extract.table import progress_logger

    caplog.set_level(logging.INFO, logger="logistics_etl.extract")
    r = extract_table(get_table("ShipmentEvents"), url(source_db), Lake(tmp_path / "lake"),
                      ExtractOptions(batch_size=500), progress=progress_logger(0))
    counts = _progress_counts("\n".join(rec.getMessage() for rec in caplog.records))
    assert len(counts) == -(-r.rows // 500) and counts == sorted(set(counts)) and counts[-1] == r.rows

    caplog.clear()
    now = [100.0]
    report = progress_logger(30, clock=lambda: now[0])
    for t, rows in ((110, 1_000), (129.9, 2_000), (130, 3_000), (150, 4_000), (161, 5_000)):
        now[0] = t
        report("Shipments", rows)
    assert [rec.getMessage() for rec in caplog.records] == [
        "table Shipments: 3,000 rows read so far (100 rows/s)", "table Shipments: 5,000 rows read so far (82 rows/s)"]

    # `logistics extract` into a pipe (no terminal to count in place) prints the same lines
    from tests.conftest import run_cli

    out = run_cli("extract", "--tables", "ShipmentEvents", "--batch-size", "500", "--lake", str(tmp_path / "cli"),
                  env_extra={"LOGISTICS_PROGRESS_LOG_SECONDS": "0"}).stdout
    printed = _progress_counts(out, indent="  ")
    assert printed == counts, out[-2000:]
    # a second run reads the append-only table's overlap window again: those rows count as read, none lands
    out = run_cli("extract", "--tables", "ShipmentEvents", "--batch-size", "500", "--lake", str(tmp_path / "cli"),
                  env_extra={"LOGISTICS_PROGRESS_LOG_SECONDS": "0"}).stdout
    reread = _progress_counts(out, indent="  ")
    assert reread and reread[-1] == min(r.rows, ExtractOptions().key_overlap), out[-2000:]
    assert re.search(r"^ShipmentEvents +batch +2 incremental +rows +0 ", out, re.MULTILINE), out[-2000:]


def test_a_new_source_column_lands_and_is_reported(source_db: Path, tmp_path: Path):
    con = sqlite3.connect(source_db)
    con.execute('ALTER TABLE "Carriers" ADD COLUMN "Website" TEXT')
    con.execute('UPDATE "Carriers" SET "Website" = \'https://carrier.example\'')
    con.commit()
    con.close()
    lake = Lake(tmp_path / "lake")
    r = extract_table(get_table("Carriers"), url(source_db), lake)
    assert r.new_columns == ["Website"]
    assert lake.manifests("Carriers")[0].new_columns == ["Website"]
    assert landed(lake, "Carriers").column("Website")[0].as_py() == "https://carrier.example"


def test_a_dropped_column_fails_the_table_naming_it(source_db: Path, tmp_path: Path):
    con = sqlite3.connect(source_db)
    con.execute('ALTER TABLE "Vehicles" DROP COLUMN "CapacityKg"')
    con.commit()
    con.close()
    lake = Lake(tmp_path / "lake")
    with pytest.raises(SchemaDriftError, match=r"table Vehicles: column CapacityKg is in the contract but not"):
        extract_table(get_table("Vehicles"), url(source_db), lake)
    assert lake.manifests("Vehicles") == []


def test_a_retyped_column_fails_the_table_naming_it(source_db: Path, tmp_path: Path):
    con = sqlite3.connect(source_db)
    con.executescript('''
        ALTER TABLE "Drivers" RENAME TO "DriversOld";
        CREATE TABLE "Drivers" ("DriverID" INTEGER PRIMARY KEY, "CarrierID" TEXT, "FullName" TEXT,
                                "LicenseNumber" TEXT, "ModifiedAt" DATETIME NOT NULL);
        INSERT INTO "Drivers" SELECT "DriverID", 'C-' || "CarrierID", "FullName", "LicenseNumber", "ModifiedAt"
        FROM "DriversOld";
    ''')
    con.close()
    with pytest.raises(SchemaDriftError, match=r"table Drivers: column CarrierID has source type string"):
        extract_table(get_table("Drivers"), url(source_db), Lake(tmp_path / "lake"))


def test_postgres_amounts_travel_as_scaled_integers_and_land_exact(postgres_server, tmp_path: Path):
    """A real PostgreSQL: the amounts are sent as BIGINT counts of cents and land as exactly the decimals the
    source holds, at the edges of their types; a new source column, a decimal the contract does not know, is
    read as it is and reported. An amount whose source scale changed is read as a decimal, and fails the table
    naming the column when it holds a digit the contract has no room for; a table gone from the catalog fails
    naming the table."""
    from decimal import Decimal

    import psycopg

    from tests.conftest import fresh_database

    source_url = fresh_database(postgres_server, "amounts")
    t = get_table("Shipments")
    amounts = {1: ("9999999999.99", "9999999999999999.99"), 2: ("-0.01", "-9999999999999999.99"),
               3: (None, None), 4: ("0.00", "0.01"), 5: ("123.45", "1.10")}
    with psycopg.connect(source_url) as con:
        con.execute("create schema dbo")
        con.execute(f'create table dbo."{t.name}" (' + ", ".join(f'"{c.name}" {TYPES[c.kind][1]}'
                                                                  for c in t.columns) + ")")
        for key, (weight, cost) in amounts.items():
            con.execute(f'insert into dbo."{t.name}" ("ShipmentID", "WeightKg", "FreightCost", "ModifiedAt") '
                        "values (%s, %s, %s, timestamp '2025-06-01 10:00:00')", (key, weight, cost))
        con.execute(f'alter table dbo."{t.name}" add column "InsuredValue" numeric(18,2)')
        con.execute(f'update dbo."{t.name}" set "InsuredValue" = 1234.5 where "ShipmentID" = 5')
    sent: list[str] = []

    def reader(url_, sql, batch_size):
        sent.append(sql)
        return read_arrow(url_, sql, batch_size)

    lake = Lake(tmp_path / "lake")
    assert extract_table(t, source_url, lake, reader=reader).new_columns == ["InsuredValue"]
    assert any('CAST("WeightKg" * 100 AS BIGINT) AS "WeightKg"' in sql and
               'CAST("FreightCost" * 100 AS BIGINT) AS "FreightCost"' in sql and
               '"ModifiedAt", "InsuredValue" FROM' in sql for sql in sent), sent
    rows = landed(lake, t.name).sort_by("ShipmentID")
    assert rows.schema.field("WeightKg").type == pa.decimal128(12, 2)
    assert rows.schema.field("FreightCost").type == pa.decimal128(18, 2)
    got = {r["ShipmentID"]: (r["WeightKg"], r["FreightCost"]) for r in rows.to_pylist()}
    assert got == {k: tuple(None if v is None else Decimal(v) for v in pair) for k, pair in amounts.items()}
    assert rows.column("InsuredValue").to_pylist() == [None] * 4 + [Decimal("1234.5")]

    with psycopg.connect(source_url) as con:  # the source now keeps grams: a third decimal digit
        con.execute(f'alter table dbo."{t.name}" alter column "WeightKg" type numeric(13,3)')
        con.execute(f'update dbo."{t.name}" set "WeightKg" = 1.234 where "ShipmentID" = 5')
    sent.clear()
    with pytest.raises(SchemaDriftError, match=r"table Shipments: column WeightKg cannot be cast from decimal"):
        extract_table(t, source_url, lake, ExtractOptions(full_refresh=True), reader=reader)
    assert any('"WeightKg", CAST("FreightCost" * 100 AS BIGINT)' in sql for sql in sent), sent
    assert len(lake.manifests(t.name)) == 1

    with psycopg.connect(source_url) as con:
        con.execute(f'drop table dbo."{t.name}"')
    with pytest.raises(SchemaDriftError, match=r"table Shipments: not in the source's catalog"):
        extract_table(t, source_url, lake, reader=reader)


def test_a_source_that_fails_the_read_fails_the_table_naming_it(postgres_server, source_db: Path,
                                                                 data_dir: Path, tmp_path: Path):
    """A source that cannot be read fails the table with a `SourceError` naming the table, the source (its
    password redacted) and the statement, and commits nothing: a real PostgreSQL whose server fails in the
    middle of the statement (a view whose third row divides by zero; read by ADBC, which does not pass on the
    SQLSTATE of a failure mid-stream, and by connectorx) or refuses the login, a port where no server
    listens, a SQLite source without the table, and a mistyped SQLite path (which connectorx would have
    created as an empty database). The CLI prints the same message, without a traceback."""
    import psycopg

    from tests.conftest import _free_port, fresh_database, run_cli

    t = get_table("Carriers")
    source_url = fresh_database(postgres_server, "unreadable")
    with psycopg.connect(source_url) as con:
        con.execute("create schema dbo")
        con.execute('create table dbo."CarriersBase" (' + ", ".join(
            f'"{c.name}" {TYPES[c.kind][1]}' for c in t.columns) + ")")
        con.execute('insert into dbo."CarriersBase" ("CarrierID", "ModifiedAt") '
                    "select i, timestamp '2025-06-01 10:00:00' from generate_series(1, 5) as i")
        con.execute('create view dbo."Carriers" as select ' + ", ".join(
            f'"{c.name}" / case when "CarrierID" = 3 then 0 else 1 end as "{c.name}"' if c.name == t.key
            else f'"{c.name}"' for c in t.columns) + ' from dbo."CarriersBase"')
    with_password = source_url.replace("://logistics@", "://logistics:hunter2@")
    lake = Lake(tmp_path / "lake")
    with pytest.raises(SourceError, match=r"^table Carriers: reading the source postgresql://logistics:\*\*\*@.*"
                       r"/unreadable failed: division by zero; statement: SELECT \"CarrierID\", "):
        extract_table(t, with_password, lake, ExtractOptions(batch_size=2))  # the main statement fails, read by ADBC
    with pytest.raises(SourceError, match=r"^table Carriers: reading the source postgresql://logistics:\*\*\*@.*"
                       r"/unreadable failed: division by zero \(SQLSTATE 22012\); statement: SELECT \"CarrierID\", "):
        extract_table(t, with_password, lake, ExtractOptions(batch_size=2, full_read_parallel=1),  # and by connectorx
                      reader=lambda url_, sql, batch_size: read_arrow(url_, sql, batch_size, driver="connectorx"))
    assert lake.manifests(t.name) == []
    nobody = source_url.replace("://logistics@", "://nobody@")
    with pytest.raises(SourceError, match=r"^table Carriers: reading the source postgresql://nobody@.*/unreadable "
                       r'failed: role "nobody" does not exist; statement: SELECT CAST\(COLUMN_NAME'):
        extract_table(t, nobody, lake)  # the login fails (ADBC)

    closed = f"postgresql://logistics:hunter2@127.0.0.1:{_free_port()}/logisticsdb"  # nothing listens there
    with pytest.raises(SourceError, match=r"^table Carriers: reading the source postgresql://logistics:\*\*\*@"
                       r"127\.0\.0\.1:\d+/logisticsdb failed: cannot connect to 127\.0\.0\.1:\d+: Connection refused$"):
        extract_table(t, closed, lake)  # at once, not after connectorx's 30 s of retries

    con = sqlite3.connect(source_db)
    con.execute('DROP TABLE "Routes"')
    con.close()
    with pytest.raises(SourceError, match=r"^table Routes: reading the source sqlite://.* failed: no such table: "
                       r"Routes; statement: SELECT .*FROM \"Routes\""):
        extract_table(get_table("Routes"), url(source_db), lake)
    missing = tmp_path / "typo.sqlite"
    with pytest.raises(SourceError, match=f"^table Orders: the SQLite source {missing} does not exist \\(make "):
        extract_table(get_table("Orders"), url(missing), lake)
    assert not missing.exists() and lake.manifests("Routes") == lake.manifests("Orders") == []

    out = run_cli("extract", "--tables", "Carriers", "--source", with_password, check=False)
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
    assert "error: table Carriers: reading the source postgresql://logistics:***@" in out.stderr, out.stderr
    assert "division by zero" in out.stderr and "hunter2" not in out.stderr + out.stdout


def test_bad_input_gets_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    with pytest.raises(KeyError, match="unknown source table 'Parcels'.*Customers, Carriers"):
        resolve_tables(["Parcels"])
    assert [t.name for t in resolve_tables(["shipments", "ORDERS"])] == ["Orders", "Shipments"]
    with pytest.raises(SourceURLError, match="scheme 'oracle' is not supported"):
        queries.dialect_for("oracle://host/db")
    from tests.conftest import run_cli

    for args, message in [(["extract", "--parallel", "0"], "argument --parallel: must be >= 1, got 0"),
                          (["extract", "--batch-size", "lots"], "argument --batch-size: 'lots' is not a whole number"),
                          (["run", "--scale", "-1"], "argument --scale: must be > 0, got -1"),
                          (["extract", "--source", "oracle://h/db"], "error: source URL scheme 'oracle' is not"),
                          (["extract", "--tables", ""], "argument --tables: no table named in ''"),
                          (["extract", "--tables", " , "], "argument --tables: no table named in ' , '"),
                          (["extract", "--tables", "Orders,Parcels"], "unknown source table 'Parcels'"),
                          (["lake", "history", "--tables", ""], "argument --tables: no table named"),
                          (["history", "--tables", "parcels"], "unknown source table 'parcels'"),
                          (["extract", "--source", "postgresql://u:secret@[::1/db"],
                           "error: source URL [::1/db is malformed: Invalid IPv6 URL\n"),
                          (["extract", "--source", "postgresql://u:secret@h:99999/db"],
                           "error: source URL postgresql://u:***@h:99999/db is malformed: Port out of range")]:
        out = run_cli(*args, check=False)
        assert out.returncode == 2 and message in out.stderr and "Traceback" not in out.stderr, (args, out.stderr)
        assert "secret" not in out.stderr
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    out = run_cli("extract", "--tables", "Carriers", check=False, env_extra={"LAKE_ROOT": str(a_file / "lake")})
    assert out.returncode == 2 and out.stderr == f"error: lake {a_file}/lake: {a_file} is a file, not a folder " \
        "(LAKE_ROOT or --lake)\n", out.stderr
    monkeypatch.setenv("LOGISTICS_BATCH_SIZE", "lots")
    with pytest.raises(ConfigError, match="LOGISTICS_BATCH_SIZE='lots' is not a whole number"):
        load_settings()
    monkeypatch.delenv("LOGISTICS_BATCH_SIZE")
    for root in ["/tmp/lake' || 'x", "abfs://lake/a`b", "/tmp/lake;drop"]:
        monkeypatch.setenv("LAKE_ROOT", root)
        with pytest.raises(ConfigError, match="setting LAKE_ROOT: the lake path .* cannot quote on every target"):
            load_settings()
    monkeypatch.delenv("LAKE_ROOT")
    monkeypatch.setenv("LOGISTICS_DATA_DIR", "/tmp/o'brien")
    with pytest.raises(ConfigError, match=r"setting LOGISTICS_DATA_DIR \(the lake is its lake/ folder\)"):
        load_settings()


def test_queries_per_dialect_and_no_password_in_logs():
    from datetime import datetime

    shipments = get_table("Shipments")
    since = datetime(2025, 6, 1, 1, 2, 3, 456789, tzinfo=UTC)
    assert queries.changed_rows(shipments, queries.dialect_for("mssql://u:p@h:1433/LogisticsDB"), since) == (
        "SELECT * FROM [dbo].[Shipments] WHERE [ModifiedAt] > CAST('2025-06-01T01:02:03.456789' AS DATETIME2(7))")
    assert queries.rows_by_keys(shipments, queries.dialect_for("mssql://u:p@h:1433/LogisticsDB"), [7, 9]) == (
        "SELECT * FROM [dbo].[Shipments] WHERE [ShipmentID] IN (7, 9)")
    assert queries.changed_rows(shipments, queries.dialect_for("postgresql://h/db"), since) == (
        "SELECT * FROM \"dbo\".\"Shipments\" WHERE \"ModifiedAt\" > TIMESTAMP '2025-06-01 01:02:03.456789'")
    events = get_table("ShipmentEvents")
    assert queries.changed_rows(events, queries.dialect_for("sqlite:///x"), 41) == (
        'SELECT * FROM "ShipmentEvents" WHERE "EventID" > 41')
    assert redact("mssql://etl:s3cret@db:1433/LogisticsDB") == "mssql://etl:***@db:1433/LogisticsDB"


def test_postgres_server_refuses_an_unreachable_folder_clearly(tmp_path: Path):
    import os

    from logistics_etl.dev.postgres import LocalPostgres, PostgresError

    if os.geteuid() != 0:
        pytest.skip("only root hands the server to the postgres user")
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    with pytest.raises(PostgresError, match="the postgres user cannot reach .* is not searchable by others"):
        LocalPostgres(private / "pg").start()


def test_cli_loads_the_standin_into_postgres_and_extracts_from_it(data_dir: Path):
    """The documented path: generate, `logistics postgres load`, extract with --source, stop."""
    import tempfile

    from tests.conftest import _free_port, run_cli

    root = tempfile.mkdtemp(prefix="logistics-pg-cli-")
    port = str(_free_port())
    run_cli("source", "generate", "--scale", "0.01", "--seed", "2")
    try:
        out = run_cli("postgres", "load", "--dir", root, "--port", port).stdout
        assert "copied Shipments" in out and "loaded" in out
        pg_url = next(w for w in out.split() if w.startswith("postgresql://"))
        extracted = run_cli("extract", "--tables", "Shipments,Orders", "--source", pg_url).stdout
        assert "Shipments" in extracted and "full" in extracted
    finally:
        run_cli("postgres", "stop", "--dir", root, "--port", port)


def test_key_ranges_cover_every_key_once():
    assert queries.split_key_range(1, 10, 3) == [(None, 3), (4, 7), (8, None)]
    assert queries.split_key_range(5, 5, 4) == [(None, None)]
    assert queries.split_key_range(9, 3, 2) == []
    for low, high, parts in [(1, 1_000_003, 2), (17, 950, 7), (0, 5, 5)]:
        slices = queries.split_key_range(low, high, parts)
        covered = [k for k in range(low, high + 1)
                   if sum((lo is None or k >= lo) and (hi is None or k <= hi) for lo, hi in slices) == 1]
        assert len(covered) == high - low + 1


def _land_two_days(source, source_db: Path, lakes: list[tuple[Lake, dict]]) -> list:
    """Extract every table into each lake (with that lake's `extract_table` options) on a first load and
    after one change day; returns every statement (or list of statements) the reads were given."""
    statements: list = []

    def recording_reader(url_, sql, batch_size):
        statements.append(sql)
        return read_arrow(url_, sql, batch_size)

    for day in range(2):
        if day:
            generator.advance(source_db, 1)
            source.sync()
        for lake, options in lakes:
            for t in TABLES:
                extract_table(t, source.url, lake, ExtractOptions(**options), reader=recording_reader)
    return statements


def _landed_in_order(lake: Lake, t) -> pa.Table:
    return landed(lake, t.name).drop_columns(["_extracted_at"]).sort_by([(t.key, "ascending"),
                                                                        ("_batch_id", "ascending")])


def test_parallel_key_ranges_land_the_same_rows(source, source_db: Path, tmp_path: Path):
    """Three key ranges read at once (one connectorx reader over three statements) land what one statement
    lands, on a first load and after a change day."""
    serial, parallel = Lake(tmp_path / "serial"), Lake(tmp_path / "parallel")
    statements = _land_two_days(source, source_db, [(serial, {"parallel": 1}), (parallel, {"parallel": 3})])
    for t in TABLES:
        assert _landed_in_order(serial, t).equals(_landed_in_order(parallel, t)), t.name
    ranged = [s for s in statements if isinstance(s, list)]
    assert len(ranged) == 2 * len(TABLES) and all(len(s) == 3 for s in ranged), "one reader, three ranges"


def test_a_full_read_of_a_big_table_reads_the_drivers_key_ranges_and_a_change_day_one(source, source_db: Path,
                                                                                      tmp_path: Path):
    """By default a full read of a table whose keys span at least `parallel_min_keys` reads as many key ranges
    at once as the source's driver gains from: two through connectorx (SQLite here; FULL_READ_PARALLEL), one
    through ADBC (PostgreSQL); smaller tables and incremental reads stay one statement. Lowered to 1,000 keys
    here, the first load reads the bigger tables in that many ranges and lands what one statement lands."""
    ranges = full_read_ranges(source.url)
    assert ranges == (1 if source.engine == "postgresql" else FULL_READ_PARALLEL)
    one, auto = Lake(tmp_path / "one"), Lake(tmp_path / "auto")
    statements = _land_two_days(source, source_db, [(one, {"full_read_parallel": 1}),
                                                   (auto, {"parallel_min_keys": 1_000})])
    big = set()
    for t in TABLES:
        assert _landed_in_order(one, t).equals(_landed_in_order(auto, t)), t.name
        first = landed(one, t.name).filter(pc.equal(pc.field("_batch_id"), 1)).column(t.key)
        if pc.max(first).as_py() - pc.min(first).as_py() + 1 >= 1_000:
            big.add(t.name)
    assert big and len(big) < len(TABLES), big
    ranged = [s for s in statements if isinstance(s, list)]  # one reader given both ranges of a table
    if ranges == 1:
        assert ranged == [], ranged
        return
    assert len(ranged) == len(big) and all(len(s) == 2 for s in ranged), ranged
    assert {t.name for t in TABLES if any(f'"{t.name}"' in s[0] for s in ranged)} == big


def test_connectorx_lands_from_postgresql_what_adbc_lands(postgres_server, source_db: Path, tmp_path: Path):
    """PostgreSQL is read through ADBC; connectorx, the driver that reads SQL Server, reads it here too (in two
    key ranges, as it would read a big table), so its code path runs against a real networked server: on a
    first load and after a change day, with its deletes, it lands exactly what ADBC lands."""
    from tests.conftest import Source

    source = Source("postgresql", source_db, postgres_server)
    adbc, cx = Lake(tmp_path / "adbc"), Lake(tmp_path / "connectorx")

    def connectorx(url_, sql, batch_size):
        return read_arrow(url_, sql, batch_size, driver="connectorx")

    for day in range(2):
        if day:
            generator.advance(source_db, 1)
            source.sync()
        for t in TABLES:
            extract_table(t, source.url, adbc)
            extract_table(t, source.url, cx, ExtractOptions(full_read_parallel=2, parallel_min_keys=1_000),
                          reader=connectorx)
    for t in TABLES:
        assert _landed_in_order(adbc, t).equals(_landed_in_order(cx, t)), t.name
        assert [m.rows for m in adbc.manifests(t.name)] == [m.rows for m in cx.manifests(t.name)], t.name
    assert sum(m.deleted_rows for t in TABLES for m in cx.manifests(t.name)) > 0


def test_keyset_pages_land_the_same_rows(source, source_db: Path, tmp_path: Path):
    """Reading in keyset pages (one short statement per page), alone and with parallel ranges, lands exactly
    what one statement per table lands, on a first load and after a change day."""
    lakes = [(Lake(tmp_path / "one"), {"page_rows": 0, "parallel": 1}),
             (Lake(tmp_path / "paged"), {"page_rows": 997, "parallel": 1}),
             (Lake(tmp_path / "both"), {"page_rows": 997, "parallel": 2})]
    statements = _land_two_days(source, source_db, lakes)
    for t in TABLES:
        tables = [_landed_in_order(lake, t) for lake, _ in lakes]
        assert tables[0].equals(tables[1]) and tables[0].equals(tables[2]), t.name
    rows = landed(lakes[0][0], "ShipmentEvents").num_rows
    pages = [s for s in statements if isinstance(s, str) and "ShipmentEvents" in s and "LIMIT 997" in s]
    assert len(pages) >= rows // 997, "a page per 997 rows"


def tsql_catalog(table) -> list[tuple[str, str, int | None, int | None]]:
    """What SQL Server's INFORMATION_SCHEMA.COLUMNS says of a table created with the contract's T-SQL DDL."""
    from logistics_etl.contract import TYPES

    rows = []
    for c in table.columns:
        name, _, args = TYPES[c.kind][2].partition("(")
        if name == "DECIMAL":
            precision, scale = (int(x) for x in args.rstrip(")").split(","))
            rows.append((c.name, "decimal", precision, scale))
        else:
            rows.append((c.name, name.lower(), None, None))
    return rows


def test_every_sql_server_query_parses_as_tsql():
    """No SQL Server engine runs here: the T-SQL the extract would send is parsed with sqlglot's T-SQL dialect
    and its shape checked (table, filters, typed datetime2 literal)."""
    from datetime import datetime

    import sqlglot
    from sqlglot import exp

    dialect = queries.dialect_for("mssql://etl:pw@sql.example:1433/LogisticsDB")
    since = datetime(2025, 6, 1, 1, 2, 3, 456789, tzinfo=UTC)
    for t in TABLES:
        bound = 41 if t.append_only else since
        cols, scaled = queries.select_list(t, dialect, tsql_catalog(t))
        statements = [queries.key_snapshot(t, dialect), queries.changed_rows(t, dialect, None, columns=cols),
                      queries.changed_rows(t, dialect, bound, columns=cols)]
        statements += [queries.changed_rows(t, dialect, bound, r, columns=cols)
                       for r in queries.split_key_range(1, 1000, 3)]
        statements += [queries.changed_rows(t, dialect, bound, (None, 500), page=(after, 5000), columns=cols)
                       for after in (None, 17)]
        catalog = sqlglot.parse_one(queries.source_columns(t, dialect), read="tsql")
        assert (catalog.find(exp.Table).db, catalog.find(exp.Table).name) == ("INFORMATION_SCHEMA", "COLUMNS")
        assert f"TABLE_NAME = '{t.name}'" in catalog.sql(dialect="tsql")
        # every column named, in contract order; the decimals as BIGINT counts of cents under their own name
        rows = sqlglot.parse_one(statements[1], read="tsql")
        assert [e.alias_or_name for e in rows.expressions] == t.column_names
        decimals = [c.name for c in t.columns if c.kind in ("money", "measure")]
        assert sorted(scaled) == sorted(decimals)
        for e in rows.expressions:
            if e.alias_or_name in decimals:
                cast = e.find(exp.Cast)
                assert cast.to.this == exp.DataType.Type.BIGINT and cast.find(exp.Mul).expression.this == "100"
        for sql in statements:
            tree = sqlglot.parse_one(sql, read="tsql")
            table = tree.find(exp.Table)
            assert (table.db, table.name) == ("dbo", t.name), sql
            assert sqlglot.transpile(sql, read="tsql", write="tsql")[0]  # round-trips
        where = sqlglot.parse_one(statements[2], read="tsql").find(exp.Where)
        assert where.find(exp.Column).name == t.watermark_column
        if not t.append_only:
            cast = where.find(exp.Cast)
            assert cast.to.this == exp.DataType.Type.DATETIME2, statements[2]
        page = sqlglot.parse_one(statements[-1], read="tsql")
        assert page.args["limit"].expression.this == "5000" and page.find(exp.Order).find(exp.Column).name == t.key
        assert f"[{t.key}] > 17" in statements[-1] and f"[{t.key}] <= 500" in statements[-1]


def test_the_tsql_shown_in_the_docs_is_what_the_extract_sends():
    """docs/extract.md shows the T-SQL for Shipments; it must stay the code's own output."""
    from datetime import datetime

    from logistics_etl.settings import PROJECT_ROOT

    doc = (PROJECT_ROOT / "docs" / "extract.md").read_text()
    block = doc.split("## The T-SQL the extract sends", 1)[1].split("```sql", 1)[1].split("```", 1)[0]
    shown = [re.sub(r"\s+", " ", s).strip() for s in re.split(r"--[^\n]*\n", block) if s.strip()]
    shown = [s for chunk in shown for s in re.split(r" (?=SELECT )", chunk)]
    t, d = get_table("Shipments"), queries.dialect_for("mssql://u:p@h/LogisticsDB")
    since = datetime(2025, 6, 1, 1, 2, 3, 456789, tzinfo=UTC)
    ranges = queries.split_key_range(1, 97_000, 2)
    cols, _ = queries.select_list(t, d, tsql_catalog(t))
    sent = [queries.source_columns(t, d), queries.key_snapshot(t, d)] + \
        [queries.changed_rows(t, d, since, r, columns=cols) for r in ranges] + \
        [queries.changed_rows(t, d, since, ranges[0], page=(31337, 100_000), columns=cols)]
    assert shown == sent


def test_a_table_that_fails_does_not_stop_the_others_on_the_cli(tmp_path):
    """One unreadable value in Warehouses (a `ModifiedAt` that is no time, in the SQLite stand-in): that table
    fails with one line naming it and the column, the eight others land, and the command fails at the end
    naming it (as the DAG's extract tasks do, each on its own)."""
    from tests.conftest import run_cli

    env = {"LOGISTICS_DATA_DIR": str(tmp_path / "data")}
    run_cli("source", "generate", "--scale", "0.01", env_extra=env)
    con = sqlite3.connect(tmp_path / "data" / "source" / "logisticsdb.sqlite")
    with con:
        con.execute("""UPDATE "Warehouses" SET "ModifiedAt" = 'garbage' WHERE "WarehouseID" = 1""")
    con.close()
    proc = run_cli("extract", env_extra=env, check=False)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "error: table Warehouses: reading the source" in proc.stderr and \
        "failed: column ModifiedAt holds a value SQLite stores as text" in proc.stderr, proc.stderr
    assert "error: 1 of 9 tables failed, nothing of theirs committed: Warehouses; the others landed" \
        in proc.stderr, proc.stderr
    landed = {line.split()[0] for line in proc.stdout.splitlines() if " batch " in line}
    assert landed == {t.name for t in TABLES} - {"Warehouses"}, proc.stdout
    lake = Lake(tmp_path / "data" / "lake")
    assert lake.manifests("Warehouses") == [] and len(lake.manifests("ShipmentEvents")) == 1


def test_a_row_inserted_while_an_extract_reads_is_tombstoned_when_it_is_deleted(source_db: Path, tmp_path: Path):
    """An incremental extract takes the key snapshot before it reads the changed rows. A row inserted between
    the two (here into the real SQLite source, right after the snapshot's statement was read) lands with the
    batch; the snapshot kept for the next night must hold it, or its deletion is never seen and silver keeps
    the row forever."""
    lake = Lake(tmp_path / "lake")
    carriers = get_table("Carriers")
    extract_table(carriers, url(source_db), lake)
    snapshot_sql = queries.key_snapshot(carriers, queries.dialect_for(url(source_db)))

    def racing_reader(source_url, sql, batch_size):
        reader = read_arrow(source_url, sql, batch_size)
        batches = list(reader)
        if sql == snapshot_sql:
            con = sqlite3.connect(source_db)
            with con:
                modified = con.execute('SELECT MAX("ModifiedAt") FROM "Carriers"').fetchone()[0]
                con.execute('INSERT INTO "Carriers" VALUES (999, \'LATE\', \'Late Carrier\', \'Road\', ?)', (modified,))
            con.close()
        return pa.RecordBatchReader.from_batches(reader.schema, batches)

    racing = extract_table(carriers, url(source_db), lake, reader=racing_reader)
    assert (racing.mode, racing.rows, racing.deleted_rows) == ("incremental", 1, 0)
    con = sqlite3.connect(source_db)
    with con:
        con.execute('DELETE FROM "Carriers" WHERE "CarrierID" = 999')
    con.close()
    after = extract_table(carriers, url(source_db), lake)
    assert (after.rows, after.deleted_rows) == (0, 1)
    rows = DeltaTable(str(tmp_path / "lake" / "bronze" / "Carriers")).to_pyarrow_table().to_pylist()
    assert sorted((r["_batch_id"], r["_is_deleted"]) for r in rows if r["CarrierID"] == 999) == [(2, False), (3, True)]


def test_a_row_deleted_one_night_and_restored_the_next_lands_again(source_db: Path, tmp_path: Path):
    """A row hard-deleted (tombstoned the next night) and then put back with its old `ModifiedAt`, below every
    later read's window: the night it is back, its key is in the snapshot but was not in the last one and no
    read saw it, so it is read by key and lands again, after its tombstone (silver takes the newest batch)."""
    lake = Lake(tmp_path / "lake")
    customers = get_table("Customers")
    extract_table(customers, url(source_db), lake)
    con = sqlite3.connect(source_db)
    with con:
        kept = con.execute('SELECT * FROM "Customers" WHERE "CustomerID" = 7').fetchone()
        con.execute('DELETE FROM "Customers" WHERE "CustomerID" = 7')
    deleted = extract_table(customers, url(source_db), lake)
    assert (deleted.rows, deleted.deleted_rows) == (0, 1)
    generator.advance(source_db, 2)  # two change days: the restored row's ModifiedAt is far below the window
    with con:
        con.execute(f'INSERT INTO "Customers" VALUES ({", ".join("?" * len(kept))})', kept)
    con.close()
    restored = extract_table(customers, url(source_db), lake)
    rows = DeltaTable(str(tmp_path / "lake" / "bronze" / "Customers")).to_pyarrow_table().to_pylist()
    versions = sorted((r["_batch_id"], r["_is_deleted"]) for r in rows if r["CustomerID"] == 7)
    assert versions == [(1, False), (2, True), (3, False)], versions
    again = [r for r in rows if r["CustomerID"] == 7 and r["_batch_id"] == 3][0]
    assert again["CustomerCode"] == kept[1] and restored.deleted_rows == 0
    assert extract_table(customers, url(source_db), lake).rows == 0  # read once, not every night
