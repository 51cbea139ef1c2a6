"""Where the extract reads from and writes to, resolved at run time (never at DAG parse time).

* Source: `LOGISTICS_SOURCE_URL` is either a URL that connectorx reads
  (`sqlite://`, `postgresql://`, `mssql://`) or `airflow://<conn_id>`, which
  reads the Airflow connection, e.g. `airflow://sql_server_default` (conn type
  `mssql`, schema `LogisticsDB`) in production.
* Lake: `LAKE_ROOT` is a local folder or `abfs://<container>/<path>`. A blob lake
  takes its credentials from `AZURE_STORAGE_CONNECTION_STRING` when set (tests,
  the emulator), else from the Airflow connection `LOGISTICS_LAKE_CONN_ID`
  (default `azure_data_lake_default`, conn type `wasb`): extra
  `connection_string`, or a SAS token (extra `sas_token`) for the account in
  `login` (or the account URL in `host`).
* dbt: a dbt task also takes, when it runs, the `databricks` target's host,
  HTTP path and token from the connection `databricks_default` (unless the
  environment sets them) and, on the spark and databricks targets, the Spark
  settings of the Variable `spark_config` (`airflow_settings.dbt_task_env`).

Every error names the connection and the field; no error or log line carries
a password or token (`redact`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlencode

from logistics_etl.lake.delta import Lake
from logistics_etl.lake.storage import is_blob_url
from logistics_etl.settings import ConfigError, Settings

AIRFLOW_SCHEME = "airflow://"
MSSQL_TYPES = {"mssql", "sqlserver"}
POSTGRES_TYPES = {"postgres", "postgresql"}
DEFAULT_SOURCE_DATABASE = "LogisticsDB"
DATABRICKS_CONN_ID = "databricks_default"


@dataclass(frozen=True)
class ConnectionFields:
    """What the extract uses of an Airflow connection (so tests and callers need no Airflow object)."""

    conn_id: str
    conn_type: str | None
    host: str | None = None
    login: str | None = None
    password: str | None = None
    schema: str | None = None
    port: int | None = None
    extra: dict | None = None


def get_airflow_connection(conn_id: str) -> ConnectionFields:
    """Read a connection through Airflow (metadata DB, `AIRFLOW_CONN_*` or a secrets backend)."""
    try:
        from airflow.sdk import BaseHook

        conn = BaseHook.get_connection(conn_id)
    except Exception as exc:  # AirflowNotFoundException and friends
        raise ConfigError(f"Airflow connection {conn_id!r} is not defined or cannot be read "
                          f"({type(exc).__name__}); load it with `logistics airflow-settings load`") from None
    try:
        extra = conn.extra_dejson
    except Exception:
        raise ConfigError(f"Airflow connection {conn_id!r}: field 'extra' is not valid JSON") from None
    return ConnectionFields(conn_id, conn.conn_type, conn.host, conn.login, conn.password, conn.schema,
                            conn.port, extra or {})


def source_url_from_connection(conn: ConnectionFields) -> str:
    """A connectorx URL for a source connection (mssql for SQL Server; postgres and sqlite for stand-ins)."""
    ctype = (conn.conn_type or "").lower()
    if ctype == "sqlite":
        if not conn.host:
            raise ConfigError(f"Airflow connection {conn.conn_id!r} (sqlite): field 'host' must be the database file")
        return f"sqlite://{conn.host}"
    if ctype not in MSSQL_TYPES | POSTGRES_TYPES:
        raise ConfigError(f"Airflow connection {conn.conn_id!r}: conn type {conn.conn_type!r} is not a source "
                          f"the extract reads (mssql, postgres, sqlite)")
    for name in ("host", "login"):
        if not getattr(conn, name):
            raise ConfigError(f"Airflow connection {conn.conn_id!r} ({ctype}): field {name!r} is empty")
    if ctype in MSSQL_TYPES:
        scheme, port, database = "mssql", conn.port or 1433, conn.schema or DEFAULT_SOURCE_DATABASE
        # connectorx's native TDS client: encryption settings come from the connection's extra
        params = {k: str(v).lower() for k, v in (conn.extra or {}).items()
                  if k in ("encrypt", "trust_server_certificate", "trusted_connection")}
    else:
        scheme, port, database = "postgresql", conn.port or 5432, conn.schema
        params = {"sslmode": conn.extra["sslmode"]} if (conn.extra or {}).get("sslmode") else {}
        if not database:
            raise ConfigError(f"Airflow connection {conn.conn_id!r} (postgres): field 'schema' (database) is empty")
    auth = quote(conn.login, safe="") + (f":{quote(conn.password, safe='')}" if conn.password else "")
    query = f"?{urlencode(params)}" if params else ""
    return f"{scheme}://{auth}@{conn.host}:{port}/{quote(database, safe='')}{query}"


def lake_connection_string(conn: ConnectionFields) -> str:
    """An Azure Storage connection string from a `wasb` connection (connection string or SAS token)."""
    extra = conn.extra or {}
    if extra.get("connection_string"):
        return extra["connection_string"]
    sas = extra.get("sas_token") or extra.get("extra__wasb__sas_token")
    if not sas:
        raise ConfigError(f"Airflow connection {conn.conn_id!r} (wasb): set extra 'sas_token' "
                          f"(or 'connection_string' for the emulator)")
    if conn.host and conn.host.startswith(("http://", "https://")):
        endpoint = conn.host.rstrip("/")
    elif conn.login:
        endpoint = f"https://{conn.login}.blob.core.windows.net"
    else:
        raise ConfigError(f"Airflow connection {conn.conn_id!r} (wasb): field 'login' (storage account name) "
                          f"or 'host' (account URL) is empty")
    return f"BlobEndpoint={endpoint};SharedAccessSignature={sas.lstrip('?')}"


def resolve_source_url(settings: Settings, override: str | None = None) -> str:
    url = override or settings.source_url
    if url.startswith(AIRFLOW_SCHEME):
        return source_url_from_connection(get_airflow_connection(url.removeprefix(AIRFLOW_SCHEME)))
    return url


def lake_credentials(settings: Settings) -> str:
    """The blob lake's connection string: the environment first, else the Airflow connection."""
    return os.environ.get("AZURE_STORAGE_CONNECTION_STRING") or \
        lake_connection_string(get_airflow_connection(settings.lake_conn_id))


def open_lake(settings: Settings, override: str | Path | None = None) -> Lake:
    root = str(override) if override else settings.lake_root
    if is_blob_url(root):
        return Lake(root, lake_credentials(settings))
    return Lake(Path(root).resolve())


def dbt_lake_env(settings: Settings) -> dict[str, str]:
    """What dbt needs beyond `Settings.dbt_env()` to read a blob lake: its credentials (empty for a local lake)."""
    if not is_blob_url(settings.lake_root):
        return {}
    return {"AZURE_STORAGE_CONNECTION_STRING": lake_credentials(settings)}


DATABRICKS_FIELDS = {"DATABRICKS_HOST": "host", "DATABRICKS_HTTP_PATH": "extra 'http_path'",
                     "DATABRICKS_TOKEN": "password (a personal access token) or extra 'token'"}


def databricks_env(conn: ConnectionFields, environ: dict[str, str] | None = None) -> dict[str, str]:
    """The `databricks` target's host, HTTP path and token: the environment first, else the Airflow connection
    (conn type `databricks`: host, extra `http_path`, password or extra `token`); names the field that is empty."""
    environ = os.environ if environ is None else environ
    extra = conn.extra or {}
    from_conn = {"DATABRICKS_HOST": (conn.host or "").removeprefix("https://").rstrip("/"),
                 "DATABRICKS_HTTP_PATH": extra.get("http_path") or "",
                 "DATABRICKS_TOKEN": conn.password or extra.get("token") or ""}
    out = {}
    for name, value in from_conn.items():
        if environ.get(name):
            continue
        if not value:
            raise ConfigError(f"dbt target databricks: {name} is not set and Airflow connection "
                              f"{conn.conn_id!r} has no {DATABRICKS_FIELDS[name]}")
        out[name] = value
    return out
