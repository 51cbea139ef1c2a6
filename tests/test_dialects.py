"""One set of models, three warehouses: what can be checked here of the targets that cannot run here.

SQL Server: no SQL Server engine can be installed on these machines, so the `sqlserver` target is checked by compiling
every model with dbt-sqlserver's own macros (mssql-python backend) and parsing the result as T-SQL with
sqlglot: both branches of every incremental model (the full build and the nightly merge). sqlglot's
parser accepts booleans where SQL Server has none, so the check also walks each statement for the three
ways a DuckDB or Spark model breaks on SQL Server: a TRUE/FALSE literal, a flag column used as a predicate
(`where not is_deleted`) and a predicate used as a value (`x in (6, 7) as is_weekend`); models write
those through macros/booleans.sql.

Databricks: every model compiled with dbt-databricks (its own macros over dbt-spark's, the production target)
parses as Databricks SQL; no workspace is reached (the profile's host and token are placeholders here), and
with no host or token set, dbt names the setting that is missing.

Spark: every model compiled with dbt-spark (the Spark SQL that dbt-databricks runs; the `spark` target, an
in-process pyspark session that compiling does not start) parses as Spark SQL, in both branches too. This
checks the SQL of both branches; tests/test_spark_build.py builds and tests the project on a Spark session.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

from logistics_etl.contract import TABLES
from logistics_etl.settings import PROJECT_ROOT
from tests.conftest import BIN, run_cli

PREDICATES = (exp.In, exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.And, exp.Or, exp.Not, exp.Is)


def tsql_boolean_misuse(statement: exp.Expression) -> list[str]:
    """What SQL Server rejects although it parses: T-SQL has `bit` flags but no boolean values."""
    found = []
    for node in statement.walk():
        if isinstance(node, exp.Boolean):
            found.append(f"boolean literal {node.sql()}")
        conditions = []
        if isinstance(node, exp.Not):
            conditions.append(node.this)
        if isinstance(node, (exp.And, exp.Or)):
            conditions += [node.left, node.right]
        if isinstance(node, (exp.Where, exp.Having, exp.If)):
            conditions.append(node.this)
        found += [f"flag used as a predicate: {c.sql()}" for c in conditions if isinstance(c, exp.Column)]
        if isinstance(node, exp.Alias) and isinstance(node.this, PREDICATES):
            found.append(f"predicate used as a value: {node.sql()[:100]}")
    return found


def compile_models(target: str, target_path: Path, incremental: bool,
                   env: dict[str, str] | None = None) -> dict[str, str]:
    """Every model's SQL compiled by dbt for `target`, with no warehouse to look at: which branch the
    incremental models render is given (`render_incremental`), not asked of the warehouse."""
    run_cli("dbt", "compile", "--target", target, "--target-path", str(target_path),
            "--select", "resource_type:model", "--no-populate-cache",
            "--vars", json.dumps({"render_incremental": incremental}), "--quiet", env_extra=env)
    manifest = json.loads((target_path / "manifest.json").read_text())
    assert manifest["metadata"]["adapter_type"] == target
    models = [n for n in manifest["nodes"].values() if n["resource_type"] == "model"]
    assert len(models) >= 43
    compiled = {}
    for node in models:
        path = target_path / "compiled" / "logistics_warehouse" / node["original_file_path"]
        assert path.exists(), f"{node['name']} was not compiled for {target}"
        compiled[node["name"]] = path.read_text()
    # the merge branch re-reads the model's own rows; the full build does not
    assert ("union all" in compiled["slv_shipments_checked"]) is incremental
    return compiled


def unparsed(compiled: dict[str, str], dialect: str) -> list[str]:
    """The models whose compiled SQL sqlglot cannot parse in `dialect`, each with the parser's message."""
    failures = []
    for name, sql in compiled.items():
        try:
            sqlglot.parse_one(sql, read=dialect)
        except ParseError as exc:
            failures.append(f"{name}: {str(exc)[:400]}")
    return failures


ADLS_LAKE = {"LAKE_ROOT": "abfss://lake@account0.dfs.core.windows.net/logistics",
             "AZURE_STORAGE_CONNECTION_STRING": "AccountName=account0;AccountKey=bm90LWEta2V5"}  # never reached


def lake_statements(target: str, target_path: Path, env: dict[str, str]) -> list[str]:
    """The statements the on-run-start hook runs before a build on `target` (macros/lake_tables.sql
    `lake_statements`), rendered by `dbt compile --inline` with no connection; reusing the parse of the
    models' compile in `target_path` (the same vars and settings: dbt parses partially)."""
    proc = run_cli("dbt", "compile", "--target", target, "--target-path", str(target_path), "--quiet",
                   "--no-populate-cache",
                   "--vars", json.dumps({"render_incremental": True}),
                   "--inline", "{{ print(tojson(lake_statements())) }}", env_extra=env)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def check_lake_statements(statements: list[str], dialect: str) -> list[exp.Expression]:
    """Each statement parses in `dialect` and creates one of the lake's relations: a schema, a relation per
    source table at its folder under the lake root, the audit view."""
    root = ADLS_LAKE["LAKE_ROOT"]
    parsed, failures = [], []
    for sql in statements:
        try:
            parsed.append(sqlglot.parse_one(sql, read=dialect))
        except ParseError as exc:
            failures.append(f"{sql[:120]}: {str(exc)[:400]}")
    assert not failures, "\n".join(failures)
    assert all(isinstance(p, exp.Create) for p in parsed), statements
    created = [p.this.sql(dialect=dialect).replace("`", "") for p in parsed if p.args["kind"] != "SCHEMA"]
    assert sorted(created) == sorted([f"lake.{t.name}" for t in TABLES] + ["lake_audit.batches"]), created
    assert all(f"{root}/bronze/{t.name}" in " ".join(statements) for t in TABLES)
    return parsed


def incremental_strategies(target_path: Path) -> set[str]:
    """The strategies the compiled project's incremental models merge with."""
    nodes = json.loads((target_path / "manifest.json").read_text())["nodes"].values()
    return {n["config"]["incremental_strategy"] for n in nodes
            if n["resource_type"] == "model" and n["config"]["materialized"] == "incremental"
            and n["config"].get("unique_key")}


BRANCHES = pytest.mark.parametrize("incremental", [False, True], ids=["full-build", "incremental-run"])


@BRANCHES
def test_every_model_compiled_for_sqlserver_parses_as_tsql(tmp_path: Path, incremental: bool):
    compiled = compile_models("sqlserver", tmp_path / "sqlserver", incremental)
    failures, parsed = [], {}
    for name, sql in compiled.items():
        try:
            parsed[name] = sqlglot.parse_one(sql, read="tsql")
        except ParseError as exc:
            failures.append(f"{name}: {str(exc)[:400]}")
            continue
        failures += [f"{name}: {problem}" for problem in tsql_boolean_misuse(parsed[name])]
    assert not failures, "\n".join(failures)

    # the dialect's own macros were used: SQL Server reads the manifests' JSON with OPENJSON, and
    # dbt-sqlserver's datediff/dateadd, not DuckDB's functions
    extract_batches = parsed["brz_extract_batches"].sql(dialect="tsql").lower()
    assert "openjson" in extract_batches and "list_transform" not in extract_batches
    assert "dateadd" in parsed["dim_date"].sql(dialect="tsql").lower()
    assert incremental_strategies(tmp_path / "sqlserver") == {"delete+insert"}
    # the gold contracts' types, which dbt-sqlserver writes into CREATE TABLE as declared
    tables = contract_tables(tmp_path / "sqlserver")
    assert len(tables) >= 11
    misread = {name: [(c, t) for c, t in columns if t.lower() in SQLSERVER_MISREADS]
               for name, columns in tables.items()}
    assert not any(misread.values()), {k: v for k, v in misread.items() if v}
    for name, columns in tables.items():
        ddl = f"create table gold.{name} (" + ", ".join(f"[{c}] {t}" for c, t in columns) + ")"
        assert len(list(sqlglot.parse_one(ddl, read="tsql").find_all(exp.ColumnDef))) == len(columns), ddl


# what SQL Server does with a type other warehouses take: rejects it, or reads something else
SQLSERVER_MISREADS = {"boolean": "not a type", "double": "not a type", "string": "not a type",
                      "timestamp": "rowversion, not a time", "varchar": "varchar(1) in CREATE TABLE",
                      "text": "deprecated LOB", "nvarchar": "nvarchar(1) in CREATE TABLE"}


def contract_tables(target_path: Path) -> dict[str, list[tuple[str, str]]]:
    """Each model with an enforced contract: its columns and their declared types as rendered for the target
    of the manifest in `target_path`."""
    manifest = json.loads((target_path / "manifest.json").read_text())
    return {n["name"]: [(c["name"], c["data_type"]) for c in n["columns"].values()]
            for n in manifest["nodes"].values()
            if n["resource_type"] == "model" and n["config"].get("contract", {}).get("enforced")}


@BRANCHES
def test_every_model_compiled_for_spark_parses_as_spark_sql(tmp_path: Path, incremental: bool):
    """dbt-spark's macros (which dbt-databricks builds on) with the project's spark__ dispatches (the Spark
    session build runs them: tests/test_spark_build.py)."""
    compiled = compile_models("spark", tmp_path / "spark", incremental, env=ADLS_LAKE)
    failures = unparsed(compiled, "spark")
    assert not failures, "\n".join(failures)
    if incremental:  # and the on-run-start hook's views over each table's Delta log, which the models read
        statements = lake_statements("spark", tmp_path / "spark", ADLS_LAKE)
        check_lake_statements(statements, "spark")
        assert sum("where parts._metadata.file_name in (" in s for s in statements) == len(TABLES)
    # Spark sums the manifest's files with a higher-order function, not DuckDB's list functions
    assert "aggregate(" in compiled["brz_extract_batches"] and "list_transform" not in compiled["brz_extract_batches"]
    duckdb_only = [name for name, sql in compiled.items() if "timezone('UTC'" in sql or "list_sum(" in sql]
    assert not duckdb_only, duckdb_only
    # dbt-spark and dbt-databricks have no delete+insert: the keyed incremental models merge (into Delta)
    assert incremental_strategies(tmp_path / "spark") == {"merge"}


DATABRICKS_PLACEHOLDERS = {"DATABRICKS_HOST": "adb-0000000000000000.0.azuredatabricks.net",
                           "DATABRICKS_HTTP_PATH": "/sql/1.0/warehouses/0000000000000000",
                           "DATABRICKS_TOKEN": "dapi-not-a-token"}


def test_every_model_compiled_for_databricks_parses_as_databricks_sql(tmp_path: Path):
    """The incremental branch, the nightly SQL (the full build's branch is the Spark SQL checked above, which
    dbt-databricks runs too), and the statements that create the lake's tables before a build; compiled
    offline: dbt-databricks opens no connection to compile."""
    env = {**DATABRICKS_PLACEHOLDERS, **ADLS_LAKE}
    compiled = compile_models("databricks", tmp_path / "databricks", True, env=env)
    failures = unparsed(compiled, "databricks")
    assert not failures, "\n".join(failures)
    # the on-run-start hook's external Delta tables (and the audit view), which the models read
    statements = lake_statements("databricks", tmp_path / "databricks", env)
    check_lake_statements(statements, "databricks")
    assert [s for s in statements if " using delta location " in s] == [
        f"create table if not exists lake.`{t.name}` using delta location '{ADLS_LAKE['LAKE_ROOT']}/bronze/{t.name}'"
        for t in TABLES]
    assert "aggregate(" in compiled["brz_extract_batches"]  # the spark__ dispatches serve Databricks
    assert incremental_strategies(tmp_path / "databricks") == {"merge"}

    # a lake path that would end the string literal and add SQL is refused, by the CLI's settings and by the
    # macro itself (plain dbt reads LAKE_ROOT too), never rendered
    hostile = {**env, "LAKE_ROOT": ADLS_LAKE["LAKE_ROOT"] + "' || 'x"}
    proc = run_cli("dbt", "compile", "--target", "databricks", env_extra=hostile, check=False)
    assert proc.returncode == 2 and "error: setting LAKE_ROOT" in proc.stderr, proc.stderr
    plain = subprocess.run([str(BIN / "dbt"), "compile", "--target", "databricks", "--target-path",
                            str(tmp_path / "databricks"), "--quiet", "--no-populate-cache",
                            "--inline", "{{ print(tojson(lake_statements())) }}"],
                           cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600,
                           env={**os.environ, **hostile, "DBT_PROFILES_DIR": str(PROJECT_ROOT / "profiles")})
    assert plain.returncode != 0, plain.stdout[-2000:]
    assert "which the lake's SQL cannot quote on every target" in plain.stdout + plain.stderr, plain.stdout[-2000:]
    assert "' || 'x/bronze" not in plain.stdout


def test_databricks_target_without_its_settings_names_the_missing_one(monkeypatch: pytest.MonkeyPatch):
    for name in DATABRICKS_PLACEHOLDERS:
        monkeypatch.delenv(name, raising=False)
    proc = run_cli("dbt", "debug", "--target", "databricks", env_extra={"DBT_TARGET": "databricks"},
                   check=False, timeout=120)
    assert proc.returncode != 0
    assert "Env var required but not provided: 'DATABRICKS_HOST'" in proc.stdout + proc.stderr, proc.stdout[-2000:]
    assert "No module named" not in proc.stdout + proc.stderr
