"""Orchestration benchmark: the same day of work run plain and through the DAG, in the same run.

    uv run python -m benchmarks.orchestration [--scale 1] [--modes watcher,local] [--repeat 3]

One source stand-in (day 0 at the given scale) is read by both:

- `plain`: `logistics extract` (all nine tables) then `dbt build` (every model, seed and test), each a
  command as a person would type it, into an empty lake and warehouse;
- `dag`: `logistics airflow dags test medallion_architecture_etl` (Airflow's `dags test`, its in-process
  execution API generating one API version: `logistics_etl/dags_test.py`, as `logistics run` runs the
  DAG) with cosmos as configured in the DAG, once per
  execution mode asked for (`--modes local,watcher`, the setting LOGISTICS_DBT_EXECUTION), each into an
  empty lake and warehouse of its own (dbt parse, the metadata DB and the settings load happen before
  the clock starts: they are set-up, not the night's work). Reported twice: the whole command, and the
  run alone as Airflow's metadata DB records it (first task start to last task end, without the
  command's own Airflow import and DAG parse, which a running scheduler does not repeat per run).

`--repeat` rounds (default 3), each running plain and then the DAG in every mode, each from an empty lake
and warehouse; the fastest of each counts, as in the extract benchmark (this 2-core VM shares its host: the
same `airflow dags test` took 28 s and 36 s within ten minutes), and the table also gives each round's own
ratio. It also times the DAG file's parse in a fresh process (Airflow and its DagBag imported first, as in the DAG
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
    """Seconds from the first task's start to the last task's end of the latest DAG run, and its task count,
    as Airflow's metadata DB records them: the run without `airflow dags test`'s own start-up (import, parse)."""
    import sqlite3

    con = sqlite3.connect(airflow_home / "airflow.db")
    try:
        span, tasks = con.execute(
            "select (julianday(max(end_date)) - julianday(min(start_date))) * 86400, count(*) from task_instance "
            "where dag_id = 'medallion_architecture_etl' and run_id = (select run_id from dag_run "
            "where dag_id = 'medallion_architecture_etl' order by id desc limit 1)").fetchone()
    finally:
        con.close()
    return span, tasks


def _empty(data_dir: Path) -> None:
    """No lake and no warehouse: every round starts from the same state (the first night)."""
    shutil.rmtree(data_dir / "lake", ignore_errors=True)
    (data_dir / "warehouse.duckdb").unlink(missing_ok=True)


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
    ap.add_argument("--repeat", type=int, default=3,
                    help="rounds, each running plain and then the DAG in every mode; the fastest of each counts")
    args = ap.parse_args()
    if args.repeat < 1:
        ap.error("--repeat must be at least 1")
    logistics = str(BIN / "logistics")
    modes = args.modes.split(",")
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    log = WORK / "benchmark.log"
    source = WORK / "source" / "logisticsdb.sqlite"
    plain = WORK / "plain"
    print(f"source stand-in at scale {args.scale} -> {source}", flush=True)
    timed([logistics, "source", "generate", "--scale", str(args.scale), "--source", f"sqlite://{source}"],
           _env(plain, source), log)

    from logistics_etl.airflow_env import airflow_env
    from logistics_etl.generator import read_state
    from logistics_etl.settings import load_settings

    day = read_state(source).clock.date()
    rounds: list[dict] = []
    for n in range(1, args.repeat + 1):
        print(f"round {n}/{args.repeat}: plain (logistics extract + dbt build) ...", flush=True)
        _empty(plain)
        extract_s = timed([logistics, "extract"], _env(plain, source), log)
        dbt_s = timed([logistics, "dbt", "build", "--quiet"], _env(plain, source), log)
        one = {"plain_extract_s": extract_s, "plain_dbt_build_s": dbt_s, "plain_s": extract_s + dbt_s, "dag": {}}
        for mode in modes:
            folder = WORK / f"dag-{mode}"
            env = {**_env(folder, source), "LOGISTICS_DBT_EXECUTION": mode}
            _empty(folder)
            # set-up, not timed: the manifest the DAG is parsed from (plain's build rewrote target/), the
            # metadata DB, connections and Variables
            timed([logistics, "dbt", "parse", "--quiet"], env, log)
            timed([logistics, "airflow-settings", "load"], env, log)
            print(f"round {n}/{args.repeat}: dag ({mode}): airflow dags test ...", flush=True)
            seconds = timed([logistics, "airflow", "dags", "test", "medallion_architecture_etl", str(day)], env, log)
            run_s, run_tasks = _run_span(folder / "airflow")
            one["dag"][mode] = {"seconds": seconds, "run_s": run_s, "run_tasks": run_tasks,
                                "same_gold_row_counts": _gold_counts(plain / "warehouse.duckdb") ==
                                _gold_counts(folder / "warehouse.duckdb")}
        rounds.append(one)

    dags = {}
    for mode in modes:
        os.environ.update({**_env(WORK / f"dag-{mode}", source), "LOGISTICS_DBT_EXECUTION": mode})
        probe_env = {**os.environ, **airflow_env(load_settings())}
        parses = [_parse_once(probe_env) for _ in range(3)]
        runs = [r["dag"][mode] for r in rounds]
        dags[mode] = {"seconds": min(d["seconds"] for d in runs), "run_s": min(d["run_s"] for d in runs),
                      "run_tasks": runs[0]["run_tasks"], "tasks": parses[0]["tasks"],
                      "parse_s": min(p["dag_file_s"] for p in parses),
                      "airflow_import_s": min(p["airflow_import_s"] for p in parses),
                      "same_gold_row_counts": all(d["same_gold_row_counts"] for d in runs),
                      "round_ratios": [round(r["dag"][mode]["seconds"] / r["plain_s"], 2) for r in rounds]}
    extract_s = min(r["plain_extract_s"] for r in rounds)
    dbt_s = min(r["plain_dbt_build_s"] for r in rounds)
    plain_s = min(r["plain_s"] for r in rounds)

    result = {"scale": args.scale, "repeat": args.repeat, "plain_extract_s": round(extract_s, 1),
              "plain_dbt_build_s": round(dbt_s, 1), "plain_s": round(plain_s, 1),
              "targets": {"ratio": 1.5, "parse_s": 1.0},
              "rounds": [{"plain_s": round(r["plain_s"], 1),
                          "dag_s": {m: round(d["seconds"], 1) for m, d in r["dag"].items()},
                          "run_s": {m: round(d["run_s"], 1) for m, d in r["dag"].items()}} for r in rounds],
              "dag": {m: {**d, "seconds": round(d["seconds"], 1), "run_s": round(d["run_s"], 1),
                      "parse_s": round(d["parse_s"], 3), "ratio_dag_over_plain": round(d["seconds"] / plain_s, 2),
                      "ratio_run_over_plain": round(d["run_s"] / plain_s, 2)} for m, d in dags.items()}}
    best = f"fastest of {args.repeat}" if args.repeat > 1 else "one run"
    rows = [(f"plain: extract ({best})", f"{extract_s:.1f} s"), (f"plain: dbt build ({best})", f"{dbt_s:.1f} s"),
            (f"plain total ({best})", f"{plain_s:.1f} s")]
    for mode, d in dags.items():
        rows += [(f"DAG {mode} ({d['tasks']} tasks, airflow dags test, {best})", f"{d['seconds']:.1f} s"),
                 (f"  ratio DAG {mode} / plain (target <= 1.5)", f"{d['seconds'] / plain_s:.2f}"),
                 ("  ratio in each round", ", ".join(f"{x:.2f}" for x in d["round_ratios"])),
                 (f"  the run alone (first task start to last task end, {best})", f"{d['run_s']:.1f} s"),
                 ("  ratio run alone / plain", f"{d['run_s'] / plain_s:.2f}"),
                 ("  DAG file parse, best of 3 (target <= 1 s)", f"{d['parse_s']:.2f} s"),
                 ("  same gold row counts as plain, every round", str(d["same_gold_row_counts"]))]
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
