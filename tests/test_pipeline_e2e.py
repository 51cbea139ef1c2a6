"""End to end through the README's run command: source stand-in -> lake -> bronze -> silver -> gold, by the
Airflow DAG (`airflow dags test`, real cosmos tasks, real DuckDB), checked against the source database."""

from __future__ import annotations

import contextlib
import math
import os
import re
import time
from pathlib import Path

import duckdb
import pytest

from logistics_etl.lake.delta import Lake
from tests import kpi_oracle
from tests.conftest import UnreadableBatch, commit_a_bad_batch, report, run_cli

pytestmark = pytest.mark.slow

BRONZE = ["brz_customers", "brz_carriers", "brz_warehouses", "brz_routes", "brz_vehicles", "brz_drivers",
          "brz_orders", "brz_shipments", "brz_shipment_events"]


def query(warehouse: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


# gold's record of dbt's own invocations: a rerun is one more invocation
RUN_HISTORY = {"pipeline_runs", "pipeline_model_timings"}


def gold_snapshot(warehouse: Path) -> dict[str, list[tuple]]:
    """Every gold relation but the run history, row for row."""
    models = [m for (m,) in query(warehouse, "select table_name from information_schema.tables "
                                             "where table_schema = 'gold'") if m not in RUN_HISTORY]
    assert len(models) >= 11, models
    return {m: query(warehouse, f"select * from gold.{m} order by all") for m in models}


def assert_gold_matches_source(warehouse: Path, source: Path) -> None:
    expected = kpi_oracle.compute(source)

    perf = {(r[0], r[1]): r[2:] for r in query(warehouse, """
        select carrier_id, delivery_date, shipments_delivered, on_time_deliveries, on_time_rate,
               avg_transit_hours, freight_cost_usd
        from gold.carrier_daily_performance""")}
    assert set(perf) == set(expected["carrier_daily_performance"])
    for key, (n, ok, rate, hours, usd) in perf.items():
        want = expected["carrier_daily_performance"][key]
        assert (n, ok, usd) == (want["shipments_delivered"], want["on_time_deliveries"], want["freight_cost_usd"]), key
        assert math.isclose(rate, want["on_time_rate"], rel_tol=1e-12), key
        assert math.isclose(hours, want["avg_transit_hours"], rel_tol=1e-9), key

    revenue = {(r[0], r[1]): r[2:] for r in query(
        warehouse, "select order_date, customer_segment, orders, revenue_usd from gold.daily_order_revenue")}
    assert revenue == {k: (v["orders"], v["revenue_usd"]) for k, v in expected["daily_order_revenue"].items()}

    facts = {r[0]: r[1:] for r in query(warehouse, """
        select shipment_id, customer_id, carrier_id, status, freight_cost_usd, transit_hours, is_on_time
        from gold.fct_shipments""")}
    assert set(facts) == set(expected["fct_shipments"])
    for sid, (customer, carrier, status, usd, hours, on_time) in facts.items():
        want = expected["fct_shipments"][sid]
        assert (customer, carrier, status, usd, on_time) == (
            want["customer_id"], want["carrier_id"], want["status"], want["freight_cost_usd"], want["is_on_time"]), sid
        assert (hours is None and want["transit_hours"] is None) or math.isclose(hours, want["transit_hours"]), sid

    current = "select {0}_id from gold.dim_{0} where is_current"  # the dimensions keep every version (SCD2)
    assert {r[0] for r in query(warehouse, current.format("customer"))} == expected["dim_customer"]
    assert {r[0] for r in query(warehouse, current.format("carrier"))} == expected["dim_carrier"]


def assert_run_audit(warehouse: Path, runs: int) -> None:
    """The monitoring marts describe the Airflow runs: every run extracted nine tables, every dbt node ran in
    a cosmos task of that run, and nothing failed; the slowest model of each run is ranked."""
    history = query(warehouse, "select run_key, tables_extracted, rows_extracted, models_built, tests_passed, "
                               "tests_failed, has_failures from gold.pipeline_runs order by extract_started_at")
    assert len(history) == runs and all(r[0].startswith("manual__") for r in history), history
    for run_key, tables, rows, built, passed, failed, has_failures in history:
        assert (tables, failed, has_failures) == (9, 0, False) and min(rows, built, passed) > 0, run_key
    # every run but the one building these marts is complete: all models and seeds were recorded
    models = query(warehouse, "select count(*) from gold.pipeline_model_timings t join gold.pipeline_runs r "
                              "using (run_key) where r.run_key = (select min(run_key) from gold.pipeline_runs)")
    assert models[0][0] >= 40
    assert query(warehouse, "select count(*) from audit.dbt_node_runs where airflow_task_id = ''") == [(0,)]
    assert query(warehouse, "select count(distinct run_key) from gold.pipeline_model_timings "
                            "where slowest_rank = 1") == [(runs,)]


def test_dag_end_to_end_over_two_change_days_matches_the_source(data_dir: Path):
    source = data_dir / "source" / "logisticsdb.sqlite"
    warehouse = data_dir / "warehouse.duckdb"

    started = time.monotonic()
    first = run_cli("run", "--scale", "0.1", "--seed", "42")
    took = time.monotonic() - started
    report("`logistics run` scale 0.1, day 0 (generate + dbt parse + DB migrate + DAG)", f"{took:.0f} s")
    assert "DAG run succeeded" in first.stdout and "carrier_daily_performance" in first.stdout
    assert_the_output_is_quiet_and_in_the_graphs_order(first.stdout + first.stderr, data_dir)
    assert_gold_matches_source(warehouse, source)
    assert_the_run_has_its_real_times(data_dir, took)

    # two change days in one night (the scheduler's night below is one more, and the rerun one with none)
    run_cli("source", "advance", "--days", "2")
    started = time.monotonic()
    out = run_cli("run", "--scale", "0.1", "--seed", "42")
    report("`logistics run` scale 0.1, change days 1 and 2", f"{time.monotonic() - started:.0f} s")
    assert "source stand-in exists: scale 0.1, seed 42, day 2" in out.stdout
    assert_gold_matches_source(warehouse, source)
    reasons = dict(((t, r), n) for t, r, n in query(
        warehouse, "select source_table, quarantine_reason, count(*) from silver.slv_quarantine group by all"))
    for expected in [("Shipments", "weight_not_positive"), ("Shipments", "delivered_before_shipped"),
                     ("Shipments", "unknown_carrier"), ("Customers", "duplicate_customer_code")]:
        assert reasons.get(expected, 0) > 0, f"bad rows of kind {expected} reach quarantine"
    assert query(warehouse, "select sum(unaccounted_rows) from silver.slv_reconciliation") == [(0,)]
    assert_run_audit(warehouse, runs=2)

    assert_each_node_is_reported_once_with_its_sql(data_dir)
    assert_the_ui_shows_the_dag_and_the_scheduler_runs_the_next_night(data_dir)


def assert_the_output_is_quiet_and_in_the_graphs_order(output: str, data_dir: Path) -> None:
    """`make run`'s output has no warning, nor has the whole `airflow dags test` output behind it (Airflow's,
    cosmos's, dbt's, Python's); its task lines come in the graph's order, the dbt layers' node tasks grouped by
    layer; it ends with the steps' times and what to open next."""
    assert not re.search(r"\bwarn(ing)?\b", output, re.IGNORECASE), output
    log = max((data_dir / "airflow").glob("dags-test-*.log"), key=lambda p: p.stat().st_mtime).read_text()
    warnings = [line for line in log.splitlines() if re.search(r"\[warning\s*\]|Warning[:\]]", line)]
    assert not warnings, warnings
    tasks = re.findall(r"^\s+[\d.]+s\s+#\d+\s+\w+\s+(\S+)$", output, re.MULTILINE)
    order = ["check_configuration", "extract_from_sqlserver", "dbt_build", "process_bronze_layer",
             "process_silver_layer", "process_gold_layer"]
    ranks = [order.index(t.split(".")[0]) for t in tasks if t.split(".")[0] in order]
    assert len(ranks) == len(tasks) >= 60 and ranks == sorted(ranks), tasks
    assert re.search(r"^Times: source [\d.]+s; .*airflow dags test [\d.]+s \(the DAG run itself [\d.]+s\); "
                     r"summary [\d.]+s; total [\d.]+s$", output, re.MULTILINE), output[-2000:]
    assert "logistics ui start" in output and "logistics dbt docs serve" in output, output[-2000:]


def assert_the_run_has_its_real_times(data_dir: Path, took: float) -> None:
    """The run's start and end in the metadata DB (which the UI shows) are its real ones: its duration is within
    a minute of the command's wall time, and it ended just now, not on the source's logical day."""
    import sqlite3
    from datetime import UTC, datetime

    con = sqlite3.connect(data_dir / "airflow" / "airflow.db")
    try:
        start, end = con.execute("select start_date, end_date from dag_run order by id desc limit 1").fetchone()
    finally:
        con.close()
    start, end = (datetime.fromisoformat(t).replace(tzinfo=UTC) for t in (start, end))
    span = (end - start).total_seconds()
    assert 0 < span <= took and took - span < 60, (start, end, took)
    assert abs((datetime.now(UTC) - end).total_seconds()) < 600, end


def assert_each_node_is_reported_once_with_its_sql(data_dir: Path) -> None:
    """In the last run, the build reported every model, seed and snapshot to its task as one XCom (dbt's status,
    its tests' results and dbt's log lines of the node and its tests: `dbt_nodes.publish_build_report`), and
    every task's log is in the file the UI reads, a node task's with dbt's own lines for its node. No warning
    that only cosmos's OpenLineage processing (with no OpenLineage provider to send its events) caused."""
    import json
    import sqlite3

    from logistics_etl.dev.airflow_env import task_log_path
    from logistics_etl.settings import load_settings

    con = sqlite3.connect(data_dir / "airflow" / "airflow.db")
    try:
        run_id = con.execute("select run_id from dag_run where dag_id = 'medallion_architecture_etl' "
                             "order by id desc limit 1").fetchone()[0]
        xcoms = dict(con.execute("select key, value from xcom where run_id = ? and task_id = 'dbt_build'",
                                 (run_id,)))
        tasks = dict(con.execute("select task_id, try_number from task_instance where run_id = ?", (run_id,)))
    finally:
        con.close()
    reports = {k: json.loads(v) for k, v in xcoms.items() if k.startswith(("model.", "seed.", "snapshot."))}
    assert len(reports) >= 50 and len(reports) == len(xcoms), sorted(xcoms)
    assert {r["status"] for r in reports.values()} == {"success"}
    tested = {k: r["tests"] for k, r in reports.items() if r["tests"]}
    assert len(tested) >= 45 and sum(len(t) for t in tested.values()) >= 222, tested
    assert {s for t in tested.values() for s in t.values()} <= {"pass", "warn"}
    settings = load_settings()
    assert tasks.pop("fail_the_run") == 0, "skipped without running on a good night (`one_failed`)"
    for task_id, attempt in tasks.items():
        assert task_log_path(settings, "medallion_architecture_etl", run_id, task_id, attempt).is_file(), task_id
    fct = task_log_path(settings, "medallion_architecture_etl", run_id, "process_gold_layer.fct_shipments", 1)
    assert "OK created sql incremental model gold.fct_shipments" in fct.read_text()
    assert "PASS unique_fct_shipments_shipment_id" in fct.read_text()
    log = max((data_dir / "airflow").glob("dags-test-*.log"), key=lambda p: p.stat().st_mtime).read_text()
    assert "Model node connected to test" not in log


def assert_the_ui_shows_the_dag_and_the_scheduler_runs_the_next_night(data_dir: Path) -> None:
    """`logistics ui start` over the Airflow home of these runs (API server, scheduler, DAG processor,
    triggerer); a real headless Chromium logs in and finds in the DAG's graph the four groups and a task per dbt
    model and seed, and in the log of one model's task of the last `logistics run`, dbt's output for it.

    Then the production path, which `airflow dags test` does not take: one more change day in the source, the
    DAG unpaused, and the scheduler creates the night's run itself (its latest 02:00) and runs it, every task
    a process of its own (LocalExecutor) speaking to the API server, but the node tasks' first tries, which
    start and end in the triggerer. The run succeeds and gold matches the source again.

    And a night made good under the scheduler (one retry, 30 s later): a bad Vehicles batch fails the build,
    and is taken out of the lake once the build has failed; the node tasks' retries, rescheduled until their
    parents' tasks have succeeded, build `brz_vehicles` and each node after it in order, and the run is green.
    That night has nothing new in the source: bronze lands no row twice and gold stays as it was.
    (Not 5 s: Airflow fails a rescheduled task whose next look is queued before the executor has reported the
    end of the look before, apache/airflow#71172, and here a look's process once took 5.3 s to end, the
    others 0.3 s: the retry that waited was failed, and the run with it.)"""
    import json
    import sqlite3

    from logistics_etl.settings import PROJECT_ROOT
    from tests.conftest import _free_port
    from tests.ui_browser import graph_texts, task_log_text

    db = data_dir / "airflow" / "airflow.db"
    con = sqlite3.connect(db)
    states = [r[0] for r in con.execute("select state from dag_run where dag_id = 'medallion_architecture_etl'")]
    last_run = con.execute("select run_id from dag_run order by id desc limit 1").fetchone()[0]
    con.close()
    assert states and set(states) == {"success"}, states
    run_cli("source", "advance")
    out = run_cli("ui", "start", "--port", str(_free_port()), timeout=300, env_extra={
        "LOGISTICS_TASK_RETRIES": "1", "LOGISTICS_TASK_RETRY_DELAY_SECONDS": "30"}).stdout
    try:
        url = re.search(r"Airflow UI: (\S+)", out).group(1)
        user, password = re.search(r"login: (\S+) / (\S+)", out).groups()
        seen = graph_texts(url, user, password)
        model_log = task_log_text(url, user, password, last_run, "process_gold_layer.fct_shipments",
                                  wait_for="OK created sql incremental model gold.fct_shipments")
        started = time.monotonic()
        run_cli("airflow", "dags", "unpause", "medallion_architecture_etl")
        night = _run_once_ended(db, "scheduled", after=0)
        report("the next night under a real scheduler (LocalExecutor, scale 0.1)",
               f"{time.monotonic() - started:.0f} s from unpausing to the run's end")
        warehouse = data_dir / "warehouse.duckdb"
        gold_after_night = gold_snapshot(warehouse)
        bronze_after_night = {m: query(warehouse, f"select count(*) from bronze.{m}")[0][0] for m in BRONZE}

        bad = UnreadableBatch(data_dir / "lake" / "bronze" / "Vehicles")

        def fix_once_the_build_has_failed(tis: dict) -> None:
            if tis.get("dbt_build", ("",))[0] == "failed" and not bad.taken_out:
                bad.take_out()

        started = time.monotonic()
        run_cli("airflow", "dags", "trigger", "medallion_architecture_etl")
        made_good = _run_once_ended(db, "manual", after=night[0], each_look=fix_once_the_build_has_failed)
        report("a night made good under the scheduler (one retry, 30 s later)",
               f"{time.monotonic() - started:.0f} s from the trigger to the run's end")
    finally:
        run_cli("ui", "stop")
    for group in ("check_configuration", "extract_from_sqlserver", "dbt_build", "process_bronze_layer",
                  "process_silver_layer", "process_gold_layer"):
        assert group in seen["collapsed"], group
    assert "START sql incremental model gold.fct_shipments" in model_log, model_log[-2000:]
    # each model, seed and snapshot has a task of its name (the node and its tests)
    nodes = json.loads((PROJECT_ROOT / "target" / "manifest.json").read_text())["nodes"].values()
    expected = [n["name"] for n in nodes if n["resource_type"] in ("model", "seed", "snapshot")]
    missing = [name for name in expected if not re.search(rf"(?<!\w){name}(?!\w)", seen["expanded"])]
    assert len(expected) >= 44 and not missing, missing

    _, run_id, state, tis = night
    assert run_id.startswith("scheduled__") and state == "success", (run_id, state, tis)
    tasks = {t: s for t, (s, *_) in tis.items()}
    assert tasks.pop("fail_the_run") == "skipped" and len(tasks) >= 60 and set(tasks.values()) == {"success"}, tasks
    assert_gold_matches_source(data_dir / "warehouse.duckdb", data_dir / "source" / "logisticsdb.sqlite")

    _, run_id, state, tis = made_good
    assert bad.taken_out, f"the build of {run_id} did not fail as staged: {tis}"
    assert state == "success", (run_id, state, tis)
    _assert_made_good(tis, "brz_vehicles", data_dir / "warehouse.duckdb", run_id)
    # that night had nothing new in the source (and its bad batch was taken out): no row landed twice, and
    # gold is as the night before left it
    assert {m: query(warehouse, f"select count(*) from bronze.{m}")[0][0] for m in BRONZE} == bronze_after_night
    assert gold_snapshot(warehouse) == gold_after_night


def _run_once_ended(db: Path, run_type: str, after: int, each_look=None, timeout: float = 900
                    ) -> tuple[int, str, str, dict[str, tuple]]:
    """The first run of `run_type` made after the run with id `after`, once it has ended: its id, run id, state
    and its tasks (task id -> state, try number, start, end). `each_look(tasks)` is called at each look, every
    half second, while it runs."""
    import sqlite3

    deadline = time.monotonic() + timeout
    while True:
        con = sqlite3.connect(db)
        try:
            run = con.execute("select id, run_id, state from dag_run where run_type = ? and id > ? order by id "
                              "limit 1", (run_type, after)).fetchone()
            tis = {t: rest for t, *rest in con.execute(
                "select task_id, state, try_number, start_date, end_date from task_instance where run_id = ?",
                (run[1],))} if run else {}
        finally:
            con.close()
        if run and run[2] in ("success", "failed"):
            return run[0], run[1], run[2], tis
        if each_look:
            each_look(tis)
        assert time.monotonic() < deadline, f"no {run_type} run ended in {timeout:.0f} s: {run} {tis}"
        time.sleep(0.5)


PASSWORD = "pw-" + os.urandom(8).hex()
SAS_SIGNATURE = os.urandom(12).hex()
SAS_TOKEN = f"sv=2024-11-04&ss=b&srt=co&sp=rl&se=2030-01-01T00:00:00Z&sig={SAS_SIGNATURE}"


@contextlib.contextmanager
def _smtp_server():
    """A real SMTP server (aiosmtpd) on a free port: yields the environment that points the run's
    `smtp_default` connection and alert address at it, and the list of messages it receives."""
    import json

    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Message

    from tests.conftest import _free_port

    received: list = []

    class Sink(Message):
        def handle_message(self, message):
            received.append(message)

    smtp = Controller(Sink(), hostname="127.0.0.1", port=_free_port())
    smtp.start()
    conn = {"conn_type": "smtp", "host": "127.0.0.1", "port": smtp.port, "login": "", "password": "",
            "extra": {"disable_ssl": True, "disable_tls": True, "from_email": "airflow@logistics.test"}}
    try:
        yield {"AIRFLOW_CONN_SMTP_DEFAULT": json.dumps(conn), "LOGISTICS_ALERT_EMAIL": "oncall@logistics.test"}, \
            received
    finally:
        smtp.stop()


def _body(mail) -> str:
    return mail.get_payload(decode=True).decode() if not mail.is_multipart() else \
        "".join(part.get_payload(decode=True).decode() for part in mail.walk() if not part.is_multipart())


def test_a_failing_night_fails_fast_names_the_task_and_the_column_and_sends_an_email(data_dir: Path):
    """A column dropped in the source fails its extract task; the run exits non-zero at once (no retry wait),
    names the failed task, commits nothing for that table, and the log names table and column. Airflow's
    SMTP notifier sends the night's one failure e-mail (dag, run, the failed task with a link to its log) to
    a real SMTP server (aiosmtpd)."""
    import sqlite3

    run_cli("source", "generate", "--scale", "0.02", "--seed", "3")
    con = sqlite3.connect(data_dir / "source" / "logisticsdb.sqlite")
    con.execute('ALTER TABLE "Vehicles" DROP COLUMN "CapacityKg"')
    con.commit()
    con.close()
    with _smtp_server() as (smtp_env, received):
        proc = run_cli("run", "--scale", "0.02", "--seed", "3", check=False, env_extra={
            **smtp_env,
            # secrets that airflow_settings.yaml loads and check_configuration reads inside a task
            "SQLSERVER_PASSWORD": PASSWORD, "AZURE_STORAGE_SAS_TOKEN": SAS_TOKEN,
            # every batch's progress line in the extract tasks' logs
            "LOGISTICS_PROGRESS_LOG_SECONDS": "0"})
    assert proc.returncode != 0
    # the run itself is failed (`fail_the_run`), not only a task of it: every dbt task after the failed extract
    # was skipped, and Airflow would have judged the run by those
    assert "DAG run failed (exit 1, run state failed)" in proc.stdout, proc.stdout[-2000:]
    failed_line = next(line for line in proc.stdout.splitlines() if "failed tasks:" in line)
    assert "extract_from_sqlserver.extract_vehicles" in failed_line
    assert "extract_from_sqlserver.extract_orders" not in failed_line, "other tables are not blamed"
    log = next((data_dir / "airflow").glob("dags-test-*.log")).read_text()
    assert ("this run failed: extract_from_sqlserver.extract_vehicles (failed); each failed task's log says "
            "why") in log
    assert "table Vehicles: column CapacityKg is in the contract but not in the source" in log
    assert re.search(r"table Orders: [\d,]+ rows read so far \([\d,]+ rows/s\)", log), "a task logs its progress"
    lake = Lake(data_dir / "lake")
    assert lake.delta_table("Vehicles") is None, "nothing committed for Vehicles"
    assert lake.delta_table("Orders") is not None, "the other tables landed"
    assert len(received) == 1, f"one e-mail for the night; received: {[m['Subject'] for m in received]}"
    mail = received[0]
    body = _body(mail)
    assert mail["To"] == "oncall@logistics.test"
    assert re.fullmatch(r"\[airflow\] medallion_architecture_etl run manual__\S+ failed: "
                        r"extract_from_sqlserver\.extract_vehicles", mail["Subject"]), mail["Subject"]
    run_link = re.search(r"href='(http[^']+/runs/manual__[^/']+/tasks/)fail_the_run\?try_number=1'", body)
    assert run_link, body
    assert re.findall(r"<li>([^:<]+): <a href='([^']+)'>log</a></li>", body) == [
        ("extract_from_sqlserver.extract_vehicles", run_link.group(1) + "extract_from_sqlserver.extract_vehicles")
    ], body
    # no secret in any log of the run: the dags-test log (which holds every task's log) and any log file
    logs = [p for p in (data_dir / "airflow").rglob("*.log") if p.is_file()]
    text = "".join(p.read_text(errors="replace") for p in logs) + proc.stdout + proc.stderr
    assert "'connection sql_server_default': 'mssql://etl_reader:***@" in text, \
        "check_configuration read the connection (with its password) and logged it redacted"
    assert PASSWORD not in text and SAS_SIGNATURE not in text


def _tasks_after_failures_of(*unique_ids: str) -> set[str]:
    """The tasks that failures of `unique_ids` (a model that errors, or a model whose test fails) turn red, from
    the dbt manifest: the task of each failed node and of each node that depends on one (dbt skips them, cosmos
    reports the skip as a failure), and the task of every node with a test that reads one of those (dbt skips
    the test, and a node's task reports its tests)."""
    import json

    from logistics_etl.settings import PROJECT_ROOT

    nodes = json.loads((PROJECT_ROOT / "target" / "manifest.json").read_text())["nodes"]
    parents = {uid: set(node.get("depends_on", {}).get("nodes", [])) for uid, node in nodes.items()}
    hit = _with_descendants(parents, unique_ids)
    layer = {"bronze": "process_bronze_layer", "silver": "process_silver_layer", "gold": "process_gold_layer",
             "seeds": "process_silver_layer", "snapshots": "process_silver_layer"}

    def task(uid: str) -> str | None:
        path = nodes[uid]["original_file_path"].split("/")
        group = layer.get(path[1] if path[0] == "dbt_project" else path[0])
        kind = nodes[uid]["resource_type"] in ("model", "seed", "snapshot")
        return f"{group}.{nodes[uid]['name']}" if group and kind else None

    tested = {model for uid, ups in parents.items() if uid.startswith("test.") and ups & hit
              for model in ups if model in nodes}
    return {t for t in map(task, hit | tested) if t}


def _assert_made_good(tis: dict[str, tuple], root: str, warehouse: Path, run_id: str) -> None:
    """A night whose build failed `root` and whose node tasks made it good (`tis`: task id -> state, try number,
    start and end of one run): the build failed, every other task but `fail_the_run` (skipped) succeeded, and
    `root` and each node after it was built on a retry, after its parents had been (the warehouse's run audit:
    when each retry's `dbt build` of its node ended; a task's start is no measure, since a node task starts
    when its retry is handed to the triggerer, and a retry that waits for its parents keeps that start)."""
    tis = dict(tis)
    assert tis.pop("fail_the_run")[0] == "skipped"
    assert tis.pop("dbt_build")[0] == "failed"
    assert {state for state, *_ in tis.values()} == {"success"}, tis
    lineage = _descendants_of(f"model.logistics_warehouse.{root}")
    task_of = {t.split(".")[1]: t for t in tis if t.startswith("process_")}
    retried = {t.split(".")[1] for t, (_, tries, *_) in tis.items() if tries == 2}
    assert {root, *lineage} <= retried, retried
    built = dict(query(warehouse, f"""
        select airflow_task_id, max(recorded_at) from audit.dbt_node_runs
        where airflow_run_id = '{run_id}' and airflow_task_id like 'process_%' and status = 'success'
          and resource_type in ('model', 'seed', 'snapshot') group by all"""))
    assert {task_of[n] for n in {root, *lineage}} <= set(built), built
    for name, parents in lineage.items():  # each built after its parents were, when they were built again
        for parent in parents & ({root} | set(lineage)):
            assert built[task_of[parent]] < built[task_of[name]], (name, parent)
    # (whether a task had to wait depends on the order its retry came in: the order above is what counts)


def test_a_failing_model_or_test_turns_its_own_task_red_and_the_others_report_theirs(data_dir: Path):
    """Watcher mode for real: the DAG's one `dbt build` fails one bronze model (a committed Vehicles batch
    whose data files cannot be read) and one bronze test (a committed Carriers batch with a null CarrierID:
    the model builds, its `not_null` test fails), and each node's task then reports what the build said of
    its node and its tests. The two models' tasks are red and name what failed (dbt's read error; the
    failing test, by name); so are the tasks of every silver and gold node that depends on either (dbt
    skipped them) and of every node with a test that reads one of those (dbt skipped the test). Every
    other task is green: dbt built and tested what did not depend on a failure.

    The run retries every task once, a second after it failed (Airflow's own retries, in `airflow dags
    test`; `logistics_etl/orchestration/node_retries.py`): the two models' retries build them and their tests again
    (`dbt build --select <model>`) and fail again; the retry of a node that depends on them builds nothing,
    since its parent's task did not succeed in this run (built then, it would read its parent's previous
    table), and fails naming it; a node that was red only for a test that reads one of them builds again
    without that test (dbt's `--indirect-selection buildable`) and goes green. Once every task has ended, one
    e-mail (`fail_the_run`'s) names every red task, each with a link to its log."""
    import sqlite3

    run_cli("source", "generate", "--scale", "0.02", "--seed", "3")
    run_cli("extract")
    UnreadableBatch(data_dir / "lake" / "bronze" / "Vehicles")
    commit_a_bad_batch(data_dir / "lake" / "bronze" / "Carriers", "CarrierID", [None, 1])

    with _smtp_server() as (smtp_env, received):
        proc = run_cli("run", "--scale", "0.02", "--seed", "3", "--retries", "1", check=False,
                       env_extra={"LOGISTICS_TASK_RETRY_DELAY_SECONDS": "1", **smtp_env})
    assert proc.returncode != 0 and re.search(r"DAG run failed \(exit \d+, run state failed\)", proc.stdout), \
        proc.stdout[-2000:]
    con = sqlite3.connect(data_dir / "airflow" / "airflow.db")
    states = dict(con.execute("select task_id, state from task_instance"))
    tries = dict(con.execute("select task_id, try_number from task_instance"))
    con.close()
    assert states.pop("dbt_build") == "failed"
    nodes = {t: s for t, s in states.items() if t.startswith(("process_bronze_layer.", "process_silver_layer.",
                                                              "process_gold_layer."))}
    assert len(nodes) >= 50 and not [t for t in nodes if t.endswith(".test")], sorted(nodes)
    roots = ("model.logistics_warehouse.brz_vehicles", "model.logistics_warehouse.brz_carriers")
    after_build = _tasks_after_failures_of(*roots) & set(nodes)  # red after the build
    lineage = _descendants_of(*roots)
    red = {t for t in nodes if t.split(".")[1] in {*lineage, "brz_vehicles", "brz_carriers"}}
    assert {"process_bronze_layer.brz_vehicles", "process_bronze_layer.brz_carriers",
            "process_silver_layer.slv_vehicles", "process_silver_layer.snp_vehicles",
            "process_silver_layer.slv_carriers"} <= red < after_build
    assert "process_bronze_layer.brz_orders" not in after_build
    assert {t for t, s in nodes.items() if s == "failed"} == red, nodes
    assert {s for t, s in nodes.items() if t not in red} == {"success"}, nodes
    assert {tries[t] for t in after_build} == {2} and {tries[t] for t in set(nodes) - after_build} == {1}, tries
    failed_line = next(line for line in proc.stdout.splitlines() if "failed tasks:" in line)
    assert "process_bronze_layer.brz_vehicles" in failed_line and "brz_orders" not in failed_line
    assert "process_gold_layer.dim_customer" not in failed_line, "green on its retry"
    # one e-mail for the night, sent once every task had ended, naming every task that failed for good
    assert len(received) == 1, [m["Subject"] for m in received]
    listed = re.findall(r"<li>([^:<]+): <a href='http[^']+/tasks/\1'>log</a></li>", _body(received[0]))
    assert listed == sorted(red), listed  # the failed build is not named: the tasks of its nodes say what failed
    assert received[0]["Subject"].endswith(f"failed: {listed[0]} and {len(listed) - 1} more")
    log = next((data_dir / "airflow").glob("dags-test-*.log")).read_text()
    assert UnreadableBatch.MESSAGE in log
    assert ("Model 'model.logistics_warehouse.brz_carriers' was built, but its tests did not all pass: "
            "not_null_brz_carriers_carrier_id (fail)") in log
    # the retries: the two models built again, their tests with them, and failed again; the nodes red only
    # for a test that reads one of them built again, that test left to the retry of the node it reads
    retries = re.split(r"(?=Retry attempt #1 . Running model )", log)[1:]  # each retry's part of the log
    rebuilt = {re.match(r"Retry attempt #1 . Running model '\w+\.logistics_warehouse\.(\w+)'", r).group(1)
               for r in retries}
    assert rebuilt == {t.split(".")[1] for t in after_build - red} | {"brz_vehicles", "brz_carriers"}, rebuilt
    carriers = next(r for r in retries if "'model.logistics_warehouse.brz_carriers'" in r[:120])
    assert "OK created sql incremental model bronze.brz_carriers" in carriers, carriers[-3000:]
    assert re.search(r"FAIL \d+ not_null_brz_carriers_carrier_id", carriers), carriers[-3000:]
    # ... and no node that depends on them was built on their previous tables: each one's retry failed
    # naming parents of its own whose tasks had ended without success
    refusals = {m.group(1): m.group(2) for m in re.finditer(
        r"'\w+\.logistics_warehouse\.(\w+)' was not built on this retry: the tasks? of its parents? (.+?) did not "
        r"succeed in this run", log)}
    assert set(refusals) == set(lineage), set(lineage) ^ set(refusals)
    for name, listed in refusals.items():
        for task_id, state in re.findall(r"(\S+) \((\w+)\)", listed):
            assert task_id.split(".")[1] in lineage[name] and state in ("failed", "upstream_failed"), (name, listed)


def test_a_model_that_fails_in_the_build_and_then_recovers_is_rebuilt_before_what_depends_on_it(data_dir: Path):
    """A transient failure, for real: the night's build fails `brz_vehicles` (a bad Vehicles batch), which is
    then taken out of the lake, as a fix would, before the tasks retry (10 s later). Its task's retry builds
    it; the tasks of the nodes after it wait (rescheduled) until their parents' tasks have succeeded and only
    then build, each after its parents, so none reads a table of the day before; the run ends green (the
    failed build itself made good by its node tasks, `fail_the_run` skipped), and no e-mail is sent."""
    import sqlite3
    import threading

    run_cli("source", "generate", "--scale", "0.02", "--seed", "3")
    run_cli("extract")
    bad = UnreadableBatch(data_dir / "lake" / "bronze" / "Vehicles")
    done = threading.Event()

    def fix_once_the_build_has_failed() -> None:
        while not done.wait(0.1):
            logs = list((data_dir / "airflow").glob("dags-test-*.log"))
            if logs and UnreadableBatch.MESSAGE in logs[0].read_text(errors="replace"):
                bad.take_out()
                return

    fixer = threading.Thread(target=fix_once_the_build_has_failed)
    fixer.start()
    try:
        with _smtp_server() as (smtp_env, received):
            proc = run_cli("run", "--scale", "0.02", "--seed", "3", "--retries", "1", check=False,
                           env_extra={"LOGISTICS_TASK_RETRY_DELAY_SECONDS": "10", **smtp_env})
    finally:
        done.set()
        fixer.join()
    assert bad.taken_out, "the build did not fail as staged"
    assert proc.returncode == 0 and "DAG run succeeded" in proc.stdout, proc.stdout[-3000:]
    assert "failed, and made good by the tasks after them: dbt_build" in proc.stdout, proc.stdout[-3000:]
    con = sqlite3.connect(data_dir / "airflow" / "airflow.db")
    tis = {t: (state, tries, start, end) for t, state, tries, start, end in con.execute(
        "select task_id, state, try_number, start_date, end_date from task_instance")}
    runs = con.execute("select run_id, state from dag_run").fetchall()
    con.close()
    assert [state for _, state in runs] == ["success"]
    assert received == [], "a night made good sends no failure e-mail (the failed build sends none of its own)"
    _assert_made_good(tis, "brz_vehicles", data_dir / "warehouse.duckdb", runs[0][0])
    log = next((data_dir / "airflow").glob("dags-test-*.log")).read_text()
    assert "was not built on this retry" not in log


def _descendants_of(*unique_ids: str) -> dict[str, set[str]]:
    """The models, seeds and snapshots that depend on `unique_ids`, directly or not, by name, each with the names
    of its own parents (dbt manifest)."""
    import json

    from logistics_etl.settings import PROJECT_ROOT

    nodes = json.loads((PROJECT_ROOT / "target" / "manifest.json").read_text())["nodes"]
    parents = {uid: set(node.get("depends_on", {}).get("nodes", [])) for uid, node in nodes.items()}
    return {nodes[uid]["name"]: {up.split(".")[-1] for up in parents[uid]}
            for uid in _with_descendants(parents, unique_ids) - set(unique_ids)
            if nodes[uid]["resource_type"] in ("model", "seed", "snapshot")}


def _with_descendants(parents: dict[str, set[str]], unique_ids) -> set[str]:
    """`unique_ids` and every node but a test that depends on one of them, directly or not (`parents`: each
    manifest node's `depends_on`)."""
    hit, grew = set(unique_ids), True
    while grew:
        more = {uid for uid, ups in parents.items() if not uid.startswith("test.") and ups & hit} - hit
        hit, grew = hit | more, bool(more)
    return hit


def test_the_set_up_commands_of_a_run_report_a_failure_with_their_output(tmp_path: Path, capsys):
    """`logistics run` starts `dbt parse` and `airflow db migrate` in processes of their own while it makes the
    source: a failing one is reported with its own output and where the whole of it is, and one still running
    when the run stops early is ended, not left behind. Real processes, no Airflow or dbt needed."""
    import signal
    import sys

    from logistics_etl.dev.processes import Background as _Background

    failing = _Background("dbt parse", [sys.executable, "-c", "print('Compilation Error in model x'); exit(2)"],
                          dict(os.environ), tmp_path / "dbt-parse.log")
    assert not failing.succeeded()
    out = capsys.readouterr().out
    assert "dbt parse failed (exit 2)" in out and "Compilation Error in model x" in out
    assert str(tmp_path / "dbt-parse.log") in out
    assert _Background("ok", [sys.executable, "-c", "pass"], dict(os.environ), tmp_path / "ok.log").succeeded()
    slow = _Background("airflow db migrate", [sys.executable, "-c", "import time; time.sleep(60)"],
                       dict(os.environ), tmp_path / "migrate.log")
    slow.stop()
    assert slow.proc.returncode == -signal.SIGTERM, "ended by stop(), not left to finish"
