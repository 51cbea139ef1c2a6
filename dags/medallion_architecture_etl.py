"""medallion_architecture_etl: LogisticsDB -> lake -> bronze -> silver -> gold, daily at 02:00.

    check_configuration     Variables and connections, read and checked at run time
    extract_from_sqlserver  one task per source table: changed rows -> lake batch (pool source_extract)
    dbt_build               one `dbt build` of the three layers (pool warehouse_writer)
    process_*_layer         cosmos: a task per dbt model, seed and snapshot, reporting the build's result for
                            the node and its tests; a retry builds the node (docs/orchestration.md)
    fail_the_run            last: when a task failed for good, fails the run and sends the night's one e-mail

This file only builds the DAG: settings from the environment and the dbt manifest, no I/O beyond those.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import DAG, Param, task_group

import logistics_etl.orchestration  # noqa: F401  first: it quiets cosmos's OpenLineage notice (see there)

# isort: split
from cosmos import DbtTaskGroup, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
from cosmos.constants import ExecutionMode, InvocationMode, LoadMode, TestBehavior

from logistics_etl.contract import TABLES
from logistics_etl.orchestration.dbt_nodes import BUILD_TASK_ID, DBT_LOG_ENV, DbtBuild, NodeTasks, publish_build_report
from logistics_etl.orchestration.night_tasks import check_configuration, export_dbt_task_env, extract, fail_the_run
from logistics_etl.settings import (
    DAG_ID,
    DBT_LAYERS,
    DBT_PROFILE,
    EXTRACT_POOL,
    PROJECT_ROOT,
    WAREHOUSE_POOL,
    load_settings,
)

SETTINGS = load_settings()
ONE_BUILD = SETTINGS.dbt_execution == "build"  # else `local`: cosmos's own `dbt build` per node task

DEFAULT_ARGS = {
    "owner": "data-platform",
    "retries": SETTINGS.task_retries,  # 3 unless LOGISTICS_TASK_RETRIES says otherwise
    "retry_delay": timedelta(seconds=SETTINGS.task_retry_delay_seconds),  # 2 minutes unless set
    "retry_exponential_backoff": 2.0,
    "max_retry_delay": timedelta(minutes=30),
}
PROJECT = ProjectConfig(dbt_project_path=PROJECT_ROOT, manifest_path=SETTINGS.require_manifest(),
                        models_relative_path="dbt_project", env_vars=SETTINGS.dbt_env(), partial_parse=True)
PROFILE = ProfileConfig(profile_name=DBT_PROFILE, target_name=SETTINGS.dbt_target,
                        profiles_yml_filepath=PROJECT_ROOT / "profiles" / "profiles.yml")
EXECUTION = ExecutionConfig(execution_mode=ExecutionMode.LOCAL, invocation_mode=InvocationMode.DBT_RUNNER)
DBT_ARGS = {"install_deps": False, "pool": WAREHOUSE_POOL, "dbt_cmd_flags": ["--no-use-colors"],
            **({"pre_execute": export_dbt_task_env} if SETTINGS.dbt_task_env_from_airflow else {})}
NODES = NodeTasks(build_task_id=BUILD_TASK_ID)


def layer(group_id: str, paths: list[str]) -> DbtTaskGroup:
    """The dbt models, seeds and snapshots of one layer (by folder), a task each."""
    return DbtTaskGroup(
        group_id=group_id, project_config=PROJECT, profile_config=PROFILE, execution_config=EXECUTION,
        operator_args=DBT_ARGS,
        render_config=RenderConfig(
            load_method=LoadMode.DBT_MANIFEST, select=[f"path:{p}" for p in paths],
            test_behavior=TestBehavior.BUILD,  # a node's tests belong to its task
            should_detach_multiple_parents_tests=not ONE_BUILD, emit_datasets=False,
            node_converters=NODES.converters if ONE_BUILD else None))


with DAG(
    dag_id=DAG_ID,
    description="LogisticsDB (SQL Server) -> data lake -> dbt bronze/silver/gold",
    schedule="0 2 * * *",
    start_date=pendulum.datetime(2024, 1, 1, tz=SETTINGS.timezone),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["etl", "production"],
    params={
        "full_refresh": Param(False, type="boolean", description="Re-extract every table in full"),
        # the UI offers the source tables; a name that is not one is refused when the run is triggered
        "tables": Param([], type="array", items={"type": "string", "enum": [t.name for t in TABLES]},
                        uniqueItems=True, description="Extract only these source tables (empty: all)"),
    },
    doc_md=__doc__,
) as dag:
    @task_group(group_id="extract_from_sqlserver")
    def extract_from_sqlserver():
        for table in TABLES:
            extract.override(task_id=f"extract_{table.name.lower()}", pool=EXTRACT_POOL)(table_name=table.name)

    extracted = check_configuration() >> extract_from_sqlserver()
    bronze, silver, gold = (layer(group_id, paths) for group_id, paths in DBT_LAYERS.items())
    if ONE_BUILD:
        build = DbtBuild(
            task_id=BUILD_TASK_ID, project_dir=str(PROJECT_ROOT), profile_config=PROFILE,
            select=[f"path:{p}" for paths in DBT_LAYERS.values() for p in paths],
            env={**SETTINGS.dbt_env(), **DBT_LOG_ENV}, invocation_mode=InvocationMode.DBT_RUNNER,
            callback=publish_build_report, should_store_compiled_sql=False, emit_datasets=False,
            cache_dir=SETTINGS.dbt_cache_dir,  # dbt's partial parse, kept between nights
            retries=0, **DBT_ARGS)  # not retried: its node tasks are, each building its node
        NODES.follow(build)
        NODES.link_parents()
    (extracted >> build if ONE_BUILD else extracted) >> bronze >> silver >> gold
    judge = fail_the_run(SETTINGS.alert_email)
    # it follows every task but the dbt build, whose failure its node tasks report (and may make good)
    [t for t in dag.tasks if t.task_id not in (BUILD_TASK_ID, judge.task_id)] >> judge
