"""The environment of the project's local Airflow (metadata DB, DAG folder, no telemetry)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from logistics_etl.settings import PROJECT_ROOT, Settings

TASK_LOG = "dag_id={dag_id}/run_id={run_id}/task_id={task_id}/attempt={attempt}.log"  # under BASE_LOG_FOLDER


def task_log_path(settings: Settings, dag_id: str, run_id: str, task_id: str, attempt: int) -> Path:
    """The file a task's try logs to, where Airflow's UI reads it."""
    return base_log_folder(settings) / TASK_LOG.format(dag_id=dag_id, run_id=run_id, task_id=task_id,
                                                       attempt=attempt)


def base_log_folder(settings: Settings) -> Path:
    return settings.data_dir / "airflow" / "logs"


def airflow_env(settings: Settings) -> dict[str, str]:
    home = settings.data_dir / "airflow"
    env = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "120",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(base_log_folder(settings)),
        # where a task's log lives (Airflow's default layout, declared here so that `logistics run` writes the
        # logs of its `airflow dags test` run where the UI reads them: TASK_LOG)
        "AIRFLOW__LOGGING__LOG_FILENAME_TEMPLATE": TASK_LOG.format(
            dag_id="{{ ti.dag_id }}", run_id="{{ ti.run_id }}", task_id="{{ ti.task_id }}",
            attempt="{{ try_number|default(ti.try_number) }}"),
        # offline machines: no usage statistics from Airflow, cosmos or dbt
        "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
        "AIRFLOW__USAGE_DATA_COLLECTION__ENABLED": "False",
        "SCARF_ANALYTICS": "false",
        "DO_NOT_TRACK": "1",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
        # No warning that only says what this project chose (docs/orchestration.md, "Warnings"):
        # - cosmos reads the OpenLineage namespace on import, and Airflow warns when it is not configured
        "AIRFLOW__OPENLINEAGE__NAMESPACE": "logistics",
        # - Airflow warns of any Variable value under this length as a secret it cannot mask, whatever its name
        #   (the Variables `environment`, "dev", and `spark_config`, {"driver_memory": "2g"}, are no secrets and
        #   are not masked); at 2 a real secret of 2 to 4 characters is masked instead of left in the logs
        "AIRFLOW__LOGGING__MIN_LENGTH_MASKED_SECRET": "2",
        # the settings every task reads, so that Airflow and the CLI agree
        "LOGISTICS_DATA_DIR": str(settings.data_dir),
        "LOGISTICS_SOURCE_URL": settings.source_url,
        **settings.dbt_env(),
    }
    return env


def with_airflow_env(settings: Settings) -> dict[str, str]:
    return {**os.environ, **airflow_env(settings)}


def airflow_command(airflow_args: list[str]) -> list[str]:
    """The Airflow CLI of this environment."""
    return [str(Path(sys.executable).with_name("airflow")), *airflow_args]


def export_airflow_connections(settings: Settings, conn_ids: list[str]) -> None:
    """Hand the local Airflow's connections `conn_ids` to this process as `AIRFLOW_CONN_<ID>` (a URI, as Airflow
    documents): outside a task, Airflow 3 reads connections from the environment and secrets backends, not
    from the metadata DB where `logistics airflow-settings load` put them. Asked through Airflow's own CLI
    (`airflow connections get`); one already in the environment is kept, one Airflow does not know is left out
    (reading it then fails naming it)."""
    import json
    import subprocess

    for conn_id in conn_ids:
        var = f"AIRFLOW_CONN_{conn_id.upper()}"
        if var in os.environ:
            continue
        proc = subprocess.run(airflow_command(["connections", "get", conn_id, "--output", "json"]),
                              env=with_airflow_env(settings), cwd=PROJECT_ROOT, capture_output=True, text=True)
        found = [line for line in proc.stdout.splitlines() if line.startswith("[")]
        if proc.returncode == 0 and found:
            os.environ[var] = json.loads(found[-1])[0]["get_uri"]
