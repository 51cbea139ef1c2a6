"""`logistics run`'s progress lines (`logistics_etl.dev.run_progress`), fed as `airflow dags test` feeds it:
the task lines in the graph's order, dbt's count of finished nodes, and a line while nothing else is said.
The end-to-end test reads the same lines from a real run (tests/test_pipeline_e2e.py)."""

from __future__ import annotations

import time

from logistics_etl.dev.run_progress import RunProgress
from logistics_etl.settings import DBT_LAYERS

DBT_LINES = ["22:06:53  1 of 3 OK hook: logistics_warehouse.on-run-start.0 ............ [OK in 0.03s]",
             "22:06:53  1 of 280 START sql incremental model bronze.brz_carriers ....... [RUN]",
             "22:06:54  1 of 280 OK created sql incremental model bronze.brz_carriers .. [OK in 0.63s]",
             "22:06:55  2 of 280 PASS not_null_brz_carriers_carrier_id ................ [PASS in 0.05s]",
             "22:06:55  3 of 280 FAIL 1 unique_brz_carriers_carrier_id ................ [FAIL 1 in 0.05s]"]


def test_node_tasks_are_listed_by_layer_after_the_tasks_before_them():
    lines: list[str] = []
    progress = RunProgress(DBT_LAYERS, say=lines.append, heartbeat_s=3600)
    for task_id in ["check_configuration", "extract_from_sqlserver.extract_orders", "dbt_build",
                    "process_gold_layer.fct_shipments", "process_bronze_layer.brz_orders",
                    "process_silver_layer.slv_orders", "process_bronze_layer.brz_carriers"]:
        progress.task_started(task_id)
        progress.task_ended(task_id, "success")
    progress.close()
    tasks = [line.split()[-1] for line in lines if "#" in line]
    assert tasks == ["check_configuration", "extract_from_sqlserver.extract_orders", "dbt_build",
                     "process_bronze_layer.brz_orders", "process_bronze_layer.brz_carriers",
                     "process_silver_layer.slv_orders", "process_gold_layer.fct_shipments"], lines
    assert [line.split()[1] for line in lines if "#" in line] == [f"#{n}" for n in range(1, 8)], lines
    assert "  process_bronze_layer: 2 tasks" in lines, lines


def test_a_long_task_says_how_far_dbt_is_at_least_every_heartbeat():
    lines: list[str] = []
    progress = RunProgress(DBT_LAYERS, say=lines.append, heartbeat_s=1)
    try:
        assert "starting" in progress.status()
        progress.task_started("dbt_build")
        for line in DBT_LINES:
            progress.line(line)
        deadline = time.monotonic() + 10
        while not lines and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        progress.close()
    assert lines and "dbt_build running for" in lines[0] and "dbt: 3 of 280 nodes done" in lines[0], lines
