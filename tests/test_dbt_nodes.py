"""The night's one `dbt build` and the node tasks, against cosmos and Airflow as installed
(`logistics_etl/orchestration/dbt_nodes.py`, `logistics_etl/orchestration/node_report.py`).

These tests fail when cosmos or Airflow change what the design relies on: that cosmos calls a build's
`callback` with the project folder dbt ran in, after dbt and before a failed build raises; that our
`calculate_openlineage_events_completes` override is the method cosmos calls; and that a trigger ends a node's
task in the triggerer only when its report passed. The build runs real dbt on a real DuckDB warehouse
and lake; only the task instance is a stand-in (a recorder of XCom pushes), since it runs outside Airflow.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from airflow.triggers.base import TaskSuccessEvent

from logistics_etl.orchestration.node_report import NodeReportTrigger, passed, reasons
from tests.conftest import UnreadableBatch, run_cli

VEHICLES = "model.logistics_warehouse.brz_vehicles"
CARRIERS = "model.logistics_warehouse.brz_carriers"


def test_the_build_reports_every_node_before_a_failed_build_raises(data_dir: Path):
    """A real `dbt build` of bronze through cosmos's operator, one model failing (a lake batch whose data files
    cannot be read): cosmos runs the callback on the folder dbt ran in, then raises; the callback pushed each
    model's report, the failed one with dbt's error and the others with their tests and dbt's own lines."""
    from cosmos import ProfileConfig
    from cosmos.constants import InvocationMode

    from logistics_etl.orchestration.dbt_nodes import DBT_LOG_ENV, DbtBuild, publish_build_report
    from logistics_etl.settings import DBT_PROFILE, PROJECT_ROOT, load_settings

    run_cli("source", "generate", "--scale", "0.02", "--seed", "3")
    run_cli("extract")
    UnreadableBatch(data_dir / "lake" / "bronze" / "Vehicles")
    settings = load_settings()
    build = DbtBuild(task_id="dbt_build", project_dir=str(PROJECT_ROOT), select=["path:dbt_project/bronze"],
                     profile_config=ProfileConfig(profile_name=DBT_PROFILE, target_name="dev",
                                                  profiles_yml_filepath=PROJECT_ROOT / "profiles" / "profiles.yml"),
                     env={**settings.dbt_env(), **DBT_LOG_ENV}, invocation_mode=InvocationMode.DBT_RUNNER,
                     callback=publish_build_report, should_store_compiled_sql=False, emit_datasets=False,
                     install_deps=False)
    pushed: dict[str, dict] = {}
    ti = SimpleNamespace(xcom_push=lambda key, value: pushed.__setitem__(key, value))
    with pytest.raises(Exception, match="brz_vehicles|dbt command failed"):
        build.execute({"ti": ti, "task_instance": ti, "run_id": "manual__test"})
    assert set(pushed) >= {VEHICLES, CARRIERS}
    vehicles, carriers = pushed[VEHICLES], pushed[CARRIERS]
    assert vehicles["status"] == "error" and UnreadableBatch.MESSAGE in vehicles["message"]
    assert not passed(vehicles) and "finished with status 'error'" in reasons(vehicles)
    assert passed(carriers) and carriers["tests"] and set(carriers["tests"].values()) == {"pass"}
    assert any("OK created sql incremental model bronze.brz_carriers" in line for line in carriers["lines"])
    assert any(line.startswith(("PASS", "1 of")) or "PASS not_null_brz_carriers" in line
               for line in carriers["lines"]), carriers["lines"]
    assert build.openlineage_events_completes == [], "no OpenLineage events built without the provider"


def _run(trigger: NodeReportTrigger) -> list:
    async def collect():
        return [event async for event in trigger.run()]

    return asyncio.run(collect())


def _trigger(report: dict | None, try_number: int = 1) -> NodeReportTrigger:
    trigger = NodeReportTrigger(json.dumps(report), CARRIERS)
    trigger.task_instance = SimpleNamespace(task_id="process_bronze_layer.brz_carriers", try_number=try_number)
    return trigger


GOOD = {"status": "success", "message": "OK", "seconds": 0.1, "tests": {"not_null_x": "pass", "unique_x": "warn"},
        "lines": ["1 of 2 OK created sql table model bronze.x"]}


def test_a_node_that_passed_ends_its_first_try_in_the_triggerer():
    events = _run(_trigger(GOOD))
    assert len(events) == 1 and isinstance(events[0], TaskSuccessEvent)


@pytest.mark.parametrize("report, why", [
    ({**GOOD, "status": "error", "message": "Runtime Error"}, "finished with status 'error': Runtime Error"),
    ({**GOOD, "status": "skipped"}, "was skipped by the dbt build: a node it depends on failed"),
    ({**GOOD, "tests": {"not_null_x": "fail", "unique_x": "pass"}},
     "was built, but its tests did not all pass: not_null_x (fail)"),
    (None, "was not reported by the night's dbt build"),
])
def test_anything_else_goes_back_to_a_worker_with_the_report(report, why):
    """A worker fails the task naming what failed (`DbtNodeTask`), or builds the node on a retry."""
    events = _run(_trigger(report))
    assert len(events) == 1 and not isinstance(events[0], TaskSuccessEvent)
    assert events[0].payload == {"report": report}
    assert why in reasons(report)


def test_a_later_try_whose_node_passed_in_a_build_run_again_ends_in_the_triggerer_too():
    """A night run again (its tasks cleared) builds once more and reports again: no node is built twice."""
    events = _run(_trigger(GOOD, try_number=2))
    assert len(events) == 1 and isinstance(events[0], TaskSuccessEvent)


def test_the_node_task_fails_its_first_try_naming_the_tests_that_did_not_pass():
    from airflow.sdk.exceptions import AirflowException

    from logistics_etl.orchestration.dbt_nodes import DbtNodeTask
    from logistics_etl.settings import PROJECT_ROOT

    task = DbtNodeTask(task_id="brz_carriers", dbt_unique_id=CARRIERS, project_dir=str(PROJECT_ROOT),
                       profile_config=None)
    context = {"ti": SimpleNamespace(try_number=1)}
    with pytest.raises(AirflowException) as failed:
        task.execute_complete(context, {"report": {**GOOD, "tests": {"not_null_x": "fail"}}})
    assert str(failed.value) == (f"Model '{CARRIERS}' was built, but its tests did not all pass: "
                                 "not_null_x (fail)")
    assert task.execute_complete(context, {"report": GOOD}) is None
