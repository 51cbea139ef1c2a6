"""Imports the DAG file in a fresh process and prints what a reviewer checks, as JSON (used by test_dag.py)."""

import importlib.util
import json
import sys
import time

started = time.perf_counter()
# What Airflow has loaded before it parses the DAG file: Airflow and its DagBag (the DAG processor), and the
# plugins, which a task process loads before it parses the file (`task_runner.startup` calls the listener
# manager first). The DAG file's own parse (timed next) is what this project adds to every parse.
import airflow  # noqa: E402,F401
from airflow.dag_processing.dagbag import DagBag  # noqa: E402,F401
from airflow.sdk.listener import get_listener_manager  # noqa: E402

get_listener_manager()
imported = time.perf_counter()
spec = importlib.util.spec_from_file_location("medallion_dag", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
parsed = time.perf_counter()
from airflow.sdk import DAG  # noqa: E402

dag = next(v for v in vars(module).values() if isinstance(v, DAG))
from logistics_etl.orchestration.run_verdict import RunFailed  # noqa: E402

groups = {}
for task in dag.tasks:
    group = task.task_id.split(".")[0] if "." in task.task_id else None
    groups.setdefault(group, []).append(task.task_id)


def upstream_groups(group):
    return sorted({u.split(".")[0] for tid in groups[group] for u in dag.task_dict[tid].upstream_task_ids
                   if u.split(".")[0] != group})


def next_runs(first: str, count: int) -> list[str]:
    """The schedule's next `count` run times (local ISO) from the instant `first`, as the scheduler computes them."""
    import pendulum
    from airflow.serialization.decoders import decode_timetable
    from airflow.serialization.encoders import encode_timetable
    from airflow.timetables.base import TimeRestriction

    # what the scheduler uses: the DAG's timetable as it comes out of serialization
    timetable = decode_timetable(encode_timetable(dag.timetable))
    out, last = [], None
    restriction = TimeRestriction(earliest=pendulum.parse(first), latest=None, catchup=True)
    for _ in range(count):
        info = timetable.next_dagrun_info(last_automated_data_interval=last, restriction=restriction)
        out.append(pendulum.instance(info.run_after).in_timezone(timetable._timezone).isoformat())
        last = info.data_interval
    return out


# the one `dbt build` task (all three layers) and the task of each model, seed and snapshot that reports on it
builds = [t for t in dag.tasks if t.task_id == "dbt_build"]
nodes = [t for t in dag.tasks if hasattr(t, "dbt_unique_id")]
judge = dag.get_task("fail_the_run")  # fails the run when a task has failed for good


def nodes_not_after_build() -> list[str]:
    """Node tasks that could run before (or beside) the dbt build they report on."""
    return [t.task_id for t in nodes if "dbt_build" not in t.upstream_task_ids]


def param_errors(values: dict) -> dict:
    """What the DAG's params say to each conf a run could be triggered with: "ok" or the validation error
    (Airflow merges the conf into a copy of the params and validates it when the run is created)."""
    import copy

    out = {}
    for name, conf in values.items():
        params = copy.deepcopy(dag.params)
        try:
            params.update(conf)
            params.validate()
            out[name] = "ok"
        except Exception as exc:  # noqa: BLE001 - reported to the test, which checks the message
            out[name] = f"{type(exc).__name__}: {exc}"
    return out


def failure_callbacks(task) -> list:
    callbacks = task.on_failure_callback
    return list(callbacks) if isinstance(callbacks, list) else [callbacks] if callbacks else []


def failure_email(exception: BaseException) -> dict:
    """The subject and body of `fail_the_run`'s e-mail for `exception`, rendered as Airflow renders them (a copy
    of the notifier: rendering sets its fields)."""
    import copy
    from types import SimpleNamespace

    notifier = copy.deepcopy(next(c for c in failure_callbacks(judge) if type(c).__name__ == "SmtpNotifier"))
    ti = SimpleNamespace(task_id="fail_the_run", log_url="http://airflow.example/dags/d/runs/r/tasks/fail_the_run")
    notifier.render_template_fields({"dag": dag, "run_id": "scheduled__r", "ti": ti, "exception": exception},
                                    dag.get_template_env())
    return {"subject": notifier.subject, "body": notifier.html_content}


def dangling_task_ids() -> list[str]:
    """Ids that a task or a task group names as a neighbour but that are no task of the DAG (the UI's graph
    fails on one)."""
    out, ids = set(), set(dag.task_dict)

    def walk(node) -> None:
        out.update(f"{node.node_id} -> {t}" for attr in ("upstream_task_ids", "downstream_task_ids")
                   for t in set(getattr(node, attr)) - ids)
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(dag.task_group)
    return sorted(out)


print(json.dumps({
    "dangling_task_ids": dangling_task_ids(),
    "param_checks": param_errors({"all": {}, "two": {"tables": ["Shipments", "Orders"], "full_refresh": True},
                                  "unknown": {"tables": ["Parcels"]}, "twice": {"tables": ["Orders", "Orders"]},
                                  "not_a_list": {"tables": "Orders"}}),
    "builds": [{"task_id": t.task_id, "class": type(t).__name__, "select": t.select, "retries": t.retries,
                "pool": t.pool, "callback": getattr(t.callback, "__name__", str(t.callback))} for t in builds],
    "node_classes": sorted({type(t).__name__ for t in nodes}),
    "node_tasks": {t.task_id: t.dbt_unique_id for t in nodes},
    "node_trigger_rules": sorted({getattr(t.trigger_rule, "value", t.trigger_rule) for t in nodes}),
    "node_pools": sorted({t.pool for t in nodes}),
    "node_starts_from_trigger": sorted({bool(t.start_from_trigger) for t in nodes}),
    "node_selects": sorted({t.select.split(".")[-1] == t.task_id.split(".")[-1] for t in nodes}),
    "node_indirect_selection": sorted({str(t.indirect_selection) for t in nodes}),
    "nodes_not_after_build": nodes_not_after_build(),
    # a node task's retry waits for these tasks of its parents (logistics_etl/orchestration/node_retries.py)
    "node_parents": {t.task_id: list(t.parent_task_ids) for t in nodes},
    "pools": {t.task_id: t.pool for t in dag.tasks},
    "retry_delays": sorted({str(t.retry_delay) for t in dag.tasks}),
    "next_runs": {first: next_runs(first, 5) for first in sys.argv[2:]},
    "dag_id": dag.dag_id,
    "timetable": f"{type(dag.timetable).__name__}({dag.timetable.expression})",
    "timezone": str(getattr(dag.timetable.timezone, "name", dag.timetable.timezone)),
    "start_date": dag.start_date.isoformat(),
    "catchup": dag.catchup,
    "tags": sorted(dag.tags),
    "max_active_runs": dag.max_active_runs,
    "params": sorted(dag.params.keys()),
    "default_args": {k: str(v) for k, v in dag.default_args.items()},
    "retries": sorted({t.retries for t in dag.tasks if t.task_id not in {"dbt_build", "fail_the_run"}}),
    # the task that fails the run when a task has failed for good
    "judge": {"trigger_rule": str(getattr(judge.trigger_rule, "value", judge.trigger_rule)),
              "retries": judge.retries,
              "not_upstream": sorted(set(dag.task_dict) - judge.upstream_task_ids),
              "leaves": sorted(t.task_id for t in dag.tasks if not t.downstream_task_ids)},
    "backoff": sorted({float(t.retry_exponential_backoff) for t in dag.tasks}),
    "max_retry_delay": sorted({str(t.max_retry_delay) for t in dag.tasks}),
    "failure_emails": {
        "two_failed": failure_email(RunFailed([{"task_id": "a.x", "log_url": "http://l/a.x"},
                                               {"task_id": "b.y", "log_url": "http://l/b.y"}])),
        "one_failed": failure_email(RunFailed([{"task_id": "a.x", "log_url": "http://l/a.x"}])),
        "own_error": failure_email(RuntimeError("the execution API did not answer"))},
    # tasks that e-mail when they fail
    "e_mailing_tasks": sorted(t.task_id for t in dag.tasks
                              if any(type(c).__name__ == "SmtpNotifier" for c in failure_callbacks(t))),
    "groups": {g: sorted(ts) for g, ts in groups.items()},
    "upstream_groups": {g: upstream_groups(g) for g in groups if g},
    "airflow_import_s": round(imported - started, 3),
    "dag_file_s": round(parsed - imported, 3),
}))
