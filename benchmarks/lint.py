"""Lint benchmark: `sqlfluff lint` on the whole project, as `.sqlfluff` configures it, against the same lint
with sqlfluff's Python parser (the baseline, measured in the same run).

    python -m benchmarks.lint [--repeat 3]

The project's lint parses with the Rust parser of `sqlfluffrs` (sqlfluff's `rs` extra; `use_rust_parser =
auto` takes it when installed); the baseline adds a config file that sets `use_rust_parser = False`. Both
use the dbt templater and a process per core. Prints a table, writes `benchmarks/results/lint.json`:
the best wall time of each, the ratio project / baseline and the target (at most 30 s on 2 cores).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
TARGET_S = 30.0


def _lint(extra_config: Path | None) -> float:
    cmd = [str(Path(sys.executable).with_name("sqlfluff")), "lint"]
    if extra_config:
        cmd += ["--config", str(extra_config)]
    started = time.monotonic()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "DBT_PROFILES_DIR": str(ROOT / "profiles")})
    took = time.monotonic() - started
    if proc.returncode:
        sys.exit(f"sqlfluff lint exited {proc.returncode}:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    return took


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="rounds; the best of each is kept (default 3)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        python_parser = Path(tmp) / "python-parser.cfg"
        python_parser.write_text("[sqlfluff]\nuse_rust_parser = False\n")
        times: dict[str, list[float]] = {"project (Rust parser)": [], "baseline (Python parser)": []}
        for round_no in range(1, args.repeat + 1):
            for name, config in (("baseline (Python parser)", python_parser), ("project (Rust parser)", None)):
                times[name].append(round(_lint(config), 2))
                print(f"round {round_no}: {name} {times[name][-1]:.1f}s", flush=True)
    best = {name: min(t) for name, t in times.items()}
    ratio = round(best["project (Rust parser)"] / best["baseline (Python parser)"], 3)
    rows = [{"lint": name, "best_s": best[name], "rounds_s": times[name]} for name in times]
    print(f"\n{'lint':<26} {'best s':>7}  rounds")
    for r in rows:
        print(f"{r['lint']:<26} {r['best_s']:>7.1f}  {', '.join(f'{t:.1f}' for t in r['rounds_s'])}")
    print(f"project / baseline: {ratio}; target: project <= {TARGET_S:.0f} s")
    RESULTS.mkdir(parents=True, exist_ok=True)
    result = {"benchmark": "lint", "command": "python -m benchmarks.lint", "cores": os.cpu_count(),
              "repeat": args.repeat, "target_s": TARGET_S, "project_over_baseline": ratio,
              "project_within_target": best["project (Rust parser)"] <= TARGET_S, "runs": rows}
    (RESULTS / "lint.json").write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
