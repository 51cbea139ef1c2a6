"""A node task's retry builds its dbt node only on parents that have succeeded in the same run.

In watcher mode a node's task retries by building its node itself (cosmos's fallback, `dbt build --select
<node>`), reading its parents' tables as they are. When a parent failed in the night's build, dbt skipped the
node, and cosmos reports that skip as a failure, so the node's task retries too. Built before its parent's own
retry has succeeded, the node would read the parent's previous table: it would go green on the day before's
data, and if the parent's retry succeeded afterwards the whole run would be green with the node stale.

So a retry first reads the states of its parents' tasks in this run (`check_parents`):

- every parent's task succeeded: the retry builds the node (cosmos's fallback, as before);
- one may still succeed (queued, waiting for its own retry, running): the task is rescheduled, which uses
  no try and frees its slot (DuckDB's one writer), and looks again after its retry delay (at most a minute);
- one ended without success (failed, upstream failed, skipped): the task fails now, without its remaining
  retries, naming the parent: the run is red, and nothing was built on a stale table. Clear the parent and
  this task once the cause is fixed.

A parent is the nearest upstream dbt node with a task of its own (a model, seed or snapshot of any layer),
found through nodes without one (an ephemeral model), from cosmos's dbt graph at parse time (`set_up_retries`).

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


def set_up_retries(groups: list) -> None:
    """Give each node task of the `DbtTaskGroup`s (a watcher sensor with its `model_unique_id`) the ids of its
    parents' tasks, as `parent_task_ids`, and have its retry select tests `buildable` (see the module's
    docstring). Call it once the groups hold their final node tasks."""
    nodes: dict[str, Any] = {}
    for group in groups:
        nodes.update(group.dbt_graph.filtered_nodes)
    sensors = [t for g in groups for t in g.iter_tasks()
               if hasattr(t, "producer_task_id") and getattr(t, "model_unique_id", None)]
    task_of = {t.model_unique_id: t.task_id for t in sensors}
    found: dict[str, set[str]] = {}

    def parents(unique_id: str, seen: frozenset[str]) -> set[str]:
        if unique_id not in found:
            node = nodes.get(unique_id)
            out: set[str] = set()
            for up in (node.depends_on if node else []):
                if up in task_of:
                    out.add(task_of[up])
                elif up not in seen:  # a node without a task of its own: its own parents
                    out |= parents(up, seen | {up})
            found[unique_id] = out
        return found[unique_id]

    for sensor in sensors:
        sensor.parent_task_ids = sorted(parents(sensor.model_unique_id, frozenset({sensor.model_unique_id}))
                                        - {sensor.task_id})
        sensor.indirect_selection = "buildable"  # only on its retry: the sensors run dbt only then


def task_states(dag_id: str, run_id: str, task_ids: list[str] | None = None) -> dict[str, str | None]:
    """The states of some tasks of one run (None: every task), as strings, through the running task's execution
    API (as cosmos reads its producer's); a task without a state is None."""
    from airflow.sdk.execution_time.task_runner import RuntimeTaskInstance

    states = RuntimeTaskInstance.get_task_states(dag_id=dag_id, task_ids=task_ids, run_ids=[run_id])
    by_task = states.get(run_id, {})
    return {t: (None if by_task.get(t) is None else str(getattr(by_task[t], "value", by_task[t])))
            for t in (task_ids if task_ids is not None else by_task)}


def check_parents(sensor: Any, context: Any, states: dict[str, str | None] | None = None) -> None:
    """Return if every parent's task of this run has succeeded; otherwise reschedule the task while a parent
    may still succeed, or fail it (no more retries) when none can. See the module's docstring."""
    task_ids = list(getattr(sensor, "parent_task_ids", None) or [])
    if not task_ids:
        return
    ti = context["ti"]
    states = states if states is not None else task_states(ti.dag_id, context["run_id"], task_ids)
    waiting = {t: states.get(t) for t in task_ids if states.get(t) != SUCCEEDED}
    if not waiting:
        return
    node = f"{sensor._resource_label} '{sensor.model_unique_id}'"
    ended = {t: s for t, s in waiting.items() if s in ENDED}
    if ended:
        one = len(ended) == 1
        raise AirflowFailException(
            f"{node} was not built on this retry: {_parents(ended)} did not succeed in this run, and building "
            f"it now would read {'its previous table' if one else 'their previous tables'}. Once "
            f"{'it has' if one else 'they have'} succeeded (fix, then clear {'it' if one else 'them'}), clear "
            "this task too.")
    delay = max(timedelta(seconds=1), min(sensor.retry_delay or RECHECK_AT_MOST, RECHECK_AT_MOST))
    one = len(waiting) == 1
    sensor.log.info("%s: its retry waits until %s %s succeeded in this run (building it now would read %s); it "
                    "looks again in %s", node, _parents(waiting), "has" if one else "have",
                    "its previous table" if one else "their previous tables", delay)
    raise AirflowRescheduleException(datetime.now(UTC) + delay)


def _parents(states: dict[str, str | None]) -> str:
    """'the task of its parent a (failed)' or 'the tasks of its parents a (failed), b (up_for_retry)'."""
    listed = ", ".join(f"{t} ({s or 'no state yet'})" for t, s in sorted(states.items()))
    return f"the task of its parent {listed}" if len(states) == 1 else f"the tasks of its parents {listed}"
