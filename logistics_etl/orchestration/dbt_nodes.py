"""The night's one `dbt build` and a task per dbt model, seed and snapshot that reports on it.

cosmos renders the dbt graph (one `DbtTaskGroup` per layer, from the manifest); this module gives its
nodes their tasks through cosmos's documented extension point, `RenderConfig.node_converters`:

- `dbt_build` (`DbtBuild`, cosmos's `DbtBuildLocalOperator`) runs one `dbt build` of the three layers. Its cosmos
  `callback` (`publish_build_report`) reads dbt's artifacts (`run_results.json`, `manifest.json`) and
  dbt's JSON log file, and pushes one XCom per model, seed and snapshot: its status, dbt's message, its data
  and unit tests' results and dbt's log lines for the node and its tests.
- `DbtNodeTask` (a subclass of `DbtBuild`) is each node's task. It reads that report: under a scheduler
  it starts, and for a node that passed also ends, in the triggerer (Airflow 3's `start_from_trigger`,
  `NodeReportTrigger`), so it costs no worker process; elsewhere (`airflow dags test`) it reads the report in
  `execute`. A node that failed, or a test of it, fails its own task, naming what failed. Its retry builds the
  node and its tests itself (`dbt build --select <node>`, the operator's own `execute`), once the tasks of its
  parents have succeeded in this run (`node_retries`). A night run again (its tasks cleared) builds once and
  reports again: a node that passed is not built twice.

The contract with cosmos (tested in `tests/test_dbt_nodes.py`): the converter's keyword arguments, the
`callback` called with the project folder dbt ran in, before a failed build raises.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from airflow.sdk.exceptions import AirflowException
from airflow.triggers.base import StartTriggerArgs
from cosmos.operators.local import DbtBuildLocalOperator

from logistics_etl.orchestration.node_report import NODE_KINDS, log_lines, passed, reasons, resource_label
from logistics_etl.orchestration.node_retries import check_parents

log = logging.getLogger(__name__)

BUILD_TASK_ID = "dbt_build"
# dbt's log file in JSON, one event a line at info level: its lines per node go into the node's report
DBT_LOG_ENV = {"DBT_LOG_FORMAT_FILE": "json", "DBT_LOG_LEVEL_FILE": "info"}


def publish_build_report(project_dir: str, context: Any = None, **_: Any) -> None:
    """cosmos `callback` of the build: push each model's, seed's and snapshot's report as an XCom keyed by its
    unique id (see the module docstring). Runs after dbt, also when the build failed."""
    reports = build_report(Path(project_dir))
    ti = context["ti"]
    for unique_id, report in reports.items():
        ti.xcom_push(key=unique_id, value=report)
    failed = sorted(u for u, r in reports.items() if not passed(r))
    log.info("reported %s dbt nodes to their tasks; %s did not pass%s", len(reports), len(failed),
             f": {', '.join(failed)}" if failed else "")


def build_report(project_dir: Path) -> dict[str, dict]:
    """Per model, seed and snapshot that the build ran: status, message, seconds, its tests' results and dbt's
    log lines, from the artifacts and the log that dbt wrote in `project_dir`."""
    target = project_dir / "target"
    try:
        results = json.loads((target / "run_results.json").read_text())["results"]
        manifest = json.loads((target / "manifest.json").read_text())
    except (OSError, ValueError, KeyError) as exc:
        log.warning("dbt wrote no run results in %s (%s): no node is reported", target, exc)
        return {}
    graph = {**manifest.get("nodes", {}), **manifest.get("unit_tests", {})}
    lines = _log_lines(project_dir / "logs" / "dbt.log")
    reports: dict[str, dict] = {}
    for r in results:
        uid = r["unique_id"]
        if uid.split(".", 1)[0] in NODE_KINDS:
            reports[uid] = {"status": r["status"], "message": r.get("message"),
                            "seconds": round(r.get("execution_time") or 0, 3), "tests": {},
                            "lines": lines.get(uid, [])}
    for r in results:
        uid = r["unique_id"]
        if uid.split(".", 1)[0] in ("test", "unit_test"):
            for parent in graph.get(uid, {}).get("depends_on", {}).get("nodes", []):
                if parent in reports:
                    reports[parent]["tests"][_test_name(uid)] = r["status"]
                    reports[parent]["lines"] += lines.get(uid, [])
    return reports


def _test_name(unique_id: str) -> str:
    """A test's name from its unique id (`test.<package>.<name>.<hash>`, `unit_test.<package>.<model>.<name>`)."""
    parts = unique_id.split(".")
    return ".".join(parts[2:4]) if parts[0] == "unit_test" else parts[2] if len(parts) > 2 else unique_id


def _log_lines(path: Path) -> dict[str, list[str]]:
    """dbt's messages per node, from its JSON log file (empty when there is none)."""
    out: dict[str, list[str]] = {}
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return out
    for line in text.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        uid = ((event.get("data") or {}).get("node_info") or {}).get("unique_id")
        msg = (event.get("info") or {}).get("msg")
        if uid and msg:
            out.setdefault(uid, []).append(msg)
    return out


class DbtBuild(DbtBuildLocalOperator):
    """cosmos's `dbt build` operator, without OpenLineage events where nothing would send them: cosmos builds them
    from dbt's artifacts whenever `openlineage-integration-common` (one of its own dependencies) is installed, but
    on Airflow 3 only the OpenLineage provider reads them; without it they cost every dbt task the processor's
    import and a pass over the artifacts, and log a warning per snapshot test."""

    def calculate_openlineage_events_completes(self, env: dict, project_dir: Path, dbt_command_line: Any = None
                                               ) -> bool:
        if not _openlineage_provider_installed():
            return False
        return super().calculate_openlineage_events_completes(env, project_dir, dbt_command_line)


def _openlineage_provider_installed() -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec("airflow.providers.openlineage") is not None
    except ModuleNotFoundError:
        return False


class DbtNodeTask(DbtBuild):
    """One dbt model, seed or snapshot: reports what the night's build said of it and its tests; a retry of a
    node that did not pass builds it (see the module docstring)."""

    template_fields = (*DbtBuild.template_fields, "build_report")
    start_from_trigger = True
    start_trigger_args = StartTriggerArgs(trigger_cls="logistics_etl.orchestration.node_report.NodeReportTrigger",
                                          trigger_kwargs={}, next_method="execute_complete", timeout=None)

    def __init__(self, *, dbt_unique_id: str, build_task_id: str = BUILD_TASK_ID, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.dbt_unique_id = dbt_unique_id
        self.parent_task_ids: list[str] = []  # its parents' tasks (NodeTasks.link_parents)
        # read when the task starts (in the triggerer under a scheduler): the build's report of this node. One XCom
        # of an unmapped task (`map_indexes=-1`): the triggerer serves that request, not a pull of every map index
        self.build_report = (f"{{{{ ti.xcom_pull(task_ids='{build_task_id}', key='{dbt_unique_id}', map_indexes=-1)"
                             " | tojson }}")
        self.start_trigger_args = replace(self.start_trigger_args, trigger_kwargs={
            "build_report": self.build_report, "dbt_unique_id": dbt_unique_id})
        self.indirect_selection = "buildable"  # a retry's tests: those whose other parents come before it

    @property
    def resource_label(self) -> str:
        return resource_label(self.dbt_unique_id)

    def execute(self, context: Any) -> Any:
        return self._report_or_build(context, json.loads(self.build_report or "null"))

    def execute_complete(self, context: Any, event: dict | None = None) -> Any:
        return self._report_or_build(context, (event or {}).get("report"))

    def _report_or_build(self, context: Any, report: dict | None) -> Any:
        """The report decides, whatever the try: a node that passed in the night's build (the first time, or in
        a build run again since) succeeds from the report; one that did not fails on its first try, naming what
        failed, and builds itself on a retry."""
        for line in log_lines(self.dbt_unique_id, report):
            self.log.info("%s", line)
        if passed(report):
            return None
        ti = context["ti"]
        if ti.try_number <= 1:
            raise AirflowException(f"{self.resource_label} '{self.dbt_unique_id}' {reasons(report)}")
        check_parents(self, context)  # only on parents built in this run
        self.log.info("Retry attempt #%s – Running model '%s' (dbt build of the node and its tests)",
                      ti.try_number - 1, self.dbt_unique_id)
        return super().execute(context)


@dataclass
class NodeTasks:
    """The `node_converters` that give each model, seed and snapshot a `DbtNodeTask`, and what they made."""

    build_task_id: str = BUILD_TASK_ID
    tasks: dict[str, DbtNodeTask] = field(default_factory=dict)  # unique id -> task
    depends_on: dict[str, list[str]] = field(default_factory=dict)

    @property
    def converters(self) -> dict:
        """For `RenderConfig.node_converters` (a plain function: cosmos copies the render configuration, and a
        copy of a bound method would register its tasks in a copy of this object)."""
        from cosmos.constants import DbtResourceType

        def convert(*, dag: Any, task_group: Any, node: Any, task_args: dict, **_: Any) -> DbtNodeTask:
            """cosmos calls this for each model, seed and snapshot of a `DbtTaskGroup` (`node`: its `DbtNode`)."""
            select = f"fqn:{'.'.join(node.fqn)}" if node.fqn else node.resource_name
            task = DbtNodeTask(task_id=node.name, dag=dag, task_group=task_group, dbt_unique_id=node.unique_id,
                               build_task_id=self.build_task_id, select=select, trigger_rule="one_done",
                               **task_args)
            self.tasks[node.unique_id] = task
            self.depends_on[node.unique_id] = list(node.depends_on)
            return task

        return {DbtResourceType(kind): convert for kind in NODE_KINDS}

    def link_parents(self) -> None:
        """Give each node task the tasks of its parents in the dbt graph, in any layer (its retry waits for them)."""
        for unique_id, task in self.tasks.items():
            task.parent_task_ids = sorted(self.tasks[p].task_id for p in self.depends_on[unique_id]
                                          if p in self.tasks and p != unique_id)

    def follow(self, build: Any) -> None:
        """Every node task follows the build directly: with its trigger rule `one_done` it runs once the build has
        ended, however it ended (a failed build is reported node by node; a build that never ran, after a failed
        extract, skips them), not after its parents' tasks, which are its upstream tasks only for the graph."""
        for task in self.tasks.values():
            build >> task
