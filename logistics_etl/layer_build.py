"""The one `dbt build` of cosmos's watcher mode (all three layers: `build_once`), with dbt's events reported
off dbt's threads, and one task per dbt node that reports the node and its tests (`fold_tests_into_their_nodes`).

Cosmos's watcher producer turns every dbt event into JSON and, for each node's start, compile, execute
and finish, pushes an XCom on the thread that runs the node, under one lock: about four Airflow API
calls per node (270 nodes here), each one holding up a dbt thread. Measured on the scale-1 day, that
made the three layer builds 2.7x slower than the same `dbt build` run plain.

`LayerBuildProducer` keeps cosmos's producer (its command, selection, retries, the XCom keys the
per-model sensors read) and changes only how events reach Airflow:

- dbt's callback keeps the events a sensor needs (a node finished, an error, a skip after a failure)
  and queues them; every other event costs one name lookup;
- one publisher thread reports them: a finished model, seed or snapshot as **one** XCom, cosmos's status
  key holding what cosmos spreads over three (the status and outlets, dbt's timing and message, the
  compiled SQL) and, for a node with data tests, their report (`tests_report`: pass or fail, and the tests
  that did not pass, by name): a node with tests is pushed once they are all in (or when the build ends);
  a finished unit test is not reported (no task reads it); errors and skips after a failure go to cosmos's
  own parser;
- dbt prints its usual text log (`--log-format text`), so the task log reads like a terminal run.

The node-start/compile/execute XComs are not sent: each was overwritten by the node's finish. Nor is
each data test's own event, nor cosmos's aggregate of a model's tests: the sensors read tests only in their
model's report. The compiled SQL is read from where dbt writes it for this project
(`target/compiled/<package>/<model path>/...`): cosmos looks under `models/` only, so with
`model-paths: ["dbt_project"]` it found none and logged a warning per model.

`ReportedStatusPoke` is the other side: on a first try a node's sensor reads that one XCom and decides on
it, node and tests: one Airflow API request, where cosmos's `poke` makes four or five (the producer task's
state, dbt's start-up events, the status, the compiled SQL, dbt's event) for the node, and as many again in
its tests' task. cosmos's own `poke` still reads everything it needs of the node from the same key (the extra
fields of the status are ignored), and takes over on a retry (which builds the node and its tests again) or
when a node was not reported. (The deferrable sensors'
trigger would miss the separate event and SQL keys; the DAG's sensors are not deferrable.)
"""

from __future__ import annotations

import gc
import json
import logging
import queue
import threading
from pathlib import Path
from typing import Any

import yaml
from airflow.exceptions import AirflowException
from cosmos.airflow.compatibility import AirflowSkipException
from cosmos.operators._watcher.aggregation import accumulate_test_result
from cosmos.operators._watcher.base import (
    _DBT_ERROR_EVENTS_TYPES,
    BaseConsumerSensor,
    _ensure_subprocess_model_outlet_uris,
    _process_dbt_log_event,
    _rewrite_upstream_failure_skip_status,
)
from cosmos.operators._watcher.state import (
    DBT_UPSTREAM_FAILURE_SKIP_EVENT_NAMES,
    _log_dbt_event,
    get_dbt_event_xcom_key,
    get_status_xcom_key,
    get_xcom_val,
    is_dbt_node_status_skipped,
    is_dbt_node_status_success,
    safe_xcom_push,
)
from cosmos.operators.local import DbtLocalBaseOperator
from cosmos.operators.watcher import DbtProducerWatcherOperator

from logistics_etl.collector import freeze_what_exists
from logistics_etl.node_retries import check_parents

log = logging.getLogger(__name__)

# the nodes with a sensor of their own, each reported as one XCom (`_report_finished_node`)
REPORTED_NODES = frozenset({"model", "seed", "snapshot"})
# what the sensors read: a node's final status, and why it failed or was skipped. Not dbt's start-up lines
# (its version and adapter): cosmos keeps them in an XCom (read and written again per line) that only its
# own `poke` logs, at debug level; they are in the build's task log anyway.
REPORTED_EVENTS = frozenset({"NodeFinished"} | _DBT_ERROR_EVENTS_TYPES | DBT_UPSTREAM_FAILURE_SKIP_EVENT_NAMES)


class LayerBuildProducer(DbtProducerWatcherOperator):
    """cosmos's watcher producer; dbt's threads only queue the events that the sensors read."""

    def run_dbt_runner(self, command: list[str], env: dict[str, str], cwd: str, **kwargs: Any) -> Any:
        context = kwargs.get("context")
        if context is None or context.get("_check_source_freshness"):
            return super().run_dbt_runner(command, env, cwd, **kwargs)
        from google.protobuf.json_format import MessageToJson

        parse = self._make_parse_callable()
        where = {"project_dir": cwd, "context": context}
        events: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        errors: list[BaseException] = []

        def on_event(event: Any) -> None:  # runs on dbt's threads: one set lookup for most events
            if event.info.name in REPORTED_EVENTS:
                events.put(MessageToJson(event, preserving_proto_field_name=True))

        compiled = _CompiledSql(cwd)
        self._held_reports: dict[str, dict] = {}  # a node's report, until its tests are all in
        self._tests_reports: dict[str, dict] = {}  # a node's tests' report, once they are

        def publish() -> None:
            while (line := events.get()) is not None:
                try:
                    event = json.loads(line)
                    node = _finished_node(event)
                    kind = node.get("resource_type") if node else None
                    if kind == "unit_test":  # no task reads it: when one fails, dbt skips its model (whose
                        continue             # task fails), and the failure is in the build's log
                    if kind in REPORTED_NODES:
                        self._report_finished_node(event, node, context, compiled, cwd)
                    elif not (kind == "test" and self._report_finished_test(node, context)):
                        parse(line, where)
                except Exception as exc:  # reported after the build, as cosmos's own callback does
                    self.log.exception("could not report a dbt event to Airflow")
                    errors.append(exc)

        publisher = threading.Thread(target=publish, name="dbt-event-publisher", daemon=True)
        publisher.start()
        self._dbt_runner_callbacks = [on_event]
        freeze_what_exists()  # Airflow, cosmos, the DAG: dbt's collections scan dbt's own objects only
        try:
            result = DbtLocalBaseOperator.run_dbt_runner(self, command, env, cwd, **kwargs)
        finally:
            events.put(None)
            publisher.join()
            for unique_id in list(self._held_reports):  # tests that never finished (the build stopped early):
                self._push_report(unique_id, context, complete=False)  # the node's task says so
            gc.collect()  # dbt's manifest and results, now garbage, are most of what is left to scan
        if errors:
            raise errors[0]
        return result

    def calculate_openlineage_events_completes(self, env: dict, project_dir: Path, dbt_command_line: Any = None,
                                               ) -> bool:
        """OpenLineage events only where something sends them. Cosmos builds them from the build's artifacts
        whenever `openlineage-integration-common` is installed (one of its own dependencies), and on Airflow 3
        only the OpenLineage provider's listener reads them. Without the provider they were thrown away:
        0.3-0.4 s of import in the first build and 0.1 s a build, and a 2 KB warning per snapshot test
        ("Model node connected to test ... not found", 12 in silver's log)."""
        if not _openlineage_provider_installed():
            return False
        return super().calculate_openlineage_events_completes(env, project_dir, dbt_command_line)

    def _report_finished_test(self, node: dict, context: Any) -> bool:
        """A data test finished: record it under each model it tests (a `relationships` test has two); once
        all of a model's tests are in, their report (`tests_report`) goes into the model's one XCom, which is
        pushed then. Cosmos's parser would push each test's own event too, which no task reads (219 API calls
        a run). A test that dbt skipped (its model, or a parent, failed) counts as not passed."""
        unique_id = node.get("unique_id")
        if not self.tests_per_model or not unique_id:
            return False
        # (one publisher thread calls this: no lock)
        for model in accumulate_test_result(unique_id, node.get("node_status"), self.tests_per_model,
                                            self.test_results_per_model):
            results = self.test_results_per_model[model]
            if len(results) == len(self.tests_per_model[model]):
                self._tests_reports[model] = tests_report(results)
                self._push_report(model, context)
        return True

    def _report_finished_node(self, event: dict, node: dict, context: Any, compiled: _CompiledSql,
                              project_dir: str) -> None:
        """A model, seed or snapshot finished: its one XCom, under cosmos's status key, holds the status (a skip
        after an upstream failure turned into a failure, as cosmos's parser does), the outlets, dbt's event
        (timing and message, as cosmos builds it), the compiled SQL and, for a node with data tests, their
        report: it is pushed once they are all in. Its sensor reads just that."""
        unique_id = node["unique_id"]
        status = _rewrite_upstream_failure_skip_status(event, unique_id, node.get("node_status"),
                                                       self._upstream_failure_skipped_ids)
        outlet_uris: list[str] = []
        if self._should_generate_model_uris:
            _ensure_subprocess_model_outlet_uris(self._model_outlet_uris, self._dataset_namespace, project_dir)
            outlet_uris = self._model_outlet_uris.get(unique_id, [])
        dbt_event = _Pushed()
        _process_dbt_log_event(dbt_event, event)  # cosmos's shape of the event, kept rather than pushed
        self._held_reports[unique_id] = {
            "status": status, "outlet_uris": outlet_uris,
            "dbt_event": dbt_event.values.get(get_dbt_event_xcom_key(unique_id)),
            "compiled_sql": compiled.of(unique_id, node.get("node_path"), node.get("resource_type"))}
        self._push_report(unique_id, context)

    def _push_report(self, unique_id: str, context: Any, complete: bool = True) -> None:
        """Push a node's report once it holds all there is to say: the node's outcome and, if the node has data
        tests, their report (`complete=False`: whatever is known when the build ends)."""
        report = self._held_reports.get(unique_id)
        tests = self._tests_reports.get(unique_id)
        if report is None or (complete and tests is None and (self.tests_per_model or {}).get(unique_id)):
            return
        del self._held_reports[unique_id]
        if tests is not None:
            report["tests"] = tests
        safe_xcom_push(task_instance=context["ti"], key=get_status_xcom_key(unique_id), value=report)


def tests_report(results: dict[str, str | None]) -> dict:
    """What a node's task reads of its tests: `pass` when every one passed (or warned), otherwise `fail` and the
    ones that did not pass, by name, with dbt's status for each (`fail`, `error`, or `skipped` when a parent
    failed)."""
    not_passed = {_data_test_name(uid): status for uid, status in sorted(results.items())
                  if not is_dbt_node_status_success(status)}
    return {"status": "fail" if not_passed else "pass", "tests": len(results), "not_passed": not_passed}


def _data_test_name(unique_id: str) -> str:
    """A data test's name from its unique id (`test.<package>.<name>.<hash>`)."""
    parts = unique_id.split(".")
    return parts[2] if len(parts) > 2 else unique_id


def _openlineage_provider_installed() -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec("airflow.providers.openlineage") is not None
    except ModuleNotFoundError:
        return False


def _finished_node(event: dict) -> dict | None:
    """The node of a `NodeFinished` event (dbt's `node_info`), None for any other event."""
    if event.get("info", {}).get("name") != "NodeFinished":
        return None
    return event.get("data", {}).get("node_info") or None


class _Pushed:
    """Stands in for a task instance to keep what cosmos's helpers would push."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.values[key] = value


class _CompiledSql:
    """A model's compiled SQL, from `target/compiled/<package>/<model path>/<node path>` in the project that
    dbt ran in (the model paths read from its `dbt_project.yml` once)."""

    def __init__(self, project_dir: str) -> None:
        self.project_dir = Path(project_dir)
        self._model_paths: list[str] | None = None

    def of(self, unique_id: str, node_path: str | None, resource_type: str | None) -> str | None:
        if resource_type != "model" or not node_path:
            return None
        if self._model_paths is None:
            project = yaml.safe_load((self.project_dir / "dbt_project.yml").read_text()) or {}
            self._model_paths = list(project.get("model-paths") or ["models"])
        package = unique_id.split(".", 2)[1]
        for model_path in self._model_paths:
            path = self.project_dir / "target" / "compiled" / package / model_path / node_path
            if path.is_file():
                return path.read_text(encoding="utf-8").strip() or None
        log.warning("no compiled SQL for %s under %s", unique_id, self.project_dir / "target" / "compiled")
        return None


def use_layer_build_producer(producer: DbtProducerWatcherOperator) -> None:
    """Make cosmos's producer task of a `DbtTaskGroup` a `LayerBuildProducer` (cosmos has no option to
    choose the class; the subclass adds no state, so the instance keeps everything cosmos gave it)."""
    if not isinstance(producer, DbtProducerWatcherOperator):
        raise TypeError(f"{producer.task_id} is a {type(producer).__name__}, not cosmos's watcher producer")
    producer.__class__ = LayerBuildProducer
    producer.log_format = "text"
    producer.dbt_cmd_flags = [*(producer.dbt_cmd_flags or []), "--no-use-colors"]


def build_once(groups: list) -> None:
    """Watcher mode, one `DbtTaskGroup` per layer: the first group's producer builds every group's nodes in
    **one** `dbt build`, as cosmos's watcher is meant to run (one dbt invocation, dbt's threads across the
    whole graph); the later groups keep only their node tasks, which report what that build said of their
    nodes. Each group would otherwise start dbt again for its own build (three start-ups, three
    copies of the project, two more producer tasks and gates: about 1.2 s of a scale-1 day), and a layer would
    wait for every node of the layer before it, where dbt starts a node as soon as its own parents are done.

    Call it after each group's sensors follow their producer (`one_done`) and before the groups are chained.
    """
    producers = [producer_of(group) for group in groups]
    if any(p.exclude or p.selector for p in producers):
        raise ValueError("build_once: the layer groups must select by `select` alone (no exclude, no selector)")
    first, later = producers[0], list(zip(groups[1:], producers[1:], strict=True))
    first.select = " ".join(dict.fromkeys(s for p in producers for s in (p.select or "").split()))
    tests: dict[str, list[str]] = {}  # each model's tests, whose report its task reads
    for p in producers:
        for model, model_tests in (p.tests_per_model or {}).items():
            merged = tests.setdefault(model, [])
            merged += [t for t in model_tests if t not in merged]
    first.tests_per_model = tests
    dag = first.dag
    for group, producer in later:
        gate = dag.get_task(f"{group.group_id}.dbt_producer_watcher_done")
        for task in list(group.iter_tasks()):
            if task is producer or task is gate:
                continue
            if hasattr(task, "producer_task_id"):
                task.producer_task_id = first.task_id
            if producer.task_id in task.upstream_task_ids:  # (the edge itself goes with the producer, below)
                first >> task
        for gone in (producer, gate):
            _drop_task(gone)


def fold_tests_into_their_nodes(groups: list) -> None:
    """Watcher mode: one task per model, seed and snapshot, which reports the node **and its tests**, instead
    of cosmos's two (`<node>.run` and `<node>.test`), as local mode's `TestBehavior.BUILD` tasks do.

    The tests still run inside the one `dbt build`, right after their node, and a failing test still stops
    dbt from building what depends on its node. What changes is where its result shows: the node's own task
    fails, naming each test that did not pass, where it used to be the node's second task. Half as many
    tasks, and every task costs Airflow its life cycle (about 80 ms under `airflow dags test`, a process of
    its own under a scheduler): on the scale-1 day, 51 tasks and about 4 s of a 25-second run.

    A node's task that reports tests retries as `dbt build --select <node>` (the node and its tests), where
    its `run` retried the model alone and the tests' task `dbt test`. Call it after `build_once`.
    """
    for group in groups:
        sensors = [t for t in group.iter_tasks() if hasattr(t, "producer_task_id")]
        nodes = {t.model_unique_id: t for t in sensors if not t.is_test_sensor}
        for tests in (t for t in sensors if t.is_test_sensor):
            node = nodes[tests.model_unique_id]
            _drop_task(tests, successor=node)
            node.reports_tests = True
            node.base_cmd = ["build"]


def _drop_task(task: Any, successor: Any | None = None) -> None:
    """Take `task` out of its DAG with every edge that names it, its task groups' own included (the tasks a
    group as a whole follows or leads: the UI's graph sorts each group by them and fails on a task that is
    gone; cosmos chains each model's group to the next by its last task). With a `successor`, what followed
    `task` follows the successor instead."""
    dag = task.dag
    for up in task.upstream_task_ids:
        dag.get_task(up).downstream_task_ids.discard(task.task_id)
    for down in task.downstream_task_ids:
        follower = dag.get_task(down)
        follower.upstream_task_ids.discard(task.task_id)
        if successor is not None:
            successor >> follower
    _rename_in_group_edges(dag.task_group, task.task_id, successor.task_id if successor is not None else None)
    dag._remove_task(task.task_id)


def _rename_in_group_edges(group: Any, task_id: str, new_id: str | None) -> None:
    """In the edges of `group` and the groups inside it, name `new_id` (or nothing) where they named `task_id`."""
    for ids in (group.upstream_task_ids, group.downstream_task_ids):
        if task_id in ids:
            ids.discard(task_id)
            if new_id is not None:
                ids.add(new_id)
    for child in group.children.values():
        if hasattr(child, "children"):
            _rename_in_group_edges(child, task_id, new_id)


def producer_of(group: Any) -> DbtProducerWatcherOperator:
    """The watcher producer task that cosmos made for a `DbtTaskGroup`."""
    return next(t for t in group.iter_tasks() if t.task_id == f"{group.group_id}.dbt_producer_watcher")


class ReportedStatusPoke:
    """For cosmos's watcher sensors of models, seeds and snapshots (mixed in before the sensor's class): a first
    try that finds its node reported decides on that one XCom (see the module's docstring): the status that
    `LayerBuildProducer` pushed with dbt's event, the compiled SQL and, for a node with data tests, their report.
    It logs the event, shows the SQL as the task's rendered `compiled_sql`, and (a node that reports its tests:
    `fold_tests_into_their_nodes`) fails naming each test that did not pass. A retry, or a node not reported
    yet, takes cosmos's own `poke` (which, on a retry, builds the node and its tests), a retry only once the
    tasks of the node's parents have succeeded in this run (`node_retries`)."""

    reports_tests = False
    parent_task_ids: tuple[str, ...] | list[str] = ()  # its parents' tasks (`node_retries.set_up_retries`)

    def poke(self, context: Any) -> bool:
        ti = context["ti"]
        if ti.try_number > 1:  # a retry builds the node: only on parents that were built in this run
            check_parents(self, context)
        report = self._reported(ti) if ti.try_number == 1 else None
        if not isinstance(report, dict):
            return super().poke(context)
        status, self._outlet_uris = report.get("status"), report.get("outlet_uris", [])
        if report.get("compiled_sql") and hasattr(self, "_override_rtif"):
            self.compiled_sql = report["compiled_sql"]
            self._override_rtif(context)
        _log_dbt_event(report.get("dbt_event"))
        if is_dbt_node_status_skipped(status):
            raise AirflowSkipException(f"{self._resource_label} '{self.model_unique_id}' was skipped by the dbt "
                                       "command.")
        if not is_dbt_node_status_success(status):
            raise AirflowException(f"{self._resource_label} '{self.model_unique_id}' finished with status "
                                   f"'{status}'")
        if self.reports_tests:
            self._check_tests(report.get("tests"))
        return True

    def _reported(self, ti: Any) -> Any:
        """What the build reported of this sensor's node (one API request), or None if it has not."""
        return get_xcom_val(ti, self.producer_task_id, get_status_xcom_key(self.model_unique_id))

    def _check_tests(self, tests: dict | None) -> None:
        """The node was built: fail unless the build reported every one of its data tests as passed."""
        node = f"{self._resource_label} '{self.model_unique_id}'"
        if tests is None:
            raise AirflowException(f"{node} was built, but the dbt build did not report all of its tests: see the "
                                   f"log of {self.producer_task_id}")
        if tests["status"] != "pass":
            failed = ", ".join(f"{name} ({status})" for name, status in tests["not_passed"].items())
            raise AirflowException(f"{node} was built, but its tests did not all pass: {failed}")
        self.log.info("%s: its %s tests passed", node, tests["tests"])


_LEAN_SENSORS: dict[type, type] = {}


def use_reported_status_poke(sensor: BaseConsumerSensor) -> None:
    """Give one of cosmos's watcher sensors the `ReportedStatusPoke` (a subclass of its own class, made once
    per class; it adds no state)."""
    if not isinstance(sensor, BaseConsumerSensor):
        raise TypeError(f"{sensor.task_id} is a {type(sensor).__name__}, not one of cosmos's watcher sensors")
    cls = type(sensor)
    if cls not in _LEAN_SENSORS:
        _LEAN_SENSORS[cls] = type(cls.__name__, (ReportedStatusPoke, cls), {"__module__": __name__})
    sensor.__class__ = _LEAN_SENSORS[cls]
