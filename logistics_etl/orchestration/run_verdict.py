"""The run's last task, `fail_the_run`: the one failure e-mail of a night, and a failed run when a task failed.

Airflow judges a run by its last tasks. After a failed extract every dbt task is skipped (the build never
ran), so without a task of its own the run would end green with one red task. And an e-mail from every task
that fails for good would be a storm on a bad night: a model that fails takes every node after it down (dbt
skips them, and their tasks report the skip as a failure), twenty tasks and more.

So `fail_the_run` follows every task but the dbt build (its failure is reported node by node, and the node
tasks' retries may make it good), with the trigger rule `one_failed`:

- on a night where no task fails for good, the scheduler skips it as soon as every task before it has ended:
  nothing runs, and the run is green;
- when a task fails for good (its retries spent), it starts, waits until every task before it has ended
  (`judge`; in the triggerer under a scheduler, `VerdictTrigger`), and fails with `RunFailed`, naming every
  task that failed: the run is failed, and its failure callback sends the night's one e-mail, with a link to
  each one's log. A failed dbt build is not named: the node tasks after it name what failed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException, AirflowRescheduleException, AirflowSkipException
from airflow.triggers.base import BaseTrigger, StartTriggerArgs, TaskSkippedEvent, TriggerEvent

from logistics_etl.orchestration.node_retries import task_states

# a task in one of these states has ended for this run (unless someone clears it)
ENDED = frozenset({"success", "failed", "skipped", "upstream_failed", "removed"})
LOOK_AGAIN = timedelta(seconds=2)  # how often the verdict looks at tasks that have not ended yet


class RunFailed(AirflowFailException):
    """Tasks of the run failed for good. `failed`: one dict per failed task (`task_id`, `log_url`), for the
    e-mail's template."""

    def __init__(self, failed: list[dict[str, str]]):
        self.failed = failed
        names = ", ".join(f"{t['task_id']} (failed)" for t in failed)
        super().__init__(f"this run failed: {names}; each failed task's log says why")


def failed_tasks(before: list[str], states: dict[str, str | None]) -> list[str]:
    return [t for t in before if states.get(t) == "failed"]


def still_running(before: list[str], states: dict[str, str | None]) -> list[str]:
    return [t for t in before if states.get(t) not in ENDED]


def judge(context: Any, states: dict[str, str | None] | None = None) -> None:
    """Once every task before this one has ended: raise `RunFailed` naming those that failed, or skip when none
    did. Before that, look again shortly (rescheduled: no try used). `states`: their states (read from the run
    when None)."""
    ti, before = context["ti"], sorted(context["task"].upstream_task_ids)
    states = states if states is not None else task_states(context, before)
    if waiting := still_running(before, states):
        raise AirflowRescheduleException(datetime.now(UTC) + LOOK_AGAIN) from RuntimeError(
            f"waiting for {len(waiting)} task(s) to end: {', '.join(waiting[:5])}")
    failed = failed_tasks(before, states)
    if not failed:
        raise AirflowSkipException("no task of this run failed")
    raise RunFailed([{"task_id": t, "log_url": log_url(ti, t)} for t in failed])


def log_url(ti: Any, task_id: str) -> str:
    """The link to a task's log in Airflow's UI, built as Airflow builds the link to the running task's own."""
    own = ti.log_url
    return own[:own.rindex("/tasks/") + len("/tasks/")] + task_id


class VerdictTrigger(BaseTrigger):
    """`fail_the_run` in the triggerer: waits, without a worker, until every task before it has ended; then skips
    the task there when none failed, or hands it to a worker (`RunVerdict.execute_complete`) to fail it and send
    the e-mail."""

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return f"{type(self).__module__}.{type(self).__qualname__}", {}

    async def run(self) -> AsyncIterator[TriggerEvent]:
        ti, before = self.task_instance, sorted(self.task.upstream_task_ids)
        context = {"ti": ti, "run_id": ti.run_id}
        while still_running(before, states := task_states(context, before)):
            await asyncio.sleep(LOOK_AGAIN.total_seconds())
        if not (failed := failed_tasks(before, states)):
            self.log.info("no task of this run failed")
            yield TaskSkippedEvent()
            return
        yield TriggerEvent({"failed": failed})


class RunVerdict(BaseOperator):
    """The run's last task (see the module docstring): starts in the triggerer under a scheduler; under
    `airflow dags test` (which runs every task in its process) it judges in `execute`."""

    start_from_trigger = True
    start_trigger_args = StartTriggerArgs(trigger_cls=f"{__name__}.VerdictTrigger", trigger_kwargs={},
                                          next_method="execute_complete", timeout=None)

    def execute(self, context: Any) -> None:
        judge(context)

    def execute_complete(self, context: Any, event: dict | None = None) -> None:
        judge(context)  # the states again, now: what the trigger saw, unless someone cleared a task since


def failure_notifier(to: str) -> Any:
    """The night's one failure e-mail (Airflow's SMTP notifier), sent when `fail_the_run` fails: every failed
    task, each with a link to its log; or, when `fail_the_run` failed for a reason of its own, that reason."""
    from airflow.providers.smtp.notifications.smtp import SmtpNotifier

    return SmtpNotifier(
        to=to,
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
