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

from logistics_etl.dev.airflow_env import airflow_command, with_airflow_env
from logistics_etl.dev.processes import (
    Background,
    dbt_bin,
    dbt_environ,
    load_airflow_settings,
    standin_path,
    start_migration,
)
from logistics_etl.settings import DAG_ID, PROJECT_ROOT, Settings
from logistics_etl.standin import generator


def cmd_run(args, settings: Settings) -> int:
    """Source (made once), dbt manifest, Airflow metadata DB, then `airflow dags test` and the summary.

    The dbt parse and the metadata DB's migration do not need the source: each runs in a process of its own,
    started first, while this one makes or reads the source stand-in."""
    started = time.monotonic()
    env = with_airflow_env(settings)
    migrate = start_migration(settings, env)  # creates data/airflow/, where both keep their output
    parse = Background("dbt parse", [dbt_bin(), "parse", "--quiet"], dbt_environ(settings),
                        settings.data_dir / "airflow" / "dbt-parse.log")
    try:
        path = standin_path(settings, None)
        if not path.exists():
            print(f"[1/4] generating the source stand-in at scale {args.scale} (seed {args.seed})")
            generator.generate(path, scale=args.scale, seed=args.seed)
        else:
            state = generator.read_state(path)
            print(f"[1/4] source stand-in exists: scale {state.scale}, seed {state.seed}, day {state.day}")
            if state.scale != args.scale or state.seed != args.seed:
                print(f"      (asked for scale {args.scale} seed {args.seed}: remove {path} or use "
                      "`logistics source generate --force` to start over)")
        print("[2/4] dbt parse -> target/manifest.json")
        if not parse.succeeded():
            return 1
        print(f"[3/4] Airflow metadata DB in {env['AIRFLOW_HOME']}, connections and Variables from "
              "airflow_settings.yaml")
        if not migrate.succeeded():
            return 1
    finally:
        parse.stop()
        migrate.stop()
    if load_airflow_settings(env):  # connections and Variables from airflow_settings.yaml
        return 1
    env["LOGISTICS_TASK_RETRIES"] = str(args.retries)
    when = [str(args.date)] if args.date else []  # default: now, so that the run's times in the UI are real
    print(f"[4/4] airflow dags test {' '.join([DAG_ID, *when])} (task retries: {args.retries}; "
          f"the deployed DAG retries {settings.task_retries} times)")
    log = settings.data_dir / "airflow" / f"dags-test-{args.date or date.today()}.log"
    rc, failed, run_state = dags_test(airflow_command(["dags", "test", DAG_ID, *when]), env, log, settings)
    if rc or run_state != "success":
        print(f"DAG run failed (exit {rc}, run state {run_state or 'unknown'}); failed tasks: "
              f"{', '.join(failed) or '?'}\nfull log: {log}")
        return rc or 1
    from logistics_etl.dev.report import gold_summary

    print(f"DAG run succeeded in {time.monotonic() - started:.0f}s (log: {log})")
    if failed:  # the one dbt build failed, and the node tasks' retries built its nodes
        print(f"failed, and made good by the tasks after them: {', '.join(failed)}")
    print()
    print(gold_summary(settings.duckdb_path))
    return 0


_TASK_START = re.compile(r"\[DAG TEST\] starting task_id=(\S+)")
_TASK_END = re.compile(r"\[DAG TEST\] end task task_id=(\S+)")
_NEW_STATE = re.compile(r"new_state=(\w+)")
_RUN_END = re.compile(r"DagRun Finished: .*?run_id=([^,]+), .*? state=(\w+)")


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


def dags_test(cmd: list[str], env: dict[str, str], log: Path, settings: Settings) -> tuple[int, list[str], str | None]:
    """Run `airflow dags test`: the whole output goes to `log`, one line per finished try of a task to the
    terminal, and each task's own lines to its log file in the Airflow home (`TaskLogs`). Returns its exit
    code, the tasks whose last try did not succeed (a try that ended waiting for its retry does not count), and
    the run's state as Airflow decided it (None if it never said).

    A `logistics run` that is interrupted or killed (SIGTERM) stops its Airflow run too."""
    last: dict[str, str] = {}  # each task's state after its last try so far
    done = 0
    state = run_state = run_id = None
    started = time.monotonic()
    task_logs = TaskLogs()

    def stop(signum, frame):
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        with open(log, "w") as fh, subprocess.Popen(cmd, env=env, cwd=PROJECT_ROOT, stdout=subprocess.PIPE,
                                                    stderr=subprocess.STDOUT, text=True, bufsize=1) as proc:
            try:
                for line in proc.stdout:
                    fh.write(line)
                    if m := _RUN_END.search(line):
                        run_id, run_state = m.group(1), m.group(2)
                    elif m := _NEW_STATE.search(line):
                        state = m.group(1)
                    task_logs.feed(line, state)
                    if m := _TASK_END.search(line):
                        done += 1
                        print(f"  {time.monotonic() - started:6.1f}s  #{done:<3} {state or '?':<8} {m.group(1)}",
                              flush=True)
                        last[m.group(1)] = state or "?"
                        state = None
                rc = proc.wait()
            except BaseException:
                proc.kill()
                raise
    finally:
        signal.signal(signal.SIGTERM, previous)
    if run_id:
        task_logs.write(settings, run_id)
    return rc, [t for t, s in last.items() if s not in ("success", "skipped")], run_state
