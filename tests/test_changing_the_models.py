"""The recipes of docs/changing-the-models.md, followed in a scratch copy of the project: a new source
column and a new source table reach bronze, silver, quarantine and reconciliation, and the only files
changed are the ones the recipes name; a new gold model builds and `logistics summary` lists it.

Real components in the copy: the stand-in (SQLite), the extract, dbt on DuckDB. The project itself is not
touched.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import duckdb

from logistics_etl.settings import PROJECT_ROOT

COPIED = ["dbt_project.yml", "dbt_project", "macros", "seeds", "snapshots", "profiles", "tests/dbt", "logistics_etl"]
# what each recipe changes, and nothing else (the models of a new table are new files)
NEW_COLUMN_FILES = {"logistics_etl/contract.py", "dbt_project/bronze/brz_carriers.sql",
                    "dbt_project/bronze/_bronze.yml", "dbt_project/silver/_silver.yml"}
NEW_TABLE_FILES = {"logistics_etl/contract.py", "dbt_project.yml", "dbt_project/bronze/_bronze.yml",
                   "dbt_project/silver/_silver.yml"}
NEW_TABLE_MODELS = {"dbt_project/bronze/brz_depots.sql", "dbt_project/silver/slv_depots_checked.sql",
                    "dbt_project/silver/slv_depots.sql"}


def edit(root: Path, path: str, old: str, new: str) -> None:
    file = root / path
    text = file.read_text()
    assert text.count(old) == 1, f"{path}: the recipe's anchor {old!r} is not there once"
    file.write_text(text.replace(old, new))


def add_a_gold_model(root: Path) -> None:
    """docs/changing-the-models.md, "Add a gold model or KPI": the model, its YAML with an enforced contract."""
    (root / "dbt_project/gold/depots_per_country.sql").write_text(
        "with\n\ndepots as (\n\n    select * from {{ ref('slv_depots') }}\n\n),\n\nfinal as (\n\n"
        "    select\n        country,\n        count(*) as depots\n    from depots\n    group by country\n\n)\n\n"
        "select * from final\n")
    edit(root, "dbt_project/gold/_gold.yml", "\nunit_tests:\n", """
  - name: depots_per_country
    description: Depots per country.
    config:
      contract: {enforced: true}
    columns:
      - {name: country, data_type: *text_type, description: ISO country code., data_tests: [not_null, unique]}
      - {name: depots, data_type: bigint, description: Depots in the country.}

unit_tests:
""")


def add_a_column(root: Path) -> None:
    """Carriers gains `Phone` (appended, as ALTER TABLE ... ADD does)."""
    edit(root, "logistics_etl/contract.py", '"CarrierID:id! CarrierCode:text Name:text Mode:text ModifiedAt:time!"',
         '"CarrierID:id! CarrierCode:text Name:text Mode:text ModifiedAt:time! Phone:text"')
    edit(root, "dbt_project/bronze/brz_carriers.sql", "        {{ as_utc_timestamp('ModifiedAt') }} as modified_at,\n",
         "        {{ as_utc_timestamp('ModifiedAt') }} as modified_at,\n"
         "        cast(Phone as {{ dbt.type_string() }}) as phone,\n")
    edit(root, "dbt_project/bronze/_bronze.yml",
         '      - {name: transport_mode, description: "Road, Air, Sea or Rail (Mode)."}\n      - *modified_at\n',
         '      - {name: transport_mode, description: "Road, Air, Sea or Rail (Mode)."}\n      - *modified_at\n'
         '      - {name: phone, description: Dispatch phone number (Phone).}\n')
    # described where silver shows it (the models' columns come from the bronze YAML)
    silver = root / "dbt_project/silver/_silver.yml"
    text = silver.read_text()
    for model in ("slv_carriers_checked", "slv_carriers"):
        block = _yaml_block(text, model)
        text = text.replace(block, block.replace("      - *modified_at\n", "      - *modified_at\n"
                                                 "      - {name: phone, description: Dispatch phone number.}\n", 1))
    silver.write_text(text)


def _like_warehouses(text: str) -> str:
    return text.replace("Warehouse", "Depot").replace("warehouse", "depot")


def _yaml_block(text: str, model: str) -> str:
    """A model's block in a YAML file of models, up to the next model."""
    start = text.index(f"  - name: {model}\n")
    end = text.find("\n  - name: ", start + 1)
    return text[start:end if end > 0 else len(text)].rstrip() + "\n"


def add_a_table(root: Path) -> None:
    """Depots, a table shaped like Warehouses: its models start as copies of those of Warehouses, as a
    developer's would."""
    edit(root, "logistics_etl/contract.py", "\nTABLES_BY_NAME",
         '\nTABLES = TABLES + (_t("Depots", "DepotID", "DepotID:id! DepotCode:text Name:text City:text "\n'
         '                      "Country:text ModifiedAt:time!"),)\n\nTABLES_BY_NAME')
    last = "    - {table: ShipmentEvents, name: shipment_events, key: event_id, append_only: true}\n"
    edit(root, "dbt_project.yml", last, last + "    - {table: Depots, name: depots, key: depot_id}\n")
    edit(root, "dbt_project/bronze/_bronze.yml", "        description: Append-only; incremental by EventID.\n",
         "        description: Append-only; incremental by EventID.\n      - name: Depots\n")
    for yml, models in (("bronze/_bronze.yml", ["brz_warehouses"]),
                        ("silver/_silver.yml", ["slv_warehouses_checked", "slv_warehouses"])):
        text = (root / "dbt_project" / yml).read_text()
        blocks = "".join("\n" + _like_warehouses(_yaml_block(text, m)) for m in models)
        cut = text.index("\nunit_tests:") if "\nunit_tests:" in text else len(text)
        (root / "dbt_project" / yml).write_text(text[:cut].rstrip() + "\n" + blocks + text[cut:])
    for model in ("bronze/brz_warehouses.sql", "silver/slv_warehouses_checked.sql", "silver/slv_warehouses.sql"):
        sql = (root / "dbt_project" / model).read_text()
        (root / "dbt_project" / _like_warehouses(model)).write_text(_like_warehouses(sql))


def changed_files(before: dict[str, str], root: Path) -> set[str]:
    now = {str(p.relative_to(root)): p.read_text() for p in root.rglob("*") if p.is_file()
           and "__pycache__" not in p.parts and "target" not in p.parts}
    return {path for path, text in now.items() if before.get(path) != text}


def test_a_new_column_and_a_new_table_reach_silver_with_the_files_the_recipes_name(tmp_path: Path):
    root = tmp_path / "project"
    for path in COPIED:
        src = PROJECT_ROOT / path
        if src.is_dir():
            shutil.copytree(src, root / path, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            (root / path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, root / path)
    before = {str(p.relative_to(root)): p.read_text() for p in root.rglob("*") if p.is_file()
              and "__pycache__" not in p.parts}

    add_a_column(root)
    assert changed_files(before, root) == NEW_COLUMN_FILES
    add_a_table(root)
    assert changed_files(before, root) == NEW_COLUMN_FILES | NEW_TABLE_FILES | NEW_TABLE_MODELS

    data = tmp_path / "data"
    env = {k: v for k, v in os.environ.items()
           if k not in ("LOGISTICS_SOURCE_URL", "LAKE_ROOT", "DUCKDB_PATH", "DBT_TARGET")}
    env.update(LOGISTICS_DATA_DIR=str(data), PYTHONPATH=str(root))

    def logistics(*args: str) -> str:
        proc = subprocess.run([sys.executable, "-m", "logistics_etl.dev.cli", *args], cwd=root, env=env,
                              capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, f"logistics {' '.join(args)}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        return proc.stdout

    logistics("source", "generate", "--scale", "0.02", "--seed", "3")
    source = sqlite3.connect(data / "source" / "logisticsdb.sqlite")
    with source:
        source.execute("""UPDATE "Carriers" SET "Phone" = '+31 20 555 ' || "CarrierID" WHERE "CarrierID" <= 3""")
        source.executemany('INSERT INTO "Depots" VALUES (?, ?, ?, ?, ?, ?)', [
            (1, "DP1", "North depot", "Utrecht", "NL", "2025-05-01 08:00:00.000000"),
            (2, "DP2", "South depot", "Lyon", "FR", "2025-05-01 08:00:00.000000"),
            (3, None, "Depot without a code", "Lille", "FR", "2025-05-01 08:00:00.000000")])
    source.close()
    logistics("extract")
    logistics("dbt", "build", "--quiet", "--select", "tag:bronze", "tag:silver")
    results = json.loads((root / "target" / "run_results.json").read_text())["results"]
    assert {r["status"] for r in results} <= {"success", "pass"}, \
        [(r["unique_id"], r["status"], r.get("message")) for r in results if r["status"] not in ("success", "pass")]

    con = duckdb.connect(str(data / "warehouse.duckdb"), read_only=True)
    try:
        phones = con.execute("select carrier_id, phone from silver.slv_carriers where phone is not null "
                             "order by 1").fetchall()
        assert phones == [(i, f"+31 20 555 {i}") for i in (1, 2, 3)]
        assert con.execute("select depot_id, depot_code from silver.slv_depots order by 1").fetchall() == [
            (1, "DP1"), (2, "DP2")]
        assert con.execute("select source_key, quarantine_reason from silver.slv_quarantine "
                           "where source_table = 'Depots'").fetchall() == [(3, "missing_depot_code")]
        assert con.execute("""
            select sum(landed_rows), sum(silver_rows), sum(quarantined_rows), sum(unaccounted_rows)
            from silver.slv_reconciliation where source_table = 'Depots'""").fetchall() == [(3, 2, 1, 0)]
        assert con.execute("select sum(unaccounted_rows) from silver.slv_reconciliation").fetchall() == [(0,)]
    finally:
        con.close()

    # the gold recipe: a model and its YAML; it builds, and `logistics summary` lists it with no code change
    add_a_gold_model(root)
    logistics("dbt", "build", "--quiet", "--select", "depots_per_country")
    summary = logistics("summary")
    assert re.search(r"^depots_per_country\s+2$", summary, re.MULTILINE), summary
