"""The environment of the project's local Airflow (metadata DB, DAG folder, no telemetry)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from logistics_etl.settings import PROJECT_ROOT, Settings


def airflow_env(settings: Settings) -> dict[str, str]:
    home = settings.data_dir / "airflow"
    env = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "120",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
        # cosmos's watcher producer copies every status it reports into one Airflow Variable as it goes
        # (rewritten whole each time: 6 s of the silver build here); without it the copy is still made when
        # the producer fails or is retried, so only a producer killed outright leaves its sensors to build
        # their models themselves on their retry
        "AIRFLOW__COSMOS__ENABLE_WATCHER_RELIABLE_RETRY": "False",
        # offline machines: no usage statistics from Airflow, cosmos or dbt
        "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
        "AIRFLOW__USAGE_DATA_COLLECTION__ENABLED": "False",
        "SCARF_ANALYTICS": "false",
        "DO_NOT_TRACK": "1",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
        # the settings every task reads, so that Airflow and the CLI agree
        "LOGISTICS_DATA_DIR": str(settings.data_dir),
        "LOGISTICS_SOURCE_URL": settings.source_url,
        **settings.dbt_env(),
    }
    return env


def with_airflow_env(settings: Settings) -> dict[str, str]:
    return {**os.environ, **airflow_env(settings)}


def airflow_command(airflow_args: list[str]) -> list[str]:
    """The Airflow CLI of this environment; `dags test` through `logistics_etl.dags_test` (the same command,
    with the in-process execution API generating the one API version its tasks speak: about 3 s less a run)."""
    if airflow_args[:2] == ["dags", "test"]:
        return [sys.executable, "-m", "logistics_etl.dags_test", *airflow_args[2:]]
    return [str(Path(sys.executable).with_name("airflow")), *airflow_args]
