"""What the run's last task, `fail_the_run`, makes of the states of the tasks before it
(logistics_etl/orchestration/run_verdict.py), in a worker (`judge`) and in the triggerer (`VerdictTrigger`).

The end-to-end tests in `test_pipeline_e2e.py` run it for real in `airflow dags test`: after a failed extract
and after failing models (one e-mail, naming every failed task), and on a night whose failed build its node
tasks made good (skipped, no e-mail). Here the decision is checked on every state a task can end in, given
directly as Airflow's execution API returns them, with a stand-in for the task and its task instance (the
attributes `judge` reads).
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from logistics_etl.orchestration.run_verdict import RunFailed, judge

BASE = "http://airflow.example/dags/medallion_architecture_etl/runs/scheduled__2026-12-01T02%3A00%3A00%2B00%3A00"
EXTRACT = "extract_from_sqlserver.extract_vehicles"
MODEL = "process_silver_layer.slv_vehicles"
BUILD = "dbt_build"


def context(*before: str) -> dict:
    ti = SimpleNamespace(dag_id="medallion_architecture_etl", task_id="fail_the_run",
                         log_url=f"{BASE}/tasks/fail_the_run?try_number=1")
    return {"ti": ti, "task": SimpleNamespace(upstream_task_ids=set(before)),
            "run_id": "scheduled__2026-12-01T02:00:00+00:00"}


def test_it_fails_the_run_naming_every_task_before_it_that_failed():
    """Every failed task, with a link to its log; tasks that were skipped or upstream_failed after them are
    not named (their logs say nothing of the cause), nor the failed dbt build, which is not before it (the
    node tasks after the build name what failed). No retry: `RunFailed` is an AirflowFailException."""
    states = {EXTRACT: "failed", MODEL: "failed", "process_gold_layer.dim_vehicle": "upstream_failed",
              "process_bronze_layer.brz_orders": "success", "process_gold_layer.kpi": "skipped",
              "process_gold_layer.old": "removed", BUILD: "failed", "fail_the_run": "running"}
    with pytest.raises(RunFailed) as failed:
        judge(context(*(set(states) - {BUILD, "fail_the_run"})), states)
    assert isinstance(failed.value, AirflowFailException)
    assert failed.value.failed == [{"task_id": EXTRACT, "log_url": f"{BASE}/tasks/{EXTRACT}"},
                                   {"task_id": MODEL, "log_url": f"{BASE}/tasks/{MODEL}"}]
    assert str(failed.value) == (f"this run failed: {EXTRACT} (failed), {MODEL} (failed); each failed task's "
                                 "log says why")


@pytest.mark.parametrize("state", ["success", "skipped", "upstream_failed", "removed"])
def test_it_is_skipped_when_no_task_before_it_failed(state):
    """The run stands, green, and no e-mail is sent: a good night; or a night whose failed dbt build (not
    before it) its node tasks made good on their retries."""
    states = {EXTRACT: "success", MODEL: state, BUILD: "failed", "fail_the_run": "running"}
    with pytest.raises(AirflowSkipException, match="no task of this run failed"):
        judge(context(EXTRACT, MODEL), states)


@pytest.mark.parametrize("state", ["up_for_retry", "running", "queued", "scheduled", "deferred", None])
def test_it_waits_until_every_task_before_it_has_ended(state):
    """It starts at the first failure (`one_failed`) but names every failed task: until the others have ended it
    looks again shortly (rescheduled: no try used)."""
    from airflow.sdk.exceptions import AirflowRescheduleException

    states = {EXTRACT: "failed", MODEL: state}
    with pytest.raises(AirflowRescheduleException):
        judge(context(EXTRACT, MODEL), states)


def _verdict(states: dict[str, str] | list[dict[str, str]]) -> list:
    """`VerdictTrigger` as the triggerer runs it, with a stand-in for the task instance the triggerer gives it
    (whose `get_task_states` answers `states`, as the execution API would) and for its task."""
    import asyncio

    from logistics_etl.orchestration.run_verdict import VerdictTrigger

    looks = list(states) if isinstance(states, list) else [states]

    def get_task_states(dag_id, task_ids, run_ids):
        now = looks.pop(0) if len(looks) > 1 else looks[0]
        return {run_ids[0]: {t: now[t] for t in task_ids}}

    trigger = VerdictTrigger()
    ti = SimpleNamespace(dag_id="medallion_architecture_etl", task_id="fail_the_run",
                         run_id="scheduled__2026-12-01T02:00:00+00:00",
                         task=SimpleNamespace(upstream_task_ids=set(looks[0]), template_fields=(), template_ext=(),
                                              start_trigger_args=None),
                         get_task_states=get_task_states)
    trigger.task_instance = ti

    async def collect():
        return [event async for event in trigger.run()]

    return asyncio.run(collect())


def test_a_good_night_is_judged_and_ended_in_the_triggerer():
    from airflow.triggers.base import TaskSkippedEvent

    events = _verdict({EXTRACT: "success", MODEL: "skipped"})
    assert len(events) == 1 and isinstance(events[0], TaskSkippedEvent)


def test_a_failed_night_goes_to_a_worker_which_fails_the_task_and_sends_the_e_mail(monkeypatch):
    """Once every task has ended, naming each that failed: the model failed for good after the extract did."""
    from airflow.triggers.base import TaskSkippedEvent

    from logistics_etl.orchestration import run_verdict

    monkeypatch.setattr(run_verdict, "LOOK_AGAIN", run_verdict.timedelta(seconds=0.01))
    events = _verdict([{EXTRACT: "failed", MODEL: "up_for_retry"}, {EXTRACT: "failed", MODEL: "running"},
                       {EXTRACT: "failed", MODEL: "failed"}])
    assert len(events) == 1 and not isinstance(events[0], TaskSkippedEvent)
    assert events[0].payload == {"failed": [EXTRACT, MODEL]}
