"""A node task's retry builds its dbt node only on parents that have succeeded in the same run.

A node's task (`dbt_nodes.DbtNodeTask`) retries by building its node itself (`dbt build --select <node>`),
reading its parents' tables as they are. When a parent failed in the night's build, dbt skipped the node, and
its task reports that skip as a failure, so the node's task retries too. Built before its parent's own
retry has succeeded, the node would read the parent's previous table: it would go green on the day before's
data, and if the parent's retry succeeded afterwards the whole run would be green with the node stale.

So a retry first reads the states of its parents' tasks in this run (`check_parents`):

- every parent's task succeeded: the retry builds the node;
- one may still succeed (queued, waiting for its own retry, running): the task is rescheduled, which uses
  no try and frees its slot (DuckDB's one writer), and looks again after its retry delay (at most a minute);
- one ended without success (failed, upstream failed, skipped): the task fails now, without its remaining
  retries, naming the parent: the run is red, and nothing was built on a stale table. Clear the parent and
  this task once the cause is fixed.

A parent is a model, seed or snapshot of any layer that the node depends on in the dbt manifest
(`dbt_nodes.NodeTasks.link_parents`, at parse time).

A node's tests are reported by its task, and a test with two parents (a `relationships` test) by both
parents' tasks. Its retry runs with dbt's `--indirect-selection buildable`: the node and the tests whose
other parents come before it. A test that also reads a node after it (`slv_vehicles`' test that each of
its carriers is in `slv_carriers` is a test of `slv_carriers` too) is left to that node's retry, which runs
it once that node has been rebuilt, instead of reading a table that is not yet rebuilt (or, on a first
night, does not exist).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk.exceptions import AirflowFailException, AirflowRescheduleException

SUCCEEDED = "success"
# a parent's task in one of these states will not succeed in this run unless someone clears it
ENDED = frozenset({"failed", "upstream_failed", "skipped", "removed"})
RECHECK_AT_MOST = timedelta(minutes=1)


def task_states(context: Any, task_ids: list[str] | None = None) -> dict[str, str | None]:
    """The states of some tasks of this run (None: every task), as strings; a task without a state is None. Read
    through the running task instance (`RuntimeTaskInstanceProtocol.get_task_states`)."""
    ti = context["ti"]
    states = ti.get_task_states(dag_id=ti.dag_id, task_ids=task_ids, run_ids=[context["run_id"]])
    by_task = states.get(context["run_id"], {})
    return {t: (None if by_task.get(t) is None else str(getattr(by_task[t], "value", by_task[t])))
            for t in (task_ids if task_ids is not None else by_task)}


def check_parents(task: Any, context: Any, states: dict[str, str | None] | None = None) -> None:
    """Return if every parent's task of this run has succeeded; otherwise reschedule the task while a parent
    may still succeed, or fail it (no more retries) when none can. See the module's docstring. `task`: a node
    task (its `resource_label`, `dbt_unique_id`, `parent_task_ids`, `retry_delay` and `log`)."""
    task_ids = list(getattr(task, "parent_task_ids", None) or [])
    if not task_ids:
        return
    states = states if states is not None else task_states(context, task_ids)
    waiting = {t: states.get(t) for t in task_ids if states.get(t) != SUCCEEDED}
    if not waiting:
        return
    node = f"{task.resource_label} '{task.dbt_unique_id}'"
    ended = {t: s for t, s in waiting.items() if s in ENDED}
    if ended:
        one = len(ended) == 1
        raise AirflowFailException(
            f"{node} was not built on this retry: {_parents(ended)} did not succeed in this run, and building "
            f"it now would read {'its previous table' if one else 'their previous tables'}. Once "
            f"{'it has' if one else 'they have'} succeeded (fix, then clear {'it' if one else 'them'}), clear "
            "this task too.")
    delay = max(timedelta(seconds=1), min(task.retry_delay or RECHECK_AT_MOST, RECHECK_AT_MOST))
    one = len(waiting) == 1
    task.log.info("%s: its retry waits until %s %s succeeded in this run (building it now would read %s); it "
                    "looks again in %s", node, _parents(waiting), "has" if one else "have",
                    "its previous table" if one else "their previous tables", delay)
    raise AirflowRescheduleException(datetime.now(UTC) + delay)


def _parents(states: dict[str, str | None]) -> str:
    """'the task of its parent a (failed)' or 'the tasks of its parents a (failed), b (up_for_retry)'."""
    listed = ", ".join(f"{t} ({s or 'no state yet'})" for t, s in sorted(states.items()))
    return f"the task of its parent {listed}" if len(states) == 1 else f"the tasks of its parents {listed}"
