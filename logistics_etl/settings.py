"""Every path and knob of the project, in one place.

Values come from environment variables (so Airflow, dbt, the CLI and the tests
all agree) with defaults that make a fresh clone work with nothing set. Nothing
here touches the disk or the network: reading settings is free at DAG parse time.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DAG_ID = "medallion_architecture_etl"  # dags/medallion_architecture_etl.py
DBT_PROFILE = "logistics_warehouse"  # profiles/profiles.yml
# the DAG's task groups of dbt nodes, in the graph's order, and the folders each takes its nodes from
DBT_LAYERS = {"process_bronze_layer": ["dbt_project/bronze"],
              "process_silver_layer": ["seeds", "dbt_project/silver", "snapshots"],
              "process_gold_layer": ["dbt_project/gold", "tests/dbt/gold"]}
DBT_TARGETS = ("dev", "databricks", "spark", "sqlserver", "lint")  # the outputs of profiles/profiles.yml
BLOB_SCHEMES = ("abfs://", "az://", "abfss://")
# A full read (first load, full refresh) of a table of at least PARALLEL_MIN_KEYS keys reads FULL_READ_PARALLEL
# key ranges at once where connectorx reads the source (SQL Server, SQLite; PostgreSQL, read with ADBC, takes
# one: source.full_read_ranges). connectorx keeps one of its threads busy per statement, so a second range pays
# on a big table (benchmarks/extract.py); below PARALLEL_MIN_KEYS a second connection to the source is not worth
# it. Incremental reads are small and stay one statement.
FULL_READ_PARALLEL = 2
PARALLEL_MIN_KEYS = 100_000
# Airflow pools (created by `logistics airflow-settings load` from airflow_settings.yaml): the tasks that write
# the warehouse share WAREHOUSE_POOL (1 slot for DuckDB, which takes one writer; more for a warehouse that takes
# concurrent writers), the extract tasks EXTRACT_POOL (how many source tables are read at once).
WAREHOUSE_POOL = "warehouse_writer"
EXTRACT_POOL = "source_extract"


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the setting."""


def _path(env: str, default: Path) -> Path:
    raw = os.environ.get(env)
    return Path(raw).expanduser().resolve() if raw else default


def warehouse_path(path: Path, setting: str = "DUCKDB_PATH") -> Path:
    """A DuckDB warehouse file whose name DuckDB can use as its database name unquoted: dbt-duckdb names the
    lake's views `<file name>.lake.<Table>` without quotes (lake/dbt_source.py), so `full-refresh.duckdb` fails
    in dbt with a parser error; refused here, naming the setting."""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", path.stem):
        raise ConfigError(f"setting {setting}={str(path)!r}: the file name {path.stem!r} must be letters, digits and "
                          f"underscores, starting with a letter (dbt-duckdb uses it unquoted as the database name)")
    return path


def _int(env: str, default: int | None, minimum: int = 1) -> int | None:
    raw = os.environ.get(env)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"setting {env}={raw!r} is not a whole number") from None
    if value < minimum:
        raise ConfigError(f"setting {env}={value} must be >= {minimum}")
    return value


# characters a lake path cannot hold: dbt writes the path into SQL string literals and quoted identifiers on
# Spark and Databricks (macros/lake_tables.sql), where no one escape serves every dialect
UNQUOTABLE_IN_SQL = ("'", '"', "`", "\\", "\n", "\r", ";")


def _lake_root(data_dir: Path) -> str:
    raw = os.environ.get("LAKE_ROOT")
    if raw and "://" in raw:
        if not raw.startswith(BLOB_SCHEMES) or len(raw.split("://", 1)[1].strip("/")) == 0:
            raise ConfigError(f"setting LAKE_ROOT={raw!r}: a lake URL must be abfs://<container>/<path>")
        root = raw.rstrip("/")
    else:
        root = str(_path("LAKE_ROOT", data_dir / "lake"))
    if bad := [c for c in UNQUOTABLE_IN_SQL if c in root]:
        where = "setting LAKE_ROOT" if raw else "setting LOGISTICS_DATA_DIR (the lake is its lake/ folder)"
        raise ConfigError(f"{where}: the lake path {root!r} holds {' '.join(map(repr, bad))}, which the lake's SQL "
                          "cannot quote on every target; use a path without it")
    return root


def _choice(env: str, default: str, allowed: tuple[str, ...]) -> str:
    value = os.environ.get(env) or default
    if value not in allowed:
        raise ConfigError(f"setting {env}={value!r} must be one of {', '.join(allowed)}")
    return value


def _timezone(env: str, default: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    value = os.environ.get(env) or default
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"setting {env}={value!r} is not an IANA time zone") from None
    return value


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    source_url: str
    lake_root: str  # a local folder, or abfs://<container>/<path> for Azure Blob / ADLS
    lake_conn_id: str
    duckdb_path: Path
    batch_size: int
    dbt_target: str
    timezone: str
    alert_email: str
    task_retries: int
    task_retry_delay_seconds: int  # the first retry's wait; each later one waits twice as long, at most 30 minutes
    extract_parallelism: int  # key ranges read at once, every read
    # key ranges of a full read of a table of at least parallel_min_keys keys; None: as many as the source's
    # driver gains from (source.full_read_ranges: 1 for PostgreSQL, FULL_READ_PARALLEL for the others)
    full_read_parallelism: int | None
    parallel_min_keys: int
    extract_page_rows: int  # 0: one statement per key range; N: keyset pages of N rows
    progress_log_seconds: int  # an extract task logs its rows so far at most this often
    dbt_execution: str  # build: one dbt build, a task per node reports on it; local: a dbt build per node task
    lake_retention_hours: int  # what `lake vacuum` keeps: the files the versions of these last hours need

    @property
    def lake_is_blob(self) -> bool:
        return self.lake_root.startswith(BLOB_SCHEMES)

    @property
    def dbt_task_env_from_airflow(self) -> bool:
        """Whether a dbt task reads anything from Airflow when it runs (orchestration/connections.dbt_task_env)."""
        return self.lake_is_blob or self.dbt_target in ("spark", "databricks")

    @property
    def manifest_path(self) -> Path:
        return PROJECT_ROOT / "target" / "manifest.json"

    @property
    def dbt_cache_dir(self) -> Path:
        return self.data_dir / "dbt_cache"

    def require_manifest(self) -> Path:
        if not self.manifest_path.exists():
            raise ConfigError(f"dbt manifest not found at {self.manifest_path}: run `logistics dbt parse` (the run "
                              "command and CI do) before Airflow parses the DAG")
        return self.manifest_path

    def dbt_env(self) -> dict[str, str]:
        """Environment that dbt needs to find the lake and the warehouse.

        DBT_PROFILE and DBT_TARGET are what cosmos passes as --profile and --target: dbt keeps the
        partial-parse file only while they match, so `logistics dbt parse` must set them the same way
        (otherwise every dbt run of the DAG parses the whole project again, about 10 s).
        """
        return {
            "DBT_PROFILE": DBT_PROFILE,
            "DBT_TARGET": self.dbt_target,
            "LAKE_ROOT": self.lake_root,
            "DUCKDB_PATH": str(self.duckdb_path),
            "DBT_PROFILES_DIR": str(PROJECT_ROOT / "profiles"),
            # the `spark` target's Hive metastore and Parquet tables
            "SPARK_DATA_DIR": str(self.data_dir / "spark"),
        }


def load_settings() -> Settings:
    data_dir = _path("LOGISTICS_DATA_DIR", PROJECT_ROOT / "data")
    default_source = f"sqlite://{data_dir / 'source' / 'logisticsdb.sqlite'}"
    return Settings(
        data_dir=data_dir,
        source_url=os.environ.get("LOGISTICS_SOURCE_URL") or default_source,
        lake_root=_lake_root(data_dir),
        lake_conn_id=os.environ.get("LOGISTICS_LAKE_CONN_ID") or "azure_data_lake_default",
        duckdb_path=warehouse_path(_path("DUCKDB_PATH", data_dir / "warehouse.duckdb")),
        batch_size=_int("LOGISTICS_BATCH_SIZE", 200_000),
        dbt_target=_choice("DBT_TARGET", "dev", DBT_TARGETS),
        timezone=_timezone("LOGISTICS_TIMEZONE", "UTC"),
        alert_email=os.environ.get("LOGISTICS_ALERT_EMAIL", "data-alerts@example.com"),
        task_retries=_int("LOGISTICS_TASK_RETRIES", 3, minimum=0),
        task_retry_delay_seconds=_int("LOGISTICS_TASK_RETRY_DELAY_SECONDS", 120),
        extract_parallelism=_int("LOGISTICS_EXTRACT_PARALLELISM", 1),
        full_read_parallelism=_int("LOGISTICS_FULL_READ_PARALLELISM", None),
        parallel_min_keys=_int("LOGISTICS_PARALLEL_MIN_KEYS", PARALLEL_MIN_KEYS),
        extract_page_rows=_int("LOGISTICS_EXTRACT_PAGE_ROWS", 0, minimum=0),
        progress_log_seconds=_int("LOGISTICS_PROGRESS_LOG_SECONDS", 30, minimum=0),
        dbt_execution=_choice("LOGISTICS_DBT_EXECUTION", "build", ("build", "local")),
        lake_retention_hours=_int("LOGISTICS_LAKE_RETENTION_HOURS", 168, minimum=24),
    )
