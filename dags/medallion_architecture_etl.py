"""medallion_architecture_etl: LogisticsDB -> lake -> bronze -> silver -> gold, daily at 02:00.

Top-level code only builds the DAG: it reads environment settings and the dbt
manifest (no `dbt ls`, no database, no Airflow Variable at parse time).

    check_configuration     Variables and connections, read and checked at run time
    extract_from_sqlserver  one task per source table: changed rows -> lake batch
    process_bronze_layer    cosmos: one `dbt build` of all three layers, then a task per model (and its tests)
    process_silver_layer    seeds, silver models, snapshots, quarantine, reconciliation
    process_gold_layer      star schema and KPI marts, run audit marts, validity test
    fail_the_run            last: when a task failed for good, fails the run and sends the night's one e-mail

LOGISTICS_DBT_EXECUTION=local runs a `dbt build` per model task instead (docs/orchestration.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pendulum
from airflow.sdk import Param, TriggerRule, dag, task, task_group
from cosmos import DbtTaskGroup, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
from cosmos.constants import ExecutionMode, InvocationMode, LoadMode, TestBehavior

from logistics_etl.collector import freeze_what_exists
from logistics_etl.contract import TABLES
from logistics_etl.layer_build import (
    build_once,
    fold_tests_into_their_nodes,
    producer_of,
    use_layer_build_producer,
    use_reported_status_poke,
)
from logistics_etl.node_retries import set_up_retries
from logistics_etl.settings import DBT_PROFILE, PROJECT_ROOT, ConfigError, load_settings

SETTINGS = load_settings()
DAG_ID = "medallion_architecture_etl"

try:
    TIMEZONE = pendulum.timezone(SETTINGS.timezone)
except Exception as exc:  # pendulum raises its own InvalidTimezone
    raise ConfigError(f"setting LOGISTICS_TIMEZONE={SETTINGS.timezone!r} is not an IANA time zone") from exc

if not SETTINGS.manifest_path.exists():
    raise ConfigError(f"dbt manifest not found at {SETTINGS.manifest_path}: run `logistics dbt parse` "
                      "(the run command and CI do) before Airflow parses this DAG")


def _failure_notifier():
    """The night's one failure e-mail, sent when `fail_the_run` fails: every failed task, each with a link to
    its log (`logistics_etl.run_verdict`)."""
    from airflow.providers.smtp.notifications.smtp import SmtpNotifier

    return SmtpNotifier(
        to=SETTINGS.alert_email,
        subject=("[airflow] {{ dag.dag_id }} run {{ run_id }} failed{% if exception.failed is defined %}: "
                 "{{ exception.failed[0].task_id }}{% if exception.failed | length > 1 %} and "
                 "{{ exception.failed | length - 1 }} more{% endif %}{% endif %}"),
        html_content=(
            "<p>Run <b>{{ run_id }}</b> of DAG <b>{{ dag.dag_id }}</b> failed.</p>"
            "{% if exception.failed is defined %}<p>Failed tasks (their retries spent):</p><ul>"
            "{% for t in exception.failed %}<li>{{ t.task_id }}: <a href='{{ t.log_url }}'>log</a></li>"
            "{% endfor %}</ul>"
            "{% else %}<p>{{ ti.task_id }} could not report the run: {{ exception }}</p>{% endif %}"
            "<p>This task's log: <a href='{{ ti.log_url }}'>{{ ti.log_url }}</a></p>"
        ),
    )


DEFAULT_ARGS = {
    "owner": "data-platform",
    "retries": SETTINGS.task_retries,  # 3 unless LOGISTICS_TASK_RETRIES says otherwise
    "retry_delay": timedelta(seconds=SETTINGS.task_retry_delay_seconds),  # 2 minutes unless set
    "retry_exponential_backoff": 2.0,
    "max_retry_delay": timedelta(minutes=30),
    # no e-mail per task: `fail_the_run` sends one per failed night, naming every failed task
}

PROJECT = ProjectConfig(
    dbt_project_path=PROJECT_ROOT,
    manifest_path=SETTINGS.manifest_path,
    models_relative_path="dbt_project",
    # No dbt.log: cosmos runs dbt in a temporary copy of the project and deletes it, log file and all, when
    # the task ends; writing it at dbt's default debug level cost about a tenth of a `dbt build` (every
    # statement and event, 2 s of 18 s at scale 1). dbt's own output stays in the task log.
    env_vars={**SETTINGS.dbt_env(), "DBT_LOG_LEVEL_FILE": "none"},
    partial_parse=True,
)
# cosmos wraps the manifest's path in Airflow's ObjectStoragePath, whose first read loads every Airflow plugin
# (0.7 s of each parse here, for cosmos's own UI plugin); the manifest is a local file, read as one.
PROJECT.manifest_path = SETTINGS.manifest_path


@dataclass
class _ProfileConfig(ProfileConfig):
    """cosmos's profile configuration, whose dbt adapter type is read from profiles.yml once per process.
    cosmos's task listener asks for it when every cosmos task finishes (for telemetry, even when that is
    off), and parsed the YAML each time: 3 ms a task, a third of a second a run."""

    def get_profile_type(self) -> str:
        if "_profile_type" not in self.__dict__:
            self.__dict__["_profile_type"] = super().get_profile_type()
        return self.__dict__["_profile_type"]


PROFILE = _ProfileConfig(
    profile_name=DBT_PROFILE,
    target_name=SETTINGS.dbt_target,
    profiles_yml_filepath=PROJECT_ROOT / "profiles" / "profiles.yml",
)


# A lake on Azure: the dbt tasks read the lake's credentials from the Airflow
# connection when they run (never here, at parse time).
def _export_lake_credentials(context) -> None:
    from logistics_etl.connections import export_lake_credentials

    export_lake_credentials(context)


OPERATOR_ARGS: dict = {"install_deps": False}
if SETTINGS.lake_is_blob:
    OPERATOR_ARGS["pre_execute"] = _export_lake_credentials
WATCHER = SETTINGS.dbt_execution == "watcher"
if WATCHER:
    # One `dbt build` of the three layers (a `LayerBuildProducer`); the per-model tasks are sensors that read what it
    # reported, and each runs its model itself only on a retry. No deferral: a sensor pokes once a second.
    OPERATOR_ARGS.update(deferrable=False, poke_interval=1)
else:
    # A dbt invocation per model task: skip dbt's JSON artifacts (manifest.json, run_results.json: about
    # 0.3 s an invocation), which nobody reads (the run audit comes from on-run-end).
    OPERATOR_ARGS["dbt_cmd_flags"] = ["--no-write-json"]
EXECUTION = ExecutionConfig(execution_mode=ExecutionMode.WATCHER if WATCHER else ExecutionMode.LOCAL,
                            invocation_mode=InvocationMode.DBT_RUNNER)


def _follow_the_layer_build(group: DbtTaskGroup) -> None:
    """Watcher mode: every model, seed and snapshot task of the layer runs after the `dbt build`, whatever
    its outcome, and reports what the build said of its node (and, once `fold_tests_into_their_nodes` has
    run, of the node's tests).

    - After, not beside it: with one writer at a time (DuckDB, one task slot) a sensor that started first
      would hold the only slot while the build waits for it.
    - `one_done`: a task runs once the build has succeeded or failed, so a failing model, or a failing test
      of it, turns the model's own task red (and what dbt skipped after it) while the rest go green. If the
      build never ran (an upstream failure) the tasks are skipped instead of building their models themselves.
    - A sensor that finds its node reported on its first try reads only what the build reported of it
      (`ReportedStatusPoke`).
    - The build is not retried (cosmos would skip a second attempt anyway, which would skip every task of
      the layer and let the run succeed): the node tasks retry, each building its own node.
    """
    producer = producer_of(group)
    use_layer_build_producer(producer)
    producer.retries = 0
    for consumer in group.iter_tasks():
        if consumer is not producer and hasattr(consumer, "producer_task_id"):
            producer >> consumer
            consumer.trigger_rule = TriggerRule.ONE_DONE
            use_reported_status_poke(consumer)


def _layer(group_id: str, paths: list[str]) -> DbtTaskGroup:
    """The dbt nodes of one layer, selected by folder.

    Cosmos puts a test with several parents in every group that holds one of
    its parents, so every test reads models of one layer only (seeds count as
    silver); singular tests live in tests/dbt/<layer>/, selected with it.
    """
    group = DbtTaskGroup(
        group_id=group_id,
        project_config=PROJECT,
        profile_config=PROFILE,
        execution_config=EXECUTION,
        render_config=RenderConfig(
            load_method=LoadMode.DBT_MANIFEST,
            select=[f"path:{p}" for p in paths],
            test_behavior=TestBehavior.AFTER_EACH if WATCHER else TestBehavior.BUILD,
            should_detach_multiple_parents_tests=not WATCHER,
            emit_datasets=False,  # no Airflow asset event per model: no DAG is scheduled on them
        ),
        operator_args=OPERATOR_ARGS,
    )
    if WATCHER:
        _follow_the_layer_build(group)
    return group


@task(multiple_outputs=False)  # one XCom (its return value), not one more per key: no task reads them apart
def check_configuration() -> dict:
    """Read the Variables `environment` and `spark_config` and the connections this run uses, now (at run
    time), and fail naming the one that is missing or malformed. Returns them without any secret."""
    from logistics_etl.airflow_settings import check_run_config
    from logistics_etl.settings import load_settings

    config = check_run_config(load_settings())
    print(f"run configuration: {config}")
    return config


@task(multiple_outputs=False)
def extract(table_name: str, params: dict | None = None, run_id: str | None = None) -> dict:
    """Land the rows of one source table changed since its watermark as one lake batch."""
    from logistics_etl.connections import open_lake, resolve_source_url
    from logistics_etl.contract import get_table
    from logistics_etl.extract import extract_table, progress_logger
    from logistics_etl.settings import load_settings

    params = params or {}
    wanted = params.get("tables") or []
    if wanted and table_name.lower() not in {t.lower() for t in wanted}:
        return {"table": table_name, "skipped": True}
    settings = load_settings()
    # connections are read here, at run time: sql_server_default / azure_data_lake_default when configured
    result = extract_table(get_table(table_name), resolve_source_url(settings), open_lake(settings),
                           full_refresh=bool(params.get("full_refresh")), batch_size=settings.batch_size,
                           parallel=settings.extract_parallelism,
                           full_read_parallel=settings.full_read_parallelism,
                           parallel_min_keys=settings.parallel_min_keys,
                           page_rows=settings.extract_page_rows, run_id=run_id or "",
                           progress=progress_logger(settings.progress_log_seconds))
    return result.as_dict()


@task(trigger_rule=TriggerRule.ALL_DONE, retries=0, on_failure_callback=_failure_notifier())
def fail_the_run() -> None:
    """Runs when every other task has ended; fails naming the tasks that failed for good (their retries spent),
    so that the run itself is failed and one e-mail names them all, or is skipped when none did
    (`logistics_etl/run_verdict.py`)."""
    from airflow.sdk import get_current_context

    from logistics_etl.run_verdict import judge

    judge(get_current_context())


@dag(
    dag_id=DAG_ID,
    description="LogisticsDB (SQL Server) -> data lake -> dbt bronze/silver/gold",
    schedule="0 2 * * *",
    start_date=pendulum.datetime(2024, 1, 1, tz=TIMEZONE),
    catchup=False,
    max_active_runs=1,
    # DuckDB (target dev) allows one writer at a time; warehouses that take
    # concurrent writers run the per-model tasks in parallel.
    max_active_tasks=1 if SETTINGS.dbt_target == "dev" else 16,
    default_args=DEFAULT_ARGS,
    tags=["etl", "production"],
    params={
        "full_refresh": Param(False, type="boolean", description="Re-extract every table in full"),
        # the UI offers the source tables to pick from; a name that is not one is refused when the run is
        # triggered, before any task runs
        "tables": Param([], type="array", items={"type": "string", "enum": [t.name for t in TABLES]},
                        uniqueItems=True, description="Extract only these source tables (empty: all)"),
    },
    doc_md=__doc__,
)
def medallion_architecture_etl():
    @task_group(group_id="extract_from_sqlserver")
    def extract_from_sqlserver():
        for table in TABLES:
            extract.override(task_id=f"extract_{table.name.lower()}")(table_name=table.name)

    # watcher mode: one `dbt build` of the three layers, the bronze group's (see `build_once`)
    bronze = _layer("process_bronze_layer", ["dbt_project/bronze"])
    silver = _layer("process_silver_layer", ["seeds", "dbt_project/silver", "snapshots"])
    gold = _layer("process_gold_layer", ["dbt_project/gold", "tests/dbt/gold"])
    if WATCHER:
        build_once([bronze, silver, gold])
        fold_tests_into_their_nodes([bronze, silver, gold])  # a node's task reports its tests too
        set_up_retries([bronze, silver, gold])  # a node's retry builds it once its parents' tasks succeeded
    check_configuration() >> extract_from_sqlserver() >> bronze >> silver >> gold


DAG = medallion_architecture_etl()
# `fail_the_run` follows every task but the one dbt build and its gate: a failed build is reported, node by
# node, by the tasks that follow it (whose retries may make it good), and those are what fail the run
_judge = fail_the_run.override(task_id="fail_the_run", dag=DAG)()
for _task in list(DAG.tasks):
    if _task.task_id != "fail_the_run" and not _task.task_id.endswith((".dbt_producer_watcher",
                                                                        ".dbt_producer_watcher_done")):
        _task >> _judge
# The process that parsed this file keeps Airflow, cosmos and the DAG until it exits: no garbage
# collection needs to scan them again (logistics_etl/collector.py; 3 s of a scale-1 `dags test`).
freeze_what_exists()
