"""dbt build benchmark: one change day built incrementally against a full rebuild of the same data.

    python -m benchmarks.dbt_build [--scales 1,10]

Per scale, in `data/bench-dbt/scale-<N>/`: generate the source stand-in (day 0), extract it and build the
warehouse (set-up, not timed), then advance the source one change day and extract it. Then, on the same
lake, two timed commands:

- `incremental`: `dbt build` on the warehouse of day 0, as the nightly run does (without `dbt.log`, as the
  DAG runs dbt);
- `full`: `dbt build --full-refresh` on a copy of that day-0 warehouse (every model rebuilt from all of bronze);
- `nothing new`: `dbt build` once more on the incremental warehouse, with no new batch in the lake: what a
  nightly build costs whatever the data (dbt's start-up, every node's own cost, the tests over whole
  tables), the floor under the incremental build.

Both are the whole build: every seed, model, snapshot, data test and unit test, each after a `dbt parse`
with its own settings (untimed). The table gives the wall time of each command, dbt's own elapsed time,
the time spent in models and snapshots alone and in tests (each node's time added up over dbt's threads),
and the ratios incremental / full; below it, each build's slowest nodes.
Writes `benchmarks/results/dbt_build.json`; each build's `run_results.json` stays in its work folder
(`run_results-incremental.json`, `run_results-full.json`, `run_results-nothing-new.json`).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

from benchmarks.orchestration import run

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "data" / "bench-dbt"
RESULTS = ROOT / "benchmarks" / "results"
BIN = Path(sys.executable).parent


def _run(args: list[str], env: dict[str, str], log: Path) -> float:
    with open(log, "a") as fh:
        fh.write(f"\n$ logistics {' '.join(args)}\n")
    return run([str(BIN / "logistics"), *args], env, log)[0]


def _dbt_times(keep_as: Path) -> dict:
    """dbt's elapsed time, the seconds spent in models and snapshots and in tests, the node counts and the
    slowest nodes, from run_results (kept as `keep_as` for a closer look)."""
    results = ROOT / "target" / "run_results.json"
    shutil.copyfile(results, keep_as)
    run = json.loads(results.read_text())
    kinds: dict[str, int] = {}
    building = testing = 0.0
    for r in run["results"]:
        kind = r["unique_id"].split(".")[0]
        kinds[kind] = kinds.get(kind, 0) + 1
        if kind in ("model", "snapshot"):
            building += r["execution_time"]
        elif kind in ("test", "unit_test"):
            testing += r["execution_time"]
    slowest = sorted(run["results"], key=lambda r: -r["execution_time"])[:5]
    return {"dbt_elapsed_s": round(run["elapsed_time"], 2), "models_and_snapshots_s": round(building, 2),
            "tests_s": round(testing, 2), "nodes": kinds,
            "slowest": {r["unique_id"].split(".", 2)[2]: round(r["execution_time"], 2) for r in slowest}}


def bench(scale: float, log: Path) -> dict:
    work = WORK / f"scale-{scale:g}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if k not in ("LOGISTICS_SOURCE_URL", "LAKE_ROOT", "DBT_TARGET")}
    # no dbt.log, as in the DAG's nightly run (docs/orchestration.md)
    env.update(LOGISTICS_DATA_DIR=str(work), DUCKDB_PATH=str(work / "warehouse.duckdb"), DBT_LOG_LEVEL_FILE="none")
    print(f"scale {scale:g}: set-up (generate, extract, first build, one change day) ...", flush=True)
    _run(["source", "generate", "--scale", str(scale)], env, log)
    _run(["extract"], env, log)
    _run(["dbt", "build", "--quiet"], env, log)
    _run(["source", "advance"], env, log)
    _run(["extract"], env, log)
    shutil.copyfile(work / "warehouse.duckdb", work / "full_refresh.duckdb")

    # each timed build starts from a parsed project for its own settings (a changed DUCKDB_PATH makes dbt
    # parse everything again), so that both walls hold the same start-up and no parse
    print(f"scale {scale:g}: incremental build ...", flush=True)
    _run(["dbt", "parse", "--quiet"], env, log)
    incremental = {"wall_s": round(_run(["dbt", "build", "--quiet"], env, log), 2),
                   **_dbt_times(work / "run_results-incremental.json")}
    print(f"scale {scale:g}: nothing new ...", flush=True)
    nothing_new = {"wall_s": round(_run(["dbt", "build", "--quiet"], env, log), 2),
                   **_dbt_times(work / "run_results-nothing-new.json")}
    print(f"scale {scale:g}: full rebuild ...", flush=True)
    full_env = {**env, "DUCKDB_PATH": str(work / "full_refresh.duckdb")}
    _run(["dbt", "parse", "--quiet"], full_env, log)
    full = {"wall_s": round(_run(["dbt", "build", "--full-refresh", "--quiet"], full_env, log), 2),
            **_dbt_times(work / "run_results-full.json")}
    return {
        "scale": scale, "incremental": incremental, "full": full, "nothing_new": nothing_new,
        "ratio_nothing_new_wall": round(nothing_new["wall_s"] / full["wall_s"], 3),
        "ratio_wall": round(incremental["wall_s"] / full["wall_s"], 3),
        "ratio_dbt_elapsed": round(incremental["dbt_elapsed_s"] / full["dbt_elapsed_s"], 3),
        "ratio_models": round(incremental["models_and_snapshots_s"] / full["models_and_snapshots_s"], 3),
        "ratio_tests": round(incremental["tests_s"] / full["tests_s"], 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scales", default="1,10", help="comma-separated scale factors (default 1,10)")
    args = parser.parse_args(argv)
    WORK.mkdir(parents=True, exist_ok=True)
    log = WORK / "bench.log"
    log.write_text("")
    rows = [bench(float(s), log) for s in args.scales.split(",")]

    header = ("scale", "build", "wall s", "dbt elapsed s", "models+snapshots s", "tests s")
    print("\n| " + " | ".join(header) + " |\n|" + "---|" * len(header))
    for r in rows:
        for name in ("full", "incremental", "nothing_new"):
            m = r[name]
            print(f"| {r['scale']:g} | {name} | {m['wall_s']} | {m['dbt_elapsed_s']} | {m['models_and_snapshots_s']} "
                  f"| {m['tests_s']} |")
        print(f"| {r['scale']:g} | incremental / full | {r['ratio_wall']} | {r['ratio_dbt_elapsed']} "
              f"| {r['ratio_models']} | {r['ratio_tests']} |")
        print(f"| {r['scale']:g} | nothing new / full | {r['ratio_nothing_new_wall']} | | | |")
    nodes = rows[0]["full"]["nodes"]
    print(f"\nnodes per build: {nodes}")
    for r in rows:
        for name in ("full", "incremental", "nothing_new"):
            print(f"slowest nodes, scale {r['scale']:g} {name} (s): {r[name]['slowest']}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "dbt_build.json"
    out.write_text(json.dumps({"runs": rows}, indent=2))
    print(f"wrote {out.relative_to(ROOT)} (log: {log.relative_to(ROOT)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
