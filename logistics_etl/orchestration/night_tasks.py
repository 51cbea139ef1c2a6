"""The DAG's own Python tasks (TaskFlow): configuration check, one extract per source table, the run's verdict.

Each imports what it needs when it runs, so that parsing the DAG file stays cheap (every task process of a
scheduled night parses it again).
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import TriggerRule, task

from logistics_etl.settings import load_settings


@task(multiple_outputs=False)  # one XCom (its return value), not one more per key: no task reads them apart
def check_configuration() -> dict:
    """Read the Variables `environment` and `spark_config` and the connections this run uses, now (at run
    time), and fail naming the one that is missing or malformed. Returns them without any secret."""
    from logistics_etl.orchestration.airflow_settings import check_run_config

    config = check_run_config(load_settings())
    print(f"run configuration: {config}")
    return config


@task(multiple_outputs=False)
def extract(table_name: str, params: dict | None = None, run_id: str | None = None) -> dict:
    """Land the rows of one source table changed since its watermark as one lake batch."""
    from logistics_etl.contract import get_table
    from logistics_etl.extract.table import ExtractOptions, extract_table, progress_logger
    from logistics_etl.orchestration.connections import open_lake, resolve_source_url

    params = params or {}
    wanted = params.get("tables") or []
    if wanted and table_name.lower() not in {t.lower() for t in wanted}:
        return {"table": table_name, "skipped": True}
    settings = load_settings()
    # connections are read here, at run time: sql_server_default / azure_data_lake_default when configured
    result = extract_table(get_table(table_name), resolve_source_url(settings), open_lake(settings),
                           ExtractOptions.from_settings(settings, full_refresh=bool(params.get("full_refresh"))),
                           run_id=run_id or "", progress=progress_logger(settings.progress_log_seconds))
    return result.as_dict()


def fail_the_run(alert_email: str) -> Any:
    """The last task: when a task fails for good (its retries spent), waits until every other task has ended and
    fails naming each that failed, so that the run itself is failed and one e-mail names them all; skipped by the
    scheduler on a night where none does (`logistics_etl/orchestration/run_verdict.py`)."""
    from logistics_etl.orchestration.run_verdict import RunVerdict, failure_notifier

    return RunVerdict(task_id="fail_the_run", trigger_rule=TriggerRule.ONE_FAILED, retries=0,
                      on_failure_callback=failure_notifier(alert_email), doc_md=fail_the_run.__doc__)


def export_dbt_task_env(context: Any) -> None:
    """A dbt task's `pre_execute`: what it needs from Airflow (a blob lake's credentials, the Databricks
    connection, the Variable `spark_config`) is read when it runs, never at parse time."""
    from logistics_etl.orchestration.airflow_settings import export_dbt_task_env as export

    export(context)
