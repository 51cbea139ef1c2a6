"""Orchestration benchmark: the same day of work run plain and through the DAG, in the same run.

    uv run python -m benchmarks.orchestration [--scale 1]

One source stand-in (day 0 at the given scale) is read by both:

- `plain`: `logistics extract` (all nine tables) then `dbt build` (every model, seed and test), each a
  command as a person would type it, into an empty lake and warehouse;
- `dag`: `airflow dags test medallion_architecture_etl` with cosmos as configured in the DAG, once per
  execution mode asked for (`--modes local,watcher`, the setting LOGISTICS_DBT_EXECUTION), each into an
  empty lake and warehouse of its own (dbt parse, the metadata DB and the settings load happen before
  the clock starts: they are set-up, not the night's work). Reported twice: the whole command, and the
  run alone as Airflow's metadata DB records it (first task start to last task end, without the
  command's own Airflow import and DAG parse, which a running scheduler does not repeat per run).

It also times the DAG file's parse in a fresh process (Airflow and its DagBag imported first, as in the DAG
processor). Both warehouses must end with the same gold row counts. Prints a table and writes
`benchmarks/results/orchestration.json`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "data" / "bench-orchestration"
RESULTS = ROOT / "benchmarks" / "results"
BIN = Path(sys.executable).parent
GOLD = ("dim_customer", "dim_carrier", "dim_route", "fct_shipments", "carrier_daily_performance",
        "daily_order_revenue")

# the DAG-parse probe the DAG tests use: imports Airflow, then the DAG file, in a fresh process
PARSE_PROBE = ROOT / "tests" / "dag_probe.py"


def _env(data_dir: Path, source: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("LAKE_ROOT", "DUCKDB_PATH", "DBT_TARGET")}
    env.update(LOGISTICS_DATA_DIR=str(data_dir), LOGISTICS_SOURCE_URL=f"sqlite://{source}",
               LOGISTICS_TASK_RETRIES="0")
    return env


def timed(cmd: list[str], env: dict[str, str], log: Path) -> float:
    """Seconds `cmd` took, run from the project root with its output appended to `log`; stops on failure."""
    started = time.perf_counter()
    with open(log, "a") as fh:
        proc = subprocess.run(cmd, env=env, cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT)
    if proc.returncode:
        raise SystemExit(f"{' '.join(cmd[:4])} failed ({proc.returncode}); see {log}")
    return time.perf_counter() - started


def _parse_once(env: dict[str, str]) -> dict:
    out = subprocess.run([sys.executable, str(PARSE_PROBE), str(ROOT / "dags" / "medallion_architecture_etl.py")],
                         env=env, cwd=WORK, capture_output=True, text=True, check=True).stdout
    info = json.loads(out.strip().splitlines()[-1])
    return {**info, "tasks": sum(len(tasks) for tasks in info["groups"].values())}


def _run_span(airflow_home: Path) -> tuple[float, int]:
    """Seconds from the first task's start to the last task's end of the DAG run, and its task count, as
    Airflow's metadata DB records them: the run without `airflow dags test`'s own start-up (import, parse)."""
    import sqlite3

    con = sqlite3.connect(airflow_home / "airflow.db")
    try:
        span, tasks = con.execute("select (julianday(max(end_date)) - julianday(min(start_date))) * 86400, count(*) "
                                  "from task_instance where dag_id = 'medallion_architecture_etl'").fetchone()
    finally:
        con.close()
    return span, tasks


def _gold_counts(warehouse: Path) -> dict[str, int]:
    import duckdb

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return {m: con.execute(f"select count(*) from gold.{m}").fetchone()[0] for m in GOLD}
    finally:
        con.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--modes", default="watcher,local",
                    help="cosmos execution modes to run the DAG with (LOGISTICS_DBT_EXECUTION), comma-separated")
    args = ap.parse_args()
    logistics = str(BIN / "logistics")
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    log = WORK / "benchmark.log"
    source = WORK / "source" / "logisticsdb.sqlite"
    plain = WORK / "plain"
    print(f"source stand-in at scale {args.scale} -> {source}", flush=True)
    timed([logistics, "source", "generate", "--scale", str(args.scale), "--source", f"sqlite://{source}"],
           _env(plain, source), log)

    print("plain: logistics extract + dbt build ...", flush=True)
    extract_s = timed([logistics, "extract"], _env(plain, source), log)
    dbt_s = timed([logistics, "dbt", "build", "--quiet"], _env(plain, source), log)
    plain_s = extract_s + dbt_s

    from logistics_etl.airflow_env import airflow_env
    from logistics_etl.generator import read_state
    from logistics_etl.settings import load_settings

    day = read_state(source).clock.date()
    dags = {}
    for mode in args.modes.split(","):
        folder = WORK / f"dag-{mode}"
        env = {**_env(folder, source), "LOGISTICS_DBT_EXECUTION": mode}
        print(f"dag ({mode}): set-up (dbt parse, airflow db migrate, settings) ...", flush=True)
        timed([logistics, "dbt", "parse", "--quiet"], env, log)
        timed([logistics, "airflow-settings", "load"], env, log)
        print(f"dag ({mode}): airflow dags test ...", flush=True)
        seconds = timed([logistics, "airflow", "dags", "test", "medallion_architecture_etl", str(day)], env, log)
        os.environ.update(env)
        probe_env = {**os.environ, **airflow_env(load_settings())}
        parses = [_parse_once(probe_env) for _ in range(3)]
        run_s, run_tasks = _run_span(folder / "airflow")
        dags[mode] = {"seconds": seconds, "run_s": run_s, "run_tasks": run_tasks,
                      "parse_s": min(p["dag_file_s"] for p in parses), "tasks": parses[0]["tasks"],
                      "airflow_import_s": min(p["airflow_import_s"] for p in parses),
                      "same_gold_row_counts": _gold_counts(plain / "warehouse.duckdb") ==
                      _gold_counts(folder / "warehouse.duckdb")}

    result = {"scale": args.scale, "plain_extract_s": round(extract_s, 1), "plain_dbt_build_s": round(dbt_s, 1),
              "plain_s": round(plain_s, 1), "targets": {"ratio": 1.5, "parse_s": 1.0},
              "dag": {m: {**d, "seconds": round(d["seconds"], 1), "run_s": round(d["run_s"], 1),
                      "parse_s": round(d["parse_s"], 3), "ratio_dag_over_plain": round(d["seconds"] / plain_s, 2),
                      "ratio_run_over_plain": round(d["run_s"] / plain_s, 2)} for m, d in dags.items()}}
    rows = [("plain: extract", f"{extract_s:.1f} s"), ("plain: dbt build", f"{dbt_s:.1f} s"),
            ("plain total", f"{plain_s:.1f} s")]
    for mode, d in dags.items():
        rows += [(f"DAG {mode} ({d['tasks']} tasks, airflow dags test)", f"{d['seconds']:.1f} s"),
                 (f"  ratio DAG {mode} / plain (target <= 1.5)", f"{d['seconds'] / plain_s:.2f}"),
                 ("  the run alone (first task start to last task end)", f"{d['run_s']:.1f} s"),
                 ("  ratio run alone / plain", f"{d['run_s'] / plain_s:.2f}"),
                 ("  DAG file parse, best of 3 (target <= 1 s)", f"{d['parse_s']:.2f} s"),
                 ("  same gold row counts as plain", str(d["same_gold_row_counts"]))]
    airflow_import = min(d["airflow_import_s"] for d in dags.values())
    rows.append(("Airflow + DagBag import (not counted in parse)", f"{airflow_import:.2f} s"))
    same = all(d["same_gold_row_counts"] for d in dags.values())
    width = max(len(r[0]) for r in rows)
    print(f"\n{'measure':<{width}}  value\n{'-' * width}  -----")
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "orchestration.json").write_text(json.dumps(result, indent=2))
    print(f"\nwrote {RESULTS / 'orchestration.json'} (log: {log})")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
