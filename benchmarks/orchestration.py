"""Orchestration benchmark: the same day of work run plain and through the DAG, in the same run.

    uv run python -m benchmarks.orchestration [--scale 1]

One source stand-in (day 0 at the given scale) is read by both:

- `plain`: `logistics extract` (all nine tables) then `dbt build` (every model, seed and test), each a
  command as a person would type it, into an empty lake and warehouse;
- `dag`: `airflow dags test medallion_architecture_etl` with cosmos as configured in the DAG, into an
  empty lake and warehouse of its own (dbt parse, the metadata DB and the settings load happen before
  the clock starts: they are set-up, not the night's work).

It also times the DAG file's parse in a fresh process (Airflow's import apart). Both warehouses must
end with the same gold row counts. Prints a table and writes `benchmarks/results/orchestration.json`.
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

PARSE_PROBE = """
import importlib.util, json, sys, time
t0 = time.perf_counter()
import airflow  # noqa
t1 = time.perf_counter()
spec = importlib.util.spec_from_file_location("dag", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
t2 = time.perf_counter()
print(json.dumps({"airflow_import_s": t1 - t0, "dag_file_s": t2 - t1, "tasks": len(module.DAG.tasks)}))
"""


def _env(data_dir: Path, source: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("LAKE_ROOT", "DUCKDB_PATH", "DBT_TARGET")}
    env.update(LOGISTICS_DATA_DIR=str(data_dir), LOGISTICS_SOURCE_URL=f"sqlite://{source}",
               LOGISTICS_TASK_RETRIES="0")
    return env


def _timed(cmd: list[str], env: dict[str, str], log: Path) -> float:
    started = time.perf_counter()
    with open(log, "a") as fh:
        proc = subprocess.run(cmd, env=env, cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT)
    if proc.returncode:
        raise SystemExit(f"{' '.join(cmd[:4])} failed ({proc.returncode}); see {log}")
    return time.perf_counter() - started


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
    args = ap.parse_args()
    logistics = str(BIN / "logistics")
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    log = WORK / "benchmark.log"
    source = WORK / "source" / "logisticsdb.sqlite"
    plain, dag = WORK / "plain", WORK / "dag"
    print(f"source stand-in at scale {args.scale} -> {source}", flush=True)
    _timed([logistics, "source", "generate", "--scale", str(args.scale), "--source", f"sqlite://{source}"],
           _env(plain, source), log)

    print("plain: logistics extract + dbt build ...", flush=True)
    extract_s = _timed([logistics, "extract"], _env(plain, source), log)
    dbt_s = _timed([logistics, "dbt", "build", "--quiet"], _env(plain, source), log)
    plain_s = extract_s + dbt_s

    print("dag: set-up (dbt parse, airflow db migrate, settings) ...", flush=True)
    env = _env(dag, source)
    _timed([logistics, "dbt", "parse", "--quiet"], env, log)
    _timed([logistics, "airflow-settings", "load"], env, log)
    print("dag: airflow dags test ...", flush=True)
    from logistics_etl.generator import read_state

    day = read_state(source).clock.date()
    dag_s = _timed([logistics, "airflow", "dags", "test", "medallion_architecture_etl", str(day)], env, log)

    from logistics_etl.airflow_env import airflow_env
    from logistics_etl.settings import load_settings

    os.environ.update(_env(dag, source))
    probe_env = {**os.environ, **airflow_env(load_settings())}
    parses = []
    for _ in range(3):
        out = subprocess.run([sys.executable, "-c", PARSE_PROBE, str(ROOT / "dags" / "medallion_architecture_etl.py")],
                             env=probe_env, cwd=WORK, capture_output=True, text=True, check=True).stdout
        parses.append(json.loads(out.strip().splitlines()[-1]))
    parse_s = min(p["dag_file_s"] for p in parses)

    same = _gold_counts(plain / "warehouse.duckdb") == _gold_counts(dag / "warehouse.duckdb")
    result = {
        "scale": args.scale, "plain_extract_s": round(extract_s, 1), "plain_dbt_build_s": round(dbt_s, 1),
        "plain_s": round(plain_s, 1), "dag_s": round(dag_s, 1), "ratio_dag_over_plain": round(dag_s / plain_s, 2),
        "dag_tasks": parses[0]["tasks"], "dag_parse_s": round(parse_s, 3),
        "airflow_import_s": round(min(p["airflow_import_s"] for p in parses), 3),
        "same_gold_row_counts": same, "targets": {"ratio": 1.5, "parse_s": 1.0},
    }
    rows = [("plain: extract", f"{extract_s:.1f} s"), ("plain: dbt build", f"{dbt_s:.1f} s"),
            ("plain total", f"{plain_s:.1f} s"), (f"DAG ({result['dag_tasks']} tasks, airflow dags test)",
                                                   f"{dag_s:.1f} s"),
            ("ratio DAG / plain (target <= 1.5)", f"{dag_s / plain_s:.2f}"),
            ("DAG file parse, best of 3 (target <= 1 s)", f"{parse_s:.2f} s"),
            ("Airflow import (not counted in parse)", f"{result['airflow_import_s']:.2f} s"),
            ("same gold row counts", str(same))]
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
