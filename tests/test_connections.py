"""Airflow connections as the extract reads them at run time: `sql_server_default` and friends.

Connections are defined through Airflow's own `AIRFLOW_CONN_<ID>` variables and read by Airflow's
connection lookup, exactly as in a deployment with a secrets backend or the metadata DB.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from logistics_etl.contract import get_table
from logistics_etl.extract.table import extract_table
from logistics_etl.lake.delta import Lake
from logistics_etl.orchestration.connections import (
    ConnectionFields,
    databricks_env,
    lake_connection_string,
    resolve_source_url,
    source_url_from_connection,
)
from logistics_etl.settings import ConfigError, load_settings
from tests.conftest import run_cli

SQL_SERVER = {"conn_type": "mssql", "host": "sql01.logistics.internal", "port": 1433, "schema": "LogisticsDB",
              "login": "etl_reader", "password": "p@ss:word/1", "extra": {"encrypt": True}}


def test_sql_server_default_becomes_a_connectorx_mssql_url(monkeypatch: pytest.MonkeyPatch, data_dir: Path):
    monkeypatch.setenv("AIRFLOW_CONN_SQL_SERVER_DEFAULT", json.dumps(SQL_SERVER))
    monkeypatch.setenv("LOGISTICS_SOURCE_URL", "airflow://sql_server_default")
    url = resolve_source_url(load_settings())
    parts = urlsplit(url)
    assert (parts.scheme, parts.hostname, parts.port, parts.path) == ("mssql", "sql01.logistics.internal", 1433,
                                                                       "/LogisticsDB")
    assert parts.query == "encrypt=true"
    assert "p%40ss%3Aword%2F1" in url, "the password is URL-quoted, so '@', ':' and '/' survive"


def test_connectorx_speaks_tds_to_the_sql_server_connection():
    """No SQL Server engine runs here, so a socket stands in for it (said here, as the guide asks): it
    accepts the connection and reads the first packet. connectorx must accept the URL built from the
    connection and open with a TDS PRELOGIN packet (type 0x12) to the host and port of the connection."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(20)
    port = server.getsockname()[1]
    fields = ConnectionFields("sql_server_default", "mssql", "127.0.0.1", "etl_reader", "p@ss:word/1",
                              "LogisticsDB", port, {"encrypt": False})
    url = source_url_from_connection(fields)
    # in a child process: connectorx holds the GIL while it connects
    client = subprocess.Popen([sys.executable, "-c", "import sys, connectorx as cx; cx.read_sql(sys.argv[1], "
                               "'SELECT 1 AS x')", url], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        peer, _ = server.accept()
        peer.settimeout(20)
        header = peer.recv(8)
        peer.close()
    finally:
        client.kill()
        client.wait()
        server.close()
    assert header[0] == 0x12, f"expected a TDS PRELOGIN packet, got {header!r}"


@pytest.mark.parametrize("fields, message", [
    ({"conn_type": "mssql", "login": "etl"}, "field 'host' is empty"),
    ({"conn_type": "mssql", "host": "h"}, "field 'login' is empty"),
    ({"conn_type": "http", "host": "h", "login": "x"}, "conn type 'http' is not a source"),
    ({"conn_type": "postgres", "host": "h", "login": "x"}, "field 'schema' (database) is empty"),
])
def test_bad_source_connection_names_connection_and_field(fields: dict, message: str):
    with pytest.raises(ConfigError) as err:
        source_url_from_connection(ConnectionFields("sql_server_default", **fields))
    assert "sql_server_default" in str(err.value) and message in str(err.value)


def test_missing_source_connection_fails_with_its_name(monkeypatch: pytest.MonkeyPatch, data_dir: Path):
    monkeypatch.delenv("AIRFLOW_CONN_SQL_SERVER_DEFAULT", raising=False)
    proc = run_cli("extract", "--tables", "Carriers", "--source", "airflow://sql_server_default", check=False)
    assert proc.returncode == 2 and "Airflow connection 'sql_server_default' is not defined" in proc.stderr


def test_databricks_connection_fills_what_the_environment_does_not_set():
    conn = ConnectionFields("databricks_default", "databricks", host="https://adb-1.2.azuredatabricks.net/",
                            password="dapi-secret", extra={"http_path": "/sql/1.0/warehouses/abc"})
    assert databricks_env(conn, {}) == {"DATABRICKS_HOST": "adb-1.2.azuredatabricks.net",
                                        "DATABRICKS_HTTP_PATH": "/sql/1.0/warehouses/abc",
                                        "DATABRICKS_TOKEN": "dapi-secret"}
    assert databricks_env(conn, {"DATABRICKS_TOKEN": "from-env"}).keys() == {"DATABRICKS_HOST",
                                                                              "DATABRICKS_HTTP_PATH"}
    no_token = ConnectionFields("databricks_default", "databricks", host="adb-1", extra={"http_path": "/x"})
    with pytest.raises(ConfigError, match="DATABRICKS_TOKEN is not set and Airflow connection 'databricks_default' "
                                          "has no password"):
        databricks_env(no_token, {})


def test_wasb_connection_with_sas_token_or_connection_string():
    sas = "sv=2024-01-01&ss=b&sig=abc%3D"
    assert lake_connection_string(ConnectionFields("azure_data_lake_default", "wasb", login="acct",
                                                   extra={"sas_token": "?" + sas})) == \
        f"BlobEndpoint=https://acct.blob.core.windows.net;SharedAccessSignature={sas}"
    assert lake_connection_string(ConnectionFields("azure_data_lake_default", "wasb",
                                                   extra={"connection_string": "UseDevelopmentStorage=true"})) == \
        "UseDevelopmentStorage=true"


def test_extract_through_a_postgres_connection_keeps_the_password_out(postgres_server, source_db: Path,
                                                                      tmp_path: Path, monkeypatch, caplog):
    """The same extract, the source named only by an Airflow connection; its password reaches neither the
    manifest nor the log (the server trusts loopback, so any password works)."""
    from logistics_etl.dev.postgres import copy_standin

    copy_standin(source_db, postgres_server.url)
    netloc = urlsplit(postgres_server.url)
    conn = {"conn_type": "postgres", "host": netloc.hostname, "port": netloc.port, "login": netloc.username,
            "password": "s3cret-pw", "schema": netloc.path.lstrip("/")}
    monkeypatch.setenv("AIRFLOW_CONN_PG_SOURCE", json.dumps(conn))
    monkeypatch.setenv("LOGISTICS_SOURCE_URL", "airflow://pg_source")
    caplog.set_level("INFO")
    lake = Lake(tmp_path / "lake")
    r = extract_table(get_table("Orders"), resolve_source_url(load_settings()), lake)
    assert r.rows > 0
    [m] = lake.manifests("Orders")
    assert "s3cret-pw" not in json.dumps(m.__dict__) and "s3cret-pw" not in caplog.text
    assert m.source.startswith("postgresql://")
