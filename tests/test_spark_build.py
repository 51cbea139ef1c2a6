"""The whole dbt project built and tested on a local Spark session, through dbt-spark.

dbt-databricks runs Spark SQL with dbt-spark's macros beneath its own; the `spark` target runs that SQL on
an in-process Spark session (pyspark, Java 17 from the machine), with its Hive metastore and tables under a
temporary folder. Delta's jars cannot be installed on these machines, so the tables are Parquet, and the
target builds from scratch only (macros/spark_parquet_builds.sql): every incremental model and snapshot is
then a create-table-as, the SQL a first build on Databricks runs too. The lake is read through the views
of macros/lake_tables.sql over the lake's Delta logs (the files of each table's current snapshot).

The same lake is also built on DuckDB (`dev`): every table the two builds write must hold the same rows,
so the models mean the same thing on both engines. The session runs with the Spark settings of the Airflow
Variable `spark_config` given to it as a dbt task of the DAG gives them (LOGISTICS_SPARK_CONF).
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from logistics_etl.orchestration.airflow_settings import parse_spark_config, spark_conf_env
from tests.conftest import report, run_cli

# relations whose rows record the build itself, not the data: they differ between any two builds
RUN_RECORDS = {"audit.dbt_node_runs", "gold.pipeline_runs", "gold.pipeline_model_timings"}
# columns that say when or where a row was built, or a key made of such a value
BUILD_COLUMNS = {"loaded_at", "checked_at", "dbt_updated_at", "dbt_scd_id",
                 "customer_key", "carrier_key"}


def spark_tables(warehouse: Path) -> dict[str, Path]:
    """`schema.table` -> the folder of its Parquet files, for every table the Spark build wrote."""
    return {f"{schema.name.removesuffix('.db')}.{table.name}": table
            for schema in warehouse.glob("*.db") for table in schema.iterdir() if table.is_dir()}


def test_the_project_builds_and_passes_its_tests_on_spark(data_dir: Path, source_db: Path, tmp_path: Path):
    run_cli("extract")
    run_cli("dbt", "build", "--quiet")  # DuckDB, the reference

    target_path = tmp_path / "spark-target"
    # the Airflow Variable spark_config, as a dbt task of the DAG passes it to the session (dbt_task_env)
    spark_config = parse_spark_config('{"driver_memory": "1g", "executor_memory": "1536m", '
                                      '"spark.sql.adaptive.enabled": false}')
    proc = run_cli("dbt", "build", "--target", "spark", "--target-path", str(target_path),
                   env_extra={"DBT_TARGET": "spark", **spark_conf_env(spark_config)}, check=False, timeout=1500)
    results = json.loads((target_path / "run_results.json").read_text())["results"]
    failed = {r["unique_id"]: (r["status"], (r["message"] or "")[:300]) for r in results
              if r["status"] not in ("success", "pass")}
    assert proc.returncode == 0 and not failed, f"{failed}\n{proc.stdout[-3000:]}"
    # the session runs with spark_config's settings, as the session itself reports them
    assert ("spark session settings from spark_config: spark.driver.memory=1g, spark.executor.memory=1536m, "
            "spark.sql.adaptive.enabled=false") in proc.stdout, proc.stdout[:3000]
    kinds: dict[str, int] = {}
    for r in results:
        kind = r["unique_id"].split(".")[0]
        kinds[kind] = kinds.get(kind, 0) + 1
    assert kinds.get("model", 0) >= 43 and kinds.get("test", 0) >= 200, kinds
    assert kinds.get("snapshot") == 4 and kinds.get("seed") == 4 and kinds.get("unit_test", 0) >= 6, kinds
    report("spark build (scale 0.05)", f"{sum(r['execution_time'] for r in results):.0f} s in nodes, {kinds}")
    # source freshness, with the lake source's loaded_at_query as Spark SQL (max over the lake views)
    fresh = run_cli("dbt", "source", "freshness", "--target", "spark", "--target-path", str(target_path),
                    env_extra={"DBT_TARGET": "spark"}, check=False, timeout=600)
    assert fresh.returncode == 0 and fresh.stdout.count("PASS freshness of lake.") == 9, fresh.stdout[-3000:]
    ages = [r["max_loaded_at_time_ago_in_s"]
            for r in json.loads((target_path / "sources.json").read_text())["results"]]
    assert len(ages) == 9 and all(0 <= age < 3600 for age in ages), ages  # extracted minutes ago, in UTC

    tables = spark_tables(data_dir / "spark" / "warehouse")
    con = duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True)
    compared = []
    for name, folder in sorted(tables.items()):
        if name in RUN_RECORDS or name.startswith(("lake", "dbt_test")):
            continue
        schema, table = name.split(".")
        columns = [c for (c,) in con.execute(
            "select column_name from information_schema.columns where table_schema = ? and table_name = ? "
            "order by ordinal_position", [schema, table]).fetchall() if c not in BUILD_COLUMNS]
        assert columns, f"{name} is in the Spark build but not in the DuckDB one"
        listed = ", ".join(f'"{c}"' for c in columns)
        spark = f"read_parquet('{folder}/*.parquet')"
        only_duckdb, only_spark = con.execute(
            f"select (select count(*) from (select {listed} from {name} except all select {listed} from {spark})),"
            f" (select count(*) from (select {listed} from {spark} except all select {listed} from {name}))"
        ).fetchone()
        assert (only_duckdb, only_spark) == (0, 0), \
            f"{name}: {only_duckdb} rows only in DuckDB's build, {only_spark} only in Spark's"
        compared.append(name)
    assert len(compared) >= 35, compared
