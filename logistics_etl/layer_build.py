"""The one `dbt build` of a layer in cosmos's watcher mode, with dbt's events reported off dbt's threads.

Cosmos's watcher producer turns every dbt event into JSON and, for each node's start, compile, execute
and finish, pushes an XCom on the thread that runs the node, under one lock: about four Airflow API
calls per node (270 nodes here), each one holding up a dbt thread. Measured on the scale-1 day, that
made the three layer builds 2.7x slower than the same `dbt build` run plain.

`LayerBuildProducer` keeps cosmos's producer (its command, selection, retries, the XCom keys the
per-model sensors read) and changes only how events reach Airflow:

- dbt's callback keeps the events a sensor or the log needs (a node finished, an error, the dbt and
  adapter versions) and queues them; every other event costs one name lookup;
- one publisher thread hands them to cosmos's own parser, which pushes the same XComs a node's last
  event would have left (its status, the aggregate of its tests, its timing and message); a finished
  data test only adds to its model's aggregate, which is all a sensor reads of it;
- dbt prints its usual text log (`--log-format text`), so the task log reads like a terminal run.

The node-start/compile/execute XComs are not sent: each was overwritten by the node's finish. Nor is
each data test's own event: the sensors read tests only through their model's aggregate.

`ReportedStatusPoke` is the other side: on a first try the per-model sensors read only what the build
reported of their node (status, compiled SQL, dbt's message), not also the producer task's state and (model
sensors) dbt's start-up events: one or two Airflow API calls fewer for each of the 102 sensors.
"""

from __future__ import annotations

import gc
import json
import queue
import threading
from typing import Any

from airflow.exceptions import AirflowException
from cosmos.airflow.compatibility import AirflowSkipException
from cosmos.operators._watcher.aggregation import push_test_result_or_aggregate
from cosmos.operators._watcher.base import _DBT_ERROR_EVENTS_TYPES, BaseConsumerSensor
from cosmos.operators._watcher.state import (
    DBT_UPSTREAM_FAILURE_SKIP_EVENT_NAMES,
    _log_dbt_event,
    get_dbt_event_xcom_key,
    get_xcom_val,
    is_dbt_node_status_skipped,
    is_dbt_node_status_success,
)
from cosmos.operators.local import DbtLocalBaseOperator
from cosmos.operators.watcher import DbtProducerWatcherOperator

from logistics_etl.collector import freeze_what_exists

# what the sensors read: a node's final status, why it failed or was skipped, and dbt's start-up lines
REPORTED_EVENTS = frozenset({"NodeFinished", "MainReportVersion", "AdapterRegistered"}
                            | _DBT_ERROR_EVENTS_TYPES | DBT_UPSTREAM_FAILURE_SKIP_EVENT_NAMES)


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

        def publish() -> None:
            while (line := events.get()) is not None:
                try:
                    if not self._report_finished_test(line, context):
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
            gc.collect()  # dbt's manifest and results, now garbage, are most of what is left to scan
        if errors:
            raise errors[0]
        return result

    def _report_finished_test(self, line: str, context: Any) -> bool:
        """A data test finished: only its model's aggregate is read (by the model's `test` sensor), so push
        that alone. Cosmos's parser would also push the test's own event, which no task reads (219 API
        calls a run). A test skipped after an upstream failure goes through the parser, which fails it."""
        event = json.loads(line)
        node = event.get("data", {}).get("node_info") or {}
        if event.get("info", {}).get("name") != "NodeFinished" or node.get("resource_type") != "test":
            return False
        status, unique_id = node.get("node_status"), node.get("unique_id")
        if not self.tests_per_model or (is_dbt_node_status_skipped(status)
                                        and unique_id in self._upstream_failure_skipped_ids):
            return False
        push_test_result_or_aggregate(unique_id, status, self.tests_per_model, self.test_results_per_model,
                                      context["ti"])
        return True


def use_layer_build_producer(producer: DbtProducerWatcherOperator) -> None:
    """Make cosmos's producer task of a `DbtTaskGroup` a `LayerBuildProducer` (cosmos has no option to
    choose the class; the subclass adds no state, so the instance keeps everything cosmos gave it)."""
    if not isinstance(producer, DbtProducerWatcherOperator):
        raise TypeError(f"{producer.task_id} is a {type(producer).__name__}, not cosmos's watcher producer")
    producer.__class__ = LayerBuildProducer
    producer.log_format = "text"
    producer.dbt_cmd_flags = [*(producer.dbt_cmd_flags or []), "--no-use-colors"]


class ReportedStatusPoke:
    """For cosmos's watcher sensors (mixed in before the sensor's class): a first try that finds its node's
    status reported reads just that, its compiled SQL and its dbt event, as cosmos's `poke` does, and
    decides. It skips the two other calls cosmos's `poke` makes first, each an Airflow API request: the
    producer task's state (used only on a retry or before the node is reported) and dbt's start-up events
    (logged at debug level). A retry, or a node not reported yet, takes cosmos's own `poke`."""

    def poke(self, context: Any) -> bool:
        ti = context["ti"]
        status = self._get_node_status(ti, context) if ti.try_number == 1 else None
        if status is None:
            return super().poke(context)
        self._cache_compiled_sql(ti, context)
        _log_dbt_event(get_xcom_val(ti, self.producer_task_id, get_dbt_event_xcom_key(self.model_unique_id)))
        if is_dbt_node_status_skipped(status):
            raise AirflowSkipException(f"{self._resource_label} '{self.model_unique_id}' was skipped by the dbt "
                                       "command.")
        if is_dbt_node_status_success(status):
            return True
        raise AirflowException(f"{self._resource_label} '{self.model_unique_id}' finished with status '{status}'")


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
