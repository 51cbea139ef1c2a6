"""`airflow_settings.yaml`: the project's Airflow connections, pools and Variables, declared once.

* `read_settings_file` parses the Astro-shaped file and fills `${NAME}` /
  `${NAME:-default}` from the environment (secrets live there, never in the file).
* `read_pools` reads the pools: the warehouse's writers and the extract tasks that run at once.
* `load_into_airflow` writes them all into the Airflow metadata DB (run through
  `logistics airflow-settings load`, which sets the project's AIRFLOW_HOME).
* `dbt_task_env` is what a dbt task of the DAG reads from Airflow when it runs
  (its `pre_execute`): a blob lake's credentials, the `databricks` target's
  connection, the Spark settings of `spark_config`.
* `check_run_config` is what the DAG's first task runs: it reads the Variables
  and the connections the settings use, at run time, and fails naming the
  Variable or connection that is missing or malformed.

Nothing here prints or logs a password or token.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path

import yaml

from logistics_etl.settings import PROJECT_ROOT, ConfigError, Settings, load_settings

SETTINGS_FILE = PROJECT_ROOT / "airflow_settings.yaml"
ENVIRONMENTS = ("dev", "test", "production")
MEMORY = re.compile(r"^\d+[kmgt]?$", re.IGNORECASE)
_REF = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)(?::-([^}]*))?\}")
CONN_FIELDS = {"conn_type": "conn_type", "conn_host": "host", "conn_schema": "schema", "conn_login": "login",
               "conn_password": "password", "conn_port": "port", "conn_extra": "extra"}


def _fill(value, where: str, environ: Mapping[str, str]):
    if isinstance(value, dict):
        return {k: _fill(v, f"{where}.{k}", environ) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, f"{where}[{i}]", environ) for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value

    def sub(m: re.Match) -> str:
        name, default = m.group(1), m.group(2)
        if name in environ:
            return environ[name]
        if default is None:
            raise ConfigError(f"airflow_settings.yaml {where}: environment variable {name} is not set "
                              f"(write ${{{name}:-}} for an optional value)")
        return default

    return _REF.sub(sub, value)


def _airflow_section(path: Path) -> dict:
    """The file's `airflow:` mapping (connections, pools, variables)."""
    try:
        doc = yaml.safe_load(Path(path).read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from None
    return doc.get("airflow") or {}


def read_settings_file(path: Path = SETTINGS_FILE, environ: Mapping[str, str] | None = None
                       ) -> tuple[list[dict], dict[str, str]]:
    """Connections (as Airflow connection fields) and Variables of the file, environment filled in."""
    environ = os.environ if environ is None else environ
    airflow = _airflow_section(path)
    connections = []
    for i, raw in enumerate(airflow.get("connections") or []):
        conn_id = (raw or {}).get("conn_id")
        if not conn_id or not raw.get("conn_type"):
            raise ConfigError(f"{path}: connections[{i}] needs conn_id and conn_type")
        unknown = set(raw) - set(CONN_FIELDS) - {"conn_id"}
        if unknown:
            raise ConfigError(f"{path}: connection {conn_id}: unknown field(s) {', '.join(sorted(unknown))}")
        conn = {"conn_id": conn_id}
        for key, field in CONN_FIELDS.items():
            value = _fill(raw.get(key), f"connection {conn_id}.{key}", environ)
            if field == "port" and value not in (None, ""):
                try:
                    value = int(value)
                except (TypeError, ValueError):
                    raise ConfigError(f"{path}: connection {conn_id}.conn_port={value!r} is not a number") from None
            if field == "extra" and isinstance(value, dict):
                value = {k: v for k, v in value.items() if v not in (None, "")}
            conn[field] = value if value != "" else None
        connections.append(conn)
    variables = {}
    for i, raw in enumerate(airflow.get("variables") or []):
        name = (raw or {}).get("variable_name")
        if not name or "variable_value" not in raw:
            raise ConfigError(f"{path}: variables[{i}] needs variable_name and variable_value")
        value = _fill(raw["variable_value"], f"variable {name}", environ)
        variables[name] = value if isinstance(value, str) else json.dumps(value)
    return connections, variables


def read_pools(path: Path = SETTINGS_FILE, environ: Mapping[str, str] | None = None) -> dict[str, tuple[int, str]]:
    """The file's pools: name -> (slots, description), environment filled in."""
    environ = os.environ if environ is None else environ
    pools = {}
    for i, raw in enumerate(_airflow_section(path).get("pools") or []):
        name = (raw or {}).get("pool_name")
        if not name or "pool_slot" not in raw:
            raise ConfigError(f"{path}: pools[{i}] needs pool_name and pool_slot")
        slots = _fill(raw["pool_slot"], f"pool {name}.pool_slot", environ)
        try:
            slots = int(slots)
        except (TypeError, ValueError):
            slots = -1
        if slots < 1:
            raise ConfigError(f"{path}: pool {name}.pool_slot={raw['pool_slot']!r} must be a whole number >= 1")
        pools[name] = (slots, _fill(raw.get("pool_description") or "", f"pool {name}", environ))
    return pools


def load_into_airflow(path: Path = SETTINGS_FILE) -> list[str]:
    """Create or replace the file's connections, pools and Variables in the Airflow metadata DB; returns what was
    done."""
    from airflow.models.connection import Connection
    from airflow.models.pool import Pool
    from airflow.models.variable import Variable
    from airflow.utils.session import create_session

    connections, variables = read_settings_file(path)
    pools = read_pools(path)
    done = []
    with create_session() as session:
        for c in connections:
            session.query(Connection).filter(Connection.conn_id == c["conn_id"]).delete()
            extra = json.dumps(c["extra"]) if isinstance(c["extra"], dict) else c["extra"]
            session.add(Connection(conn_id=c["conn_id"], conn_type=c["conn_type"], host=c["host"],
                                   schema=c["schema"], login=c["login"], password=c["password"],
                                   port=c["port"], extra=extra))
            secret = "password set" if c["password"] else "no password"
            done.append(f"connection {c['conn_id']} ({c['conn_type']}, {secret})")
    for name, (slots, description) in pools.items():
        Pool.create_or_update_pool(name=name, slots=slots, description=description, include_deferred=False)
        done.append(f"pool {name} ({slots} slots)")
    for name, value in variables.items():
        Variable.set(name, value)
        done.append(f"variable {name}")
    return done


SPARK_MEMORY_KEYS = {"driver_memory": "spark.driver.memory", "executor_memory": "spark.executor.memory"}


def parse_spark_config(raw: str | None) -> dict:
    """The Variable `spark_config`: JSON with driver_memory and executor_memory (sizes like '4g') and any
    `spark.*` setting; every other key is refused, naming it."""
    if raw is None:
        raise ConfigError("Airflow Variable 'spark_config' is not set; load airflow_settings.yaml "
                          "(`logistics airflow-settings load`)")
    try:
        value = json.loads(raw)
    except ValueError:
        raise ConfigError("Airflow Variable 'spark_config' is not valid JSON") from None
    if not isinstance(value, dict):
        raise ConfigError("Airflow Variable 'spark_config' must be a JSON object")
    for key in SPARK_MEMORY_KEYS:
        if not MEMORY.match(str(value.get(key, ""))):
            raise ConfigError(f"Airflow Variable 'spark_config': {key} must be a memory size like '4g', "
                              f"got {value.get(key)!r}")
    for key, setting in value.items():
        if key not in SPARK_MEMORY_KEYS and not key.startswith("spark."):
            raise ConfigError(f"Airflow Variable 'spark_config': unknown key {key!r} (driver_memory, "
                              f"executor_memory or a Spark setting spark.*)")
        if not isinstance(setting, str | int | float | bool):
            raise ConfigError(f"Airflow Variable 'spark_config': {key} must be a string or number")
    return value


def spark_session_conf(spark_config: dict) -> dict[str, str]:
    """The Spark settings a run's Spark session takes from `spark_config` (profiles/profiles.yml reads them
    from LOGISTICS_SPARK_CONF): driver_memory and executor_memory by their Spark names, spark.* as given."""
    return {SPARK_MEMORY_KEYS.get(key, key): str(value).lower() if isinstance(value, bool) else str(value)
            for key, value in spark_config.items()}


def parse_environment(raw: str | None) -> str:
    if raw not in ENVIRONMENTS:
        raise ConfigError(f"Airflow Variable 'environment' must be one of {', '.join(ENVIRONMENTS)}, got {raw!r}")
    return raw


def check_run_config(settings: Settings, variable_get=None) -> dict:
    """Read and check, at run time, the Variables and the connections this run uses. Returns no secret."""
    if variable_get is None:
        from airflow.sdk import Variable

        def variable_get(key):
            return Variable.get(key, default=None)

    from logistics_etl.extract.source_url import redact
    from logistics_etl.orchestration.connections import (
        get_airflow_connection,
        lake_connection_string,
        source_url_from_connection,
    )

    out = {"environment": parse_environment(variable_get("environment")),
           "spark_config": parse_spark_config(variable_get("spark_config"))}
    # The connections this run uses must be right; the others are checked too when defined (so a broken
    # production connection shows in dev first), but only reported.
    source_used = settings.source_url.startswith("airflow://")
    source_id = settings.source_url.removeprefix("airflow://") if source_used else "sql_server_default"
    out["source"] = redact(settings.source_url) if not source_used else None
    source_url = settings.source_url
    try:
        connection_url = source_url_from_connection(get_airflow_connection(source_id))
        out[f"connection {source_id}"] = redact(connection_url)
        source_url = connection_url if source_used else source_url
    except ConfigError as exc:
        if source_used:
            raise
        out[f"connection {source_id}"] = f"not usable, not used by this run: {exc}"
    # The source's server must answer: when it is down, this one task fails (and alerts) instead of each
    # extract task on its own. One TCP connect, closed at once (SourceURL.unreachable).
    from logistics_etl.extract.source_url import SourceURL

    if reason := SourceURL.parse(source_url).unreachable():
        named = f"Airflow connection {source_id!r}" if source_used else "LOGISTICS_SOURCE_URL"
        raise ConfigError(f"the source {redact(source_url)} ({named}) cannot be reached: {reason}")
    out["lake"] = settings.lake_root
    if not (settings.lake_is_blob and os.environ.get("AZURE_STORAGE_CONNECTION_STRING")):
        try:
            lake_connection_string(get_airflow_connection(settings.lake_conn_id))
            out[f"connection {settings.lake_conn_id}"] = "ok"
        except ConfigError as exc:
            if settings.lake_is_blob:
                raise
            out[f"connection {settings.lake_conn_id}"] = f"not usable, not used by this run: {exc}"
    if settings.dbt_target == "databricks":  # the dbt tasks read it when they run (dbt_task_env)
        from logistics_etl.orchestration.connections import DATABRICKS_CONN_ID, DATABRICKS_FIELDS, databricks_env

        if not all(os.environ.get(name) for name in DATABRICKS_FIELDS):
            databricks_env(get_airflow_connection(DATABRICKS_CONN_ID))
        out[f"connection {DATABRICKS_CONN_ID}"] = "ok"
    return {k: v for k, v in out.items() if v is not None}


def spark_conf_env(spark_config: dict) -> dict[str, str]:
    """The Variable `spark_config` as the Spark settings of the run's Spark session (LOGISTICS_SPARK_CONF)."""
    return {"LOGISTICS_SPARK_CONF": json.dumps(spark_session_conf(spark_config), sort_keys=True)}


def dbt_task_env(settings: Settings) -> dict[str, str]:
    """What a dbt task of the DAG reads from Airflow when it runs: the blob lake's credentials, the
    `databricks` target's connection (`databricks_default`) and, on Spark targets, the Variable `spark_config`."""
    from logistics_etl.orchestration.connections import (
        DATABRICKS_CONN_ID,
        DATABRICKS_FIELDS,
        databricks_env,
        dbt_lake_env,
        get_airflow_connection,
    )

    env = dbt_lake_env(settings)
    if settings.dbt_target in ("spark", "databricks"):
        from airflow.sdk import Variable

        env |= spark_conf_env(parse_spark_config(Variable.get("spark_config", default=None)))
    if settings.dbt_target == "databricks" and not all(os.environ.get(name) for name in DATABRICKS_FIELDS):
        env |= databricks_env(get_airflow_connection(DATABRICKS_CONN_ID))
    return env


def export_dbt_task_env(context=None) -> None:
    """`pre_execute` of the dbt tasks: put what `dbt_task_env` reads into this task's environment at run time."""
    os.environ.update(dbt_task_env(load_settings()))


if __name__ == "__main__":  # `logistics airflow-settings load` runs this with the project's AIRFLOW_HOME
    import sys

    try:
        for line in load_into_airflow(Path(sys.argv[1]) if len(sys.argv) > 1 else SETTINGS_FILE):
            print(f"loaded {line}")
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
