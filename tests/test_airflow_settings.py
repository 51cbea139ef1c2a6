"""airflow_settings.yaml: declared once, loaded by one command, read at run time, no secret in the repo."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from logistics_etl.dev.airflow_env import with_airflow_env
from logistics_etl.orchestration.airflow_settings import (
    SETTINGS_FILE,
    check_run_config,
    dbt_task_env,
    read_settings_file,
)
from logistics_etl.settings import ConfigError, load_settings
from tests.conftest import run_cli


def test_the_file_declares_the_connections_and_variables_without_secrets():
    connections, variables = read_settings_file(SETTINGS_FILE, environ={})
    by_id = {c["conn_id"]: c for c in connections}
    assert by_id["sql_server_default"]["conn_type"] == "mssql"
    assert by_id["sql_server_default"]["schema"] == "LogisticsDB"
    assert by_id["azure_data_lake_default"]["conn_type"] == "wasb"
    assert by_id["databricks_default"]["conn_type"] == "databricks"
    assert by_id["databricks_default"]["password"] is None, "no Databricks token in the repository"
    assert by_id["sql_server_default"]["password"] is None, "no password in the repository"
    assert "sas_token" not in (by_id["azure_data_lake_default"]["extra"] or {}), "no SAS token in the repository"
    assert variables["environment"] == "dev"
    assert set(json.loads(variables["spark_config"])) == {"driver_memory", "executor_memory"}
    filled, _ = read_settings_file(SETTINGS_FILE, environ={"SQLSERVER_PASSWORD": "pw", "AZURE_STORAGE_SAS_TOKEN":
                                                           "sv=1&sig=x", "SQLSERVER_PORT": "14330"})
    by_id = {c["conn_id"]: c for c in filled}
    assert by_id["sql_server_default"]["password"] == "pw" and by_id["sql_server_default"]["port"] == 14330
    assert by_id["azure_data_lake_default"]["extra"]["sas_token"] == "sv=1&sig=x"


def test_a_required_value_that_is_not_set_is_named(tmp_path: Path):
    f = tmp_path / "airflow_settings.yaml"
    f.write_text("airflow:\n  connections:\n    - conn_id: sql_server_default\n      conn_type: mssql\n"
                 "      conn_password: ${PROD_SQL_PASSWORD}\n")
    with pytest.raises(ConfigError, match=r"connection sql_server_default.conn_password: environment variable "
                                          r"PROD_SQL_PASSWORD is not set"):
        read_settings_file(f, environ={})
    f.write_text("airflow:\n  connections:\n    - conn_id: x\n      conn_type: mssql\n      conn_hots: h\n")
    with pytest.raises(ConfigError, match="connection x: unknown field.*conn_hots"):
        read_settings_file(f, environ={})


def test_one_command_loads_them_into_the_local_airflow_and_the_cli_reads_them(data_dir: Path):
    secret = "pw-" + os.urandom(6).hex()
    out = run_cli("airflow-settings", "load", env_extra={"SQLSERVER_PASSWORD": secret,
                                                          "LOGISTICS_EXTRACT_TASKS": "5"}).stdout
    assert "loaded connection sql_server_default (mssql, password set)" in out
    assert "loaded variable spark_config" in out and secret not in out
    assert "loaded pool warehouse_writer (1 slots)" in out and "loaded pool source_extract (5 slots)" in out
    env = with_airflow_env(load_settings())
    code = ("import json; from airflow.models.connection import Connection; from airflow.models.pool import Pool; "
            "from airflow.models.variable import Variable; from airflow.utils.session import create_session\n"
            "with create_session() as s:\n"
            "    c = s.query(Connection).filter(Connection.conn_id == 'sql_server_default').one()\n"
            "    pools = {p.pool: [p.slots, p.include_deferred] for p in s.query(Pool)}\n"
            "    print(json.dumps([c.conn_type, c.host, c.port, c.schema, c.password, "
            "Variable.get('environment'), json.loads(Variable.get('spark_config')), pools]))")
    got = json.loads(subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                                    check=True).stdout.strip().splitlines()[-1])
    # the DAG's pools (the names it uses: logistics_etl/settings.py); a deferred task holds no slot
    from logistics_etl.settings import EXTRACT_POOL, WAREHOUSE_POOL

    assert got.pop().items() >= {WAREHOUSE_POOL: [1, False], EXTRACT_POOL: [5, False]}.items()
    assert got == ["mssql", "sqlserver.logistics.internal", 1433, "LogisticsDB", secret, "dev",
                   {"driver_memory": "2g", "executor_memory": "4g"}]

    # `logistics extract --source airflow://<conn_id>` outside a task, right after `logistics airflow-settings
    # load` put the connection in the metadata DB (where Airflow 3 does not look outside a task): the CLI asks
    # the local Airflow for it and reads the source it names (the stand-in, as a `sqlite` connection)
    run_cli("source", "generate", "--scale", "0.01")
    settings_file = data_dir / "settings.yaml"
    settings_file.write_text("airflow:\n  connections:\n    - conn_id: standin_source\n      conn_type: sqlite\n"
                             f"      conn_host: {data_dir / 'source' / 'logisticsdb.sqlite'}\n")
    assert "loaded connection standin_source (sqlite" in run_cli("airflow-settings", "load", "--file",
                                                                  str(settings_file)).stdout
    out = run_cli("extract", "--tables", "Carriers", "--source", "airflow://standin_source").stdout
    assert re.search(r"^Carriers\s+batch\s+1 full\s+rows\s+12 ", out, re.MULTILINE), out
    missing = run_cli("extract", "--tables", "Carriers", "--source", "airflow://no_such_conn", check=False)
    assert missing.returncode == 2 and "Airflow connection 'no_such_conn' is not defined" in missing.stderr


def test_a_pool_without_a_whole_number_of_slots_is_refused_naming_it(tmp_path: Path):
    from logistics_etl.orchestration.airflow_settings import read_pools

    bad = tmp_path / "settings.yaml"
    bad.write_text("airflow:\n  pools:\n    - pool_name: warehouse_writer\n      pool_slot: ${WRITERS:-1}\n")
    assert read_pools(bad, {}) == {"warehouse_writer": (1, "")}
    with pytest.raises(ConfigError, match=r"pool warehouse_writer.pool_slot='\$\{WRITERS:-1\}' must be a whole "
                                          r"number >= 1"):
        read_pools(bad, {"WRITERS": "zero"})


@pytest.fixture
def sql_server_port():
    """A local port that accepts TCP connections, standing in for SQL Server's: `check_run_config` opens (and
    closes) one connection to the source's server. No SQL Server can run here; nothing is sent to it."""
    import socket

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield listener.getsockname()[1]


@pytest.fixture
def airflow_vars(monkeypatch: pytest.MonkeyPatch, data_dir: Path, sql_server_port: int):
    """Variables and connections through Airflow's own AIRFLOW_VAR_* / AIRFLOW_CONN_* lookup."""
    monkeypatch.setenv("AIRFLOW_VAR_ENVIRONMENT", "production")
    monkeypatch.setenv("AIRFLOW_VAR_SPARK_CONFIG", '{"driver_memory": "2g", "executor_memory": "8g"}')
    monkeypatch.setenv("AIRFLOW_CONN_SQL_SERVER_DEFAULT", json.dumps(
        {"conn_type": "mssql", "host": "127.0.0.1", "port": sql_server_port, "login": "etl", "password": "s3cret",
         "schema": "LogisticsDB"}))
    return monkeypatch


def test_run_config_is_read_at_run_time_and_carries_no_secret(airflow_vars):
    airflow_vars.setenv("LOGISTICS_SOURCE_URL", "airflow://sql_server_default")
    config = check_run_config(load_settings())
    assert config["environment"] == "production" and config["spark_config"]["executor_memory"] == "8g"
    assert config["connection sql_server_default"].startswith("mssql://etl:***@127.0.0.1:")
    assert "s3cret" not in json.dumps(config)


def test_a_source_server_that_does_not_answer_fails_the_check_naming_it(airflow_vars):
    """The source's server is down: `check_configuration`, the first task, fails naming the connection and why
    (one alert for the night, where each extract task would fail and alert on its own)."""
    from tests.conftest import _free_port

    airflow_vars.setenv("LOGISTICS_SOURCE_URL", "airflow://sql_server_default")
    airflow_vars.setenv("AIRFLOW_CONN_SQL_SERVER_DEFAULT", json.dumps(
        {"conn_type": "mssql", "host": "127.0.0.1", "port": _free_port(), "login": "etl", "password": "s3cret",
         "schema": "LogisticsDB"}))
    with pytest.raises(ConfigError, match=r"^the source mssql://etl:\*\*\*@127\.0\.0\.1:\d+/LogisticsDB \(Airflow "
                       r"connection 'sql_server_default'\) cannot be reached: cannot connect to 127\.0\.0\.1:\d+: "
                       r"Connection refused$"):
        check_run_config(load_settings())
    airflow_vars.setenv("LOGISTICS_SOURCE_URL", "postgresql://etl:s3cret@no-such-host.invalid/logisticsdb")
    with pytest.raises(ConfigError, match=r"\(LOGISTICS_SOURCE_URL\) cannot be reached: cannot connect to "
                       r"no-such-host\.invalid:5432") as err:
        check_run_config(load_settings())
    assert "s3cret" not in str(err.value)


def test_a_dbt_task_takes_spark_config_and_the_databricks_connection_when_it_runs(airflow_vars):
    """What a dbt task's pre_execute puts into its environment, through Airflow's own lookups."""
    airflow_vars.setenv("DBT_TARGET", "databricks")
    for name in ("DATABRICKS_HOST", "DATABRICKS_HTTP_PATH", "DATABRICKS_TOKEN"):
        airflow_vars.delenv(name, raising=False)
    airflow_vars.setenv("AIRFLOW_CONN_DATABRICKS_DEFAULT", json.dumps(
        {"conn_type": "databricks", "host": "adb-1.azuredatabricks.net", "password": "dapi-s3cret",
         "extra": {"http_path": "/sql/1.0/warehouses/abc"}}))
    env = dbt_task_env(load_settings())
    assert json.loads(env["LOGISTICS_SPARK_CONF"]) == {"spark.driver.memory": "2g", "spark.executor.memory": "8g"}
    assert env["DATABRICKS_HOST"] == "adb-1.azuredatabricks.net" and env["DATABRICKS_TOKEN"] == "dapi-s3cret"
    assert check_run_config(load_settings())["connection databricks_default"] == "ok"
    airflow_vars.setenv("AIRFLOW_CONN_DATABRICKS_DEFAULT", json.dumps({"conn_type": "databricks", "host": "adb-1"}))
    with pytest.raises(ConfigError, match="DATABRICKS_HTTP_PATH is not set and Airflow connection "
                                          "'databricks_default' has no extra 'http_path'"):
        dbt_task_env(load_settings())
    airflow_vars.setenv("DBT_TARGET", "dev")
    assert dbt_task_env(load_settings()) == {}  # a local lake on DuckDB reads nothing from Airflow


@pytest.mark.parametrize("var, value, message", [
    ("AIRFLOW_VAR_SPARK_CONFIG", None, "Airflow Variable 'spark_config' is not set"),
    ("AIRFLOW_VAR_SPARK_CONFIG", "{driver_memory: 2g", "Airflow Variable 'spark_config' is not valid JSON"),
    ("AIRFLOW_VAR_SPARK_CONFIG", '{"driver_memory": "2g"}', "spark_config': executor_memory must be a memory size"),
    ("AIRFLOW_VAR_SPARK_CONFIG", '{"driver_memory": "2g", "executor_memory": "4g", "cores": 4}',
     "spark_config': unknown key 'cores' (driver_memory, executor_memory or a Spark setting spark.*)"),
    ("AIRFLOW_VAR_ENVIRONMENT", None, "Airflow Variable 'environment' must be one of dev, test, production"),
    ("AIRFLOW_CONN_SQL_SERVER_DEFAULT", None, "Airflow connection 'sql_server_default' is not defined"),
    ("AIRFLOW_CONN_SQL_SERVER_DEFAULT", '{"conn_type": "mssql", "login": "etl"}', "field 'host' is empty"),
])
def test_a_missing_or_malformed_setting_is_named(airflow_vars, var: str, value: str | None, message: str):
    airflow_vars.setenv("LOGISTICS_SOURCE_URL", "airflow://sql_server_default")
    if value is None:
        airflow_vars.delenv(var)
    else:
        airflow_vars.setenv(var, value)
    with pytest.raises(ConfigError) as err:
        check_run_config(load_settings())
    assert message in str(err.value)


def test_an_unused_connection_is_reported_not_fatal(airflow_vars):
    airflow_vars.delenv("AIRFLOW_CONN_SQL_SERVER_DEFAULT")
    config = check_run_config(load_settings())  # the source is the stand-in: the connection is not needed
    assert config["connection sql_server_default"].startswith("not usable, not used by this run")
