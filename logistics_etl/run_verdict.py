"""The run's last task, `fail_the_run`: the one failure e-mail of a night, and a failed run when a task failed.

Airflow judges a run by its last tasks. After a failed extract every dbt task is skipped (the build never
ran), so without a task of its own the run would end green with one red task. And an e-mail from every task
that fails for good would be a storm on a bad night: a model that fails takes every node after it down (dbt
skips them, cosmos reports each skip as a failure), twenty tasks and more.

So `fail_the_run` follows every task but the dbt build and its gate (their failure is reported node by node,
and the node tasks' retries may make it good), with the trigger rule `all_done`: it runs once, when every
task before it has ended, however they ended, and (`judge`):

- when a task before it has failed (its retries spent), it fails with `RunFailed`, naming every such task:
  the run is failed, and its failure callback sends the night's one e-mail, with a link to each one's log;
- otherwise it is skipped, and the run is green. A failed dbt build is not named: the node tasks after it
  name what failed, and when their retries have built every node the night was made good.

It runs on every night, a task that only reads the run's states; `one_failed` would spare it on a good
night, but would start it as soon as the first task failed, before the rest of the night was known.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from logistics_etl.node_retries import task_states


class RunFailed(AirflowFailException):
    """Tasks of the run failed for good. `failed`: one dict per failed task (`task_id`, `log_url`), for the
    e-mail's template."""

    def __init__(self, failed: list[dict[str, str]]):
        self.failed = failed
        names = ", ".join(f"{t['task_id']} (failed)" for t in failed)
        super().__init__(f"this run failed: {names}; each failed task's log says why")


def judge(context: Any, states: dict[str, str | None] | None = None) -> None:
    """Raise `RunFailed` naming the tasks before this one that failed, or skip when none did. `states`: their
    states (read from the run when None)."""
    ti, before = context["ti"], sorted(context["task"].upstream_task_ids)
    states = states if states is not None else task_states(ti.dag_id, context["run_id"], before)
    failed = [t for t in before if states.get(t) == "failed"]
    if not failed:
        raise AirflowSkipException("no task of this run failed")
    raise RunFailed([{"task_id": t, "log_url": log_url(ti, t)} for t in failed])


def log_url(ti: Any, task_id: str) -> str:
    """The link to a task's log in Airflow's UI, built as Airflow builds the link to the running task's own."""
    own = ti.log_url
    return own[:own.rindex("/tasks/") + len("/tasks/")] + task_id
