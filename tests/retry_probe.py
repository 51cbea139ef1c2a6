"""Runs the retry of one of the DAG's watcher node tasks in this process and prints the outcome as JSON (used by
test_pipeline_e2e.py): `python -m tests.retry_probe <task_id>`.

What Airflow would do on the task's second try, less the scheduling: the task's own retry path
(`_fallback_to_non_watcher_run`, cosmos's code, which the task's `poke` takes on any try after the first)
runs for real, dbt and all, against the warehouse of `LOGISTICS_DATA_DIR`. The task instance it is handed is a
stand-in (a real retry needs a scheduler and the DAG's two-minute retry delay): it says "try 2" and holds no
XCom, so the retry uses the task's own dbt flags instead of the build's.
"""

import contextlib
import io
import json
import sys
from pathlib import Path

import pendulum

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "dags"))
import medallion_architecture_etl as module  # noqa: E402


class SecondTry:
    """A stand-in task instance on its second try, with no XCom (see the module's docstring)."""

    try_number, run_id, map_index = 2, "retry_probe", -1

    def __init__(self, task) -> None:
        self.task_id, self.dag_id = task.task_id, task.dag_id

    def xcom_pull(self, *args, **kwargs) -> None:
        return None

    def xcom_push(self, *args, **kwargs) -> None:
        pass


task = module.DAG.get_task(sys.argv[1])
ti = SecondTry(task)
context = {"ti": ti, "task_instance": ti, "run_id": ti.run_id, "dag": module.DAG, "task": task, "params": {},
           "logical_date": pendulum.datetime(2025, 6, 1)}
out = io.StringIO()
try:
    with contextlib.redirect_stdout(out):
        task._fallback_to_non_watcher_run(ti.try_number, context)
    result = {"ok": True}
except Exception as exc:  # noqa: BLE001 - reported to the test
    result = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
print(json.dumps({**result, "dbt": out.getvalue()[-20000:]}))
