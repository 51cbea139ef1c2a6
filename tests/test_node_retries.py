"""What a node task's retry does with the states of its parents' tasks (logistics_etl/orchestration/node_retries.py).

Two end-to-end tests run real retries in `airflow dags test` (`test_pipeline_e2e.py`): parents that fail for
good (`test_a_failing_model_or_test_...`) and a parent that recovers on its retry
(`test_a_model_that_fails_in_the_build_and_then_recovers_...`); a third runs a recovering parent under the
real scheduler (the night made good at the end of `test_dag_end_to_end_...`). Which states a retry meets there depends
on the order the retries come in, so the decision is checked here for every state a parent's task can be
in, on the states that Airflow's execution API would return, given directly, with a stand-in for the
node task (its label, node, retry delay, logger and parents: the attributes `check_parents` reads).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from airflow.sdk.exceptions import AirflowFailException, AirflowRescheduleException

from logistics_etl.orchestration.node_retries import check_parents

PARENTS = ["process_silver_layer.slv_orders", "process_gold_layer.dim_customer"]


def node_task(parents: list[str], retry_delay: timedelta = timedelta(minutes=2)) -> SimpleNamespace:
    return SimpleNamespace(resource_label="Model", dbt_unique_id="model.logistics_warehouse.fct_shipments",
                           retry_delay=retry_delay, log=logging.getLogger("test"), parent_task_ids=parents)


CONTEXT = {"ti": SimpleNamespace(dag_id="medallion_architecture_etl"), "run_id": "scheduled__2026-12-01"}


def test_a_retry_builds_once_every_parent_task_has_succeeded():
    assert check_parents(node_task(PARENTS), CONTEXT, dict.fromkeys(PARENTS, "success")) is None
    assert check_parents(node_task([]), CONTEXT, {}) is None, "a node without parents (bronze) builds"


@pytest.mark.parametrize("state", ["up_for_retry", "queued", "scheduled", "running", "up_for_reschedule", None])
def test_a_retry_waits_while_a_parent_may_still_succeed(state, caplog):
    """Rescheduled, which uses no try and frees the task's slot, to look again after its retry delay, at most
    a minute later."""
    states = {PARENTS[0]: "success", PARENTS[1]: state}
    before = datetime.now(UTC)
    with caplog.at_level(logging.INFO, logger="test"), pytest.raises(AirflowRescheduleException) as wait:
        check_parents(node_task(PARENTS), CONTEXT, states)
    assert before + timedelta(seconds=60) <= wait.value.reschedule_date <= datetime.now(UTC) + timedelta(seconds=60)
    assert (f"its retry waits until the task of its parent {PARENTS[1]} ({state or 'no state yet'}) has "
            "succeeded in this run") in caplog.text
    with caplog.at_level(logging.INFO, logger="test"), pytest.raises(AirflowRescheduleException):
        check_parents(node_task(PARENTS), CONTEXT, dict.fromkeys(PARENTS, state))
    assert f"the tasks of its parents {PARENTS[1]} ({state or 'no state yet'}), {PARENTS[0]}" in caplog.text
    assert "have succeeded in this run (building it now would read their previous tables)" in caplog.text
    with pytest.raises(AirflowRescheduleException) as soon:
        check_parents(node_task(PARENTS, timedelta(seconds=5)), CONTEXT, states)
    assert soon.value.reschedule_date <= datetime.now(UTC) + timedelta(seconds=5)


@pytest.mark.parametrize("state", ["failed", "upstream_failed", "skipped", "removed"])
def test_a_retry_fails_at_once_when_a_parent_task_has_ended_without_success(state):
    """No more tries: nothing can make that parent succeed in this run but a person clearing it."""
    states = {PARENTS[0]: state, PARENTS[1]: "up_for_retry"}
    with pytest.raises(AirflowFailException) as failed:
        check_parents(node_task(PARENTS), CONTEXT, states)
    assert str(failed.value) == (
        f"Model 'model.logistics_warehouse.fct_shipments' was not built on this retry: the task of its parent "
        f"{PARENTS[0]} ({state}) did not succeed in this run, and building it now would read its previous table. "
        "Once it has succeeded (fix, then clear it), clear this task too.")
    states = dict.fromkeys(PARENTS, state)
    with pytest.raises(AirflowFailException) as failed:
        check_parents(node_task(PARENTS), CONTEXT, states)
    assert f"the tasks of its parents {PARENTS[1]} ({state}), {PARENTS[0]} ({state}) did not" in str(failed.value)
    assert str(failed.value).endswith("read their previous tables. Once they have succeeded (fix, then clear "
                                      "them), clear this task too.")
