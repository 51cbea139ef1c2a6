"""`logistics run`: the whole night on the embedded defaults through `airflow dags test`, then the gold summary.

The task lines printed as the run goes, each task's log written where the UI finds it, and the run's state
as Airflow decided it.
"""

from __future__ import annotations

import re
import signal
import subprocess
import time
from datetime import date
from pathlib import Path
from typing import NamedTuple

from logistics_etl.dev.airflow_env import airflow_command, base_log_folder, with_airflow_env
from logistics_etl.dev.processes import (
    Background,
    dbt_bin,
    dbt_environ,
    load_airflow_settings,
    standin_path,
    start_migration,
)
from logistics_etl.dev.run_progress import RunProgress
from logistics_etl.settings import DAG_ID, DBT_LAYERS, PROJECT_ROOT, Settings
from logistics_etl.standin import generator


def cmd_run(args, settings: Settings) -> int:
    """Source (made once), dbt manifest, Airflow metadata DB, then `airflow dags test` and the summary.

    The dbt parse and the metadata DB's migration do not need the source: each runs in a process of its own,
    started first, while this one makes or reads the source stand-in."""
    times = Timings()
    env = with_airflow_env(settings)
    migrate = start_migration(settings, env)  # creates data/airflow/, where both keep their output
    parse = Background("dbt parse", [dbt_bin(), "parse", "--quiet"], dbt_environ(settings),
                        settings.data_dir / "airflow" / "dbt-parse.log")
    try:
        path = standin_path(settings, None)
        if not path.exists():
            print(f"[1/4] generating the source stand-in at scale {args.scale} (seed {args.seed})", flush=True)
            generator.generate(path, scale=args.scale, seed=args.seed,
                               progress=lambda table, rows: print(f"      {table}: {rows} rows", flush=True))
        else:
            state = generator.read_state(path)
            print(f"[1/4] source stand-in exists: scale {state.scale}, seed {state.seed}, day {state.day}")
            if state.scale != args.scale or state.seed != args.seed:
                print(f"      (asked for scale {args.scale} seed {args.seed}: remove {path} or use "
                      "`logistics source generate --force` to start over)")
        times.mark("source")
        print("[2/4] dbt parse -> target/manifest.json", flush=True)
        if not parse.succeeded():
            return 1
        print(f"[3/4] Airflow metadata DB in {env['AIRFLOW_HOME']}, connections and Variables from "
              "airflow_settings.yaml", flush=True)
        if not migrate.succeeded():
            return 1
    finally:
        parse.stop()
        migrate.stop()
    if load_airflow_settings(env):  # connections and Variables from airflow_settings.yaml
        return 1
    times.mark("dbt parse, metadata DB, settings")
    env["LOGISTICS_TASK_RETRIES"] = str(args.retries)
    when = [str(args.date)] if args.date else []  # default: now, so that the run's times in the UI are real
    print(f"[4/4] airflow dags test {' '.join([DAG_ID, *when])} (task retries: {args.retries}; "
          f"the deployed DAG retries {settings.task_retries} times)", flush=True)
    log = settings.data_dir / "airflow" / f"dags-test-{args.date or date.today()}.log"
    run = dags_test(airflow_command(["dags", "test", DAG_ID, *when]), env, log, settings)
    times.mark("airflow dags test")
    if run.rc or run.run_state != "success":
        print(f"DAG run failed (exit {run.rc}, run state {run.run_state or 'unknown'}); failed tasks: "
              f"{', '.join(run.failed) or '?'}\nfull log: {log}")
        return run.rc or 1
    from logistics_etl.dev.report import gold_summary

    took = f" in {run.run_seconds:.0f}s" if run.run_seconds is not None else ""
    print(f"DAG run succeeded{took} (its whole output: {log})")
    if run.failed:  # the one dbt build failed, and the node tasks' retries built its nodes
        print(f"failed, and made good by the tasks after them: {', '.join(run.failed)}")
    print()
    print(gold_summary(settings.duckdb_path))
    times.mark("summary")
    print()
    print(times.line(run.run_seconds))
    print(next_steps(settings, log))
    return 0


class Timings:
    """The wall time of each step of `logistics run`, from its start."""

    def __init__(self) -> None:
        self.started = self.last = time.monotonic()
        self.steps: list[tuple[str, float]] = []

    def mark(self, step: str) -> None:
        now = time.monotonic()
        self.steps.append((step, now - self.last))
        self.last = now

    def line(self, run_seconds: float | None) -> str:
        parts = [f"{step} {seconds:.1f}s" + (f" (the DAG run itself {run_seconds:.1f}s)"
                                             if step == "airflow dags test" and run_seconds is not None else "")
                 for step, seconds in self.steps]
        return f"Times: {'; '.join(parts)}; total {time.monotonic() - self.started:.1f}s"


def next_steps(settings: Settings, log: Path) -> str:
    """What to open next, as commands that work in a shell where `. .venv/bin/activate` has run."""
    return "\n".join([
        "Next (in a new shell, `. .venv/bin/activate` first):",
        "  logistics ui start            the Airflow UI over this run: http://127.0.0.1:8080 (prints the login)",
        "  logistics dbt docs generate && logistics dbt docs serve --port 8081",
        "                                the dbt docs of the models, offline: http://127.0.0.1:8081",
        "  logistics source advance      one more day of source changes; then `make run` again for its night",
        f"  logs: {log} (this run), {base_log_folder(settings)}/ (each task's, as the UI shows them)"])


_TASK_START = re.compile(r"\[DAG TEST\] starting task_id=(\S+)")
_TASK_END = re.compile(r"\[DAG TEST\] end task task_id=(\S+)")
_NEW_STATE = re.compile(r"new_state=(\w+)")
_RUN_END = re.compile(r"DagRun Finished: .*?run_id=([^,]+), .*? state=(\w+)")
_RUN_DURATION = re.compile(r"run_duration=([\d.]+)")


class DagsTest(NamedTuple):
    """How an `airflow dags test` run ended: its exit code, the tasks whose last try did not succeed (a try that
    ended waiting for its retry does not count), the run's state as Airflow decided it (None if it never said)
    and the run's own duration as Airflow recorded it."""
    rc: int
    failed: list[str]
    run_state: str | None
    run_seconds: float | None


class TaskLogs:
    """The lines of each try of each task of an `airflow dags test` run (which prints every task's log to its
    own output, one task at a time), written where a scheduled run's task logs go, so that the UI shows them."""

    def __init__(self) -> None:
        self.lines: dict[tuple[str, int], list[str]] = {}
        self.attempt: dict[str, int] = {}
        self.current: tuple[str, int] | None = None

    def feed(self, line: str, state: str | None) -> None:
        if m := _TASK_START.search(line):
            self.current = (m.group(1), self.attempt.setdefault(m.group(1), 1))
        if self.current:
            self.lines.setdefault(self.current, []).append(line)
        if (m := _TASK_END.search(line)) and self.current:
            if state in ("up_for_retry", "failed") and self.current[0] == m.group(1):
                self.attempt[m.group(1)] += 1  # (a deferral or a reschedule goes on in the same try)
            self.current = None

    def write(self, settings: Settings, run_id: str) -> None:
        from logistics_etl.dev.airflow_env import task_log_path

        for (task_id, attempt), lines in self.lines.items():
            path = task_log_path(settings, DAG_ID, run_id, task_id, attempt)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("".join(lines))


def dags_test(cmd: list[str], env: dict[str, str], log: Path, settings: Settings) -> DagsTest:
    """Run `airflow dags test`: the whole output goes to `log`, its progress to the terminal (`RunProgress`:
    a line per finished try of a task, the node tasks by layer), and each task's own lines to its log file in
    the Airflow home (`TaskLogs`).

    A `logistics run` that is interrupted or killed (SIGTERM) stops its Airflow run too."""
    last: dict[str, str] = {}  # each task's state after its last try so far
    state = run_state = run_id = None
    run_seconds: float | None = None
    task_logs = TaskLogs()
    progress = RunProgress(DBT_LAYERS)

    def stop(signum, frame):
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        with open(log, "w") as fh, subprocess.Popen(cmd, env=env, cwd=PROJECT_ROOT, stdout=subprocess.PIPE,
                                                    stderr=subprocess.STDOUT, text=True, bufsize=1) as proc:
            try:
                for line in proc.stdout:
                    fh.write(line)
                    progress.line(line)
                    if m := _RUN_END.search(line):
                        run_id, run_state = m.group(1), m.group(2)
                        if d := _RUN_DURATION.search(line):
                            run_seconds = float(d.group(1))
                    elif m := _NEW_STATE.search(line):
                        state = m.group(1)
                    task_logs.feed(line, state)
                    if m := _TASK_START.search(line):
                        progress.task_started(m.group(1))
                    if m := _TASK_END.search(line):
                        progress.task_ended(m.group(1), state or "?")
                        last[m.group(1)] = state or "?"
                        state = None
                rc = proc.wait()
            except BaseException:
                proc.kill()
                raise
    finally:
        progress.close()
        signal.signal(signal.SIGTERM, previous)
    if run_id:
        task_logs.write(settings, run_id)
    return DagsTest(rc, [t for t, s in last.items() if s not in ("success", "skipped")], run_state,
                    run_seconds)
