"""What the night's `dbt build` reported of one model, seed or snapshot, and the trigger that reads it.

A report (pushed by `dbt_nodes.publish_build_report`) is a dict: `status` (dbt's: success, error, skipped),
`message`, `seconds`, `tests` (test name -> dbt's status) and `lines` (dbt's log lines of the node and its
tests). `NodeReportTrigger` runs a node task in the triggerer: a node that passed ends its task there
(`TaskSuccessEvent`, no worker process); anything else resumes the task on a worker, which fails it naming what
failed or, on a retry, builds the node. This module imports no more than Airflow's trigger base:
the triggerer loads it.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TaskSuccessEvent, TriggerEvent

NODE_KINDS = ("model", "seed", "snapshot")
TEST_PASSED = frozenset({"pass", "warn", "success"})


def resource_label(unique_id: str) -> str:
    return unique_id.split(".", 1)[0].capitalize()


def passed(report: dict | None) -> bool:
    """The node was built and every one of its tests passed (or warned)."""
    return bool(report) and report.get("status") == "success" and all(
        s in TEST_PASSED for s in report.get("tests", {}).values())


def reasons(report: dict | None) -> str:
    """Why a report did not pass, as the end of a sentence that starts with the node."""
    if not report:
        return "was not reported by the night's dbt build: its log (task dbt_build) says why"
    status = report.get("status")
    if status == "skipped":
        return "was skipped by the dbt build: a node it depends on failed (see the log of task dbt_build)"
    if status != "success":
        return f"finished with status '{status}': {report.get('message') or 'see the log of task dbt_build'}"
    failed = ", ".join(f"{name} ({s})" for name, s in sorted(report["tests"].items()) if s not in TEST_PASSED)
    return f"was built, but its tests did not all pass: {failed}"


def log_lines(unique_id: str, report: dict | None) -> list[str]:
    """What a node's task logs of its report: dbt's own lines for the node and its tests, then, when it passed, a
    summary."""
    lines = list((report or {}).get("lines", []))
    if passed(report):
        lines.append(f"{resource_label(unique_id)} '{unique_id}': {report.get('message') or report['status']} in "
                     f"{report.get('seconds')}s; its {len(report['tests'])} tests passed")
    return lines


class NodeReportTrigger(BaseTrigger):
    """Ends a node task in the triggerer when the build's report of it passed (`build_report`: the report as
    JSON, rendered from the build's XCom by the triggerer); otherwise hands the task back to a worker with the
    report."""

    def __init__(self, build_report: str = "null", dbt_unique_id: str = "") -> None:
        super().__init__()
        self.build_report = build_report
        self.dbt_unique_id = dbt_unique_id

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (f"{type(self).__module__}.{type(self).__qualname__}",
                {"build_report": self.build_report, "dbt_unique_id": self.dbt_unique_id})

    async def run(self) -> AsyncIterator[TriggerEvent]:
        report = json.loads(self.build_report or "null")
        if passed(report):
            for line in log_lines(self.dbt_unique_id, report):
                self.log.info("%s", line)
            yield TaskSuccessEvent()
            return
        yield TriggerEvent({"report": report})
