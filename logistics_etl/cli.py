"""`logistics`: every step of the pipeline outside Airflow, for people and tests.

    logistics source generate|advance|status   the embedded LogisticsDB stand-in
    logistics extract                           source tables -> lake batches
    logistics dbt ARGS...                       dbt with the project's profiles and paths
    logistics airflow ARGS...                   the project's local Airflow CLI
    logistics run                               the whole DAG end to end, then the gold summary
    logistics postgres start|load|stop          a local PostgreSQL copy of the stand-in (networked source)
    logistics azurite start|stop                the Azure Storage emulator, for a lake on abfs://
    logistics ui start|stop                     a local Airflow with its UI (API server, scheduler, DAG processor)
    logistics airflow-settings load             airflow_settings.yaml -> the local Airflow's connections, Variables
    logistics summary | history                 gold numbers; extract batches per table
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

from logistics_etl import generator
from logistics_etl.airflow_env import airflow_command, with_airflow_env
from logistics_etl.lake import LakeError
from logistics_etl.settings import PROJECT_ROOT, ConfigError, Settings, load_settings

DAG_ID = "medallion_architecture_etl"


def _at_least(minimum: int):
    """An argparse type: a whole number >= minimum (argparse names the option in its error)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        return value
    parse.__name__ = f"whole number >= {minimum}"
    return parse


def _positive_scale(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def _sqlite_path(settings: Settings, override: str | None) -> Path:
    url = override or settings.source_url
    if not url.startswith("sqlite://"):
        raise ConfigError(f"the stand-in commands work on a sqlite:// source, not {url!r}")
    return Path(url.removeprefix("sqlite://"))


def cmd_source(args, settings: Settings) -> int:
    path = _sqlite_path(settings, args.source)
    if args.action == "generate":
        t = time.monotonic()
        state = generator.generate(path, scale=args.scale, seed=args.seed, overwrite=args.force)
        print(f"generated {path} (scale {state.scale}, seed {state.seed}) in {time.monotonic() - t:.1f}s")
    elif args.action == "advance":
        state = generator.advance(path, args.days, progress=lambda d: print(f"applied change day {d}"))
    else:
        state = generator.read_state(path)
    print(f"source clock {state.clock.isoformat()} (day {state.day}); rows: "
          + ", ".join(f"{t}={n}" for t, n in generator.table_counts(path).items()))
    return 0


def cmd_extract(args, settings: Settings) -> int:
    from logistics_etl.connections import open_lake, resolve_source_url
    from logistics_etl.contract import resolve_tables
    from logistics_etl.extract import extract_table, progress_logger

    tables = resolve_tables(args.tables.split(",") if args.tables else None)
    lake = open_lake(settings, args.lake)
    url = resolve_source_url(settings, args.source)
    tty = sys.stdout.isatty()
    for table in tables:
        # on a terminal the count in place; into a file or a pipe a line at most every LOGISTICS_PROGRESS_LOG_SECONDS
        progress = (lambda t, n: print(f"\r  {t}: {n} rows", end="", flush=True)) if tty else \
            progress_logger(settings.progress_log_seconds, emit=lambda line: print(f"  {line}", flush=True))
        r = extract_table(table, url, lake, full_refresh=args.full_refresh, batch_size=args.batch_size or
                          settings.batch_size, parallel=args.parallel or settings.extract_parallelism,
                          full_read_parallel=settings.full_read_parallelism,
                          parallel_min_keys=settings.parallel_min_keys,
                          page_rows=settings.extract_page_rows if args.page_rows is None else args.page_rows,
                          progress=progress)
        clear = "\r\033[K" if tty else ""
        print(f"{clear}{r.table:<15} batch {r.batch_id:>4} {r.mode:<11} rows {r.rows:>9} "
              f"deleted {r.deleted_rows:>6} {r.bytes / 1e6:8.2f} MB {r.seconds:6.2f}s")
    return 0


def _run(cmd: list[str], env: dict[str, str]) -> int:
    return subprocess.run(cmd, env=env, cwd=PROJECT_ROOT).returncode


def dbt_environ(settings: Settings) -> dict[str, str]:
    from logistics_etl.connections import dbt_lake_env

    return {**os.environ, **settings.dbt_env(), **dbt_lake_env(settings),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "False", "DO_NOT_TRACK": "1"}


def _dbt_bin() -> str:
    return str(Path(sys.executable).with_name("dbt"))


def cmd_dbt(args, settings: Settings) -> int:
    return _run([_dbt_bin(), *args.dbt_args], dbt_environ(settings))


def cmd_airflow(args, settings: Settings) -> int:
    return _run(airflow_command(args.airflow_args), with_airflow_env(settings))


def _load_airflow_settings(env: dict[str, str], path: str | None = None) -> int:
    cmd = [sys.executable, "-m", "logistics_etl.airflow_settings", *([path] if path else [])]
    return subprocess.run(cmd, env=env, cwd=PROJECT_ROOT).returncode


def cmd_airflow_settings(args, settings: Settings) -> int:
    env = with_airflow_env(settings)
    if not _migrate(settings, env).succeeded():
        return 1
    return _load_airflow_settings(env, args.file)


def _migrate(settings: Settings, env: dict[str, str]) -> _Background:
    """`airflow db migrate` of the local metadata DB, started now; its output in data/airflow/db-migrate.log."""
    logs = settings.data_dir / "airflow"
    logs.mkdir(parents=True, exist_ok=True)
    return _Background("airflow db migrate", airflow_command(["db", "migrate"]), env, logs / "db-migrate.log")


def cmd_run(args, settings: Settings) -> int:
    """Source (made once), dbt manifest, Airflow metadata DB, then `airflow dags test` and the summary.

    The dbt parse and the metadata DB's migration do not need the source: each runs in a process of its own,
    started first, while this one makes or reads the source stand-in."""
    started = time.monotonic()
    env = with_airflow_env(settings)
    migrate = _migrate(settings, env)  # creates data/airflow/, where both keep their output
    parse = _Background("dbt parse", [_dbt_bin(), "parse", "--quiet"], dbt_environ(settings),
                        settings.data_dir / "airflow" / "dbt-parse.log")
    try:
        path = _sqlite_path(settings, None)
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
    if _load_airflow_settings(env):  # connections and Variables from airflow_settings.yaml
        return 1
    env["LOGISTICS_TASK_RETRIES"] = str(args.retries)
    when = [str(args.date)] if args.date else []  # default: now, so that the run's times in the UI are real
    print(f"[4/4] airflow dags test {' '.join([DAG_ID, *when])} (task retries: {args.retries}; "
          f"the deployed DAG retries {settings.task_retries} times)")
    log = settings.data_dir / "airflow" / f"dags-test-{args.date or date.today()}.log"
    rc, failed, run_state = _dags_test(airflow_command(["dags", "test", DAG_ID, *when]), env, log, settings)
    if rc or run_state != "success":
        print(f"DAG run failed (exit {rc}, run state {run_state or 'unknown'}); failed tasks: "
              f"{', '.join(failed) or '?'}\nfull log: {log}")
        return rc or 1
    from logistics_etl.report import gold_summary

    print(f"DAG run succeeded in {time.monotonic() - started:.0f}s (log: {log})")
    if failed:  # the one dbt build failed, and the node tasks' retries built its nodes
        print(f"failed, and made good by the tasks after them: {', '.join(failed)}")
    print()
    print(gold_summary(settings.duckdb_path))
    return 0


class _Background:
    """A command of `logistics run`'s set-up, started at once in its own process, its output in `log`."""

    def __init__(self, name: str, cmd: list[str], env: dict[str, str], log: Path):
        self.name, self.log = name, log
        with open(log, "w") as out:
            self.proc = subprocess.Popen(cmd, env=env, cwd=PROJECT_ROOT, stdout=out, stderr=subprocess.STDOUT)

    def succeeded(self) -> bool:
        """Wait for it; on a failure print its output (the end of it) and say where the whole is."""
        if self.proc.wait() == 0:
            return True
        output = self.log.read_text(errors="replace")
        print(f"{self.name} failed (exit {self.proc.returncode}); its output ({self.log}):\n{output[-4000:]}")
        return False

    def stop(self) -> None:
        """End it if it still runs (this command was interrupted, or failed before waiting for it)."""
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait()


_TASK_START = re.compile(r"\[DAG TEST\] starting task_id=(\S+)")
_TASK_END = re.compile(r"\[DAG TEST\] end task task_id=(\S+)")
_NEW_STATE = re.compile(r"new_state=(\w+)")
_RUN_END = re.compile(r"DagRun Finished: .*?run_id=([^,]+), .*? state=(\w+)")


class _TaskLogs:
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
        from logistics_etl.airflow_env import task_log_path

        for (task_id, attempt), lines in self.lines.items():
            path = task_log_path(settings, DAG_ID, run_id, task_id, attempt)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("".join(lines))


def _dags_test(cmd: list[str], env: dict[str, str], log: Path, settings: Settings) -> tuple[int, list[str], str | None]:
    """Run `airflow dags test`: the whole output goes to `log`, one line per finished try of a task to the
    terminal, and each task's own lines to its log file in the Airflow home (`_TaskLogs`). Returns its exit
    code, the tasks whose last try did not succeed (a try that ended waiting for its retry does not count), and
    the run's state as Airflow decided it (None if it never said).

    A `logistics run` that is interrupted or killed (SIGTERM) stops its Airflow run too."""
    last: dict[str, str] = {}  # each task's state after its last try so far
    done = 0
    state = run_state = run_id = None
    started = time.monotonic()
    task_logs = _TaskLogs()

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


def cmd_postgres(args, settings: Settings) -> int:
    from logistics_etl.postgres import LocalPostgres, PostgresError, copy_standin

    server = LocalPostgres(Path(args.dir).resolve() if args.dir else settings.data_dir / "postgres", port=args.port)
    try:
        if args.action == "stop":
            print(f"stopped PostgreSQL in {server.data}" if server.stop() else
                  f"no PostgreSQL was running in {server.data}")
            return 0
        url = server.start()
        print(f"PostgreSQL running: {url}")
        if args.action == "load":
            path = _sqlite_path(settings, None)
            counts = copy_standin(path, url, progress=lambda t, n: print(f"  copied {t}: {n} rows"))
            print(f"loaded {sum(counts.values())} rows into schema dbo; extract with --source {url}")
    except PostgresError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def cmd_azurite(args, settings: Settings) -> int:
    from logistics_etl.azurite import AzuriteError, LocalAzurite

    server = LocalAzurite(Path(args.dir).resolve() if args.dir else settings.data_dir / "azurite", port=args.port)
    try:
        if args.action == "stop":
            print(f"stopped Azurite in {server.root}" if server.stop() else
                  f"no Azurite was running from {server.root}")
            return 0
        server.start()
    except AzuriteError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"Azurite blob service at {server.endpoint} (the emulator's public development account).\n"
          f"Use it as the lake:\n  export LAKE_ROOT=abfs://lake/logistics\n"
          f"  export AZURE_STORAGE_CONNECTION_STRING='{server.connection_string}'")
    return 0


def cmd_ui(args, settings: Settings) -> int:
    from logistics_etl import airflow_ui

    if args.action == "stop":
        stopped = airflow_ui.stop(settings)
        print(f"stopped {', '.join(stopped)}" if stopped else "no local Airflow UI was running")
        return 0
    if not settings.manifest_path.exists() and _run([_dbt_bin(), "parse", "--quiet"], dbt_environ(settings)):
        return 1
    try:
        ui = airflow_ui.start(settings, port=args.port)
    except airflow_ui.AirflowUIError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"Airflow UI: {ui.url}\nlogin: {ui.username} / {ui.password}\n"
          f"DAG: {ui.url}/dags/{DAG_ID}\nlogs: {settings.data_dir / 'airflow' / 'services'}\n"
          f"stop with: uv run logistics ui stop")
    return 0


def cmd_summary(args, settings: Settings) -> int:
    from logistics_etl.report import gold_summary

    print(gold_summary(settings.duckdb_path, args.date))
    return 0


def cmd_history(args, settings: Settings) -> int:
    from logistics_etl.connections import open_lake
    from logistics_etl.contract import resolve_tables
    from logistics_etl.report import extract_history

    names = [t.name for t in resolve_tables(args.tables.split(","))] if args.tables else None
    print(extract_history(open_lake(settings), names, args.last))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="logistics", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("source", help="generate, advance or inspect the embedded LogisticsDB stand-in")
    s.add_argument("action", choices=["generate", "advance", "status"])
    s.add_argument("--scale", type=_positive_scale, default=1.0, help="1 = 100k orders and shipments, 500k events")
    s.add_argument("--seed", type=int, default=42)
    s.add_argument("--days", type=_at_least(1), default=1, help="change days to apply (advance)")
    s.add_argument("--force", action="store_true", help="replace an existing stand-in (generate)")
    s.add_argument("--source", help="sqlite:///path of the stand-in (default: LOGISTICS_SOURCE_URL or data/)")
    s.set_defaults(func=cmd_source)

    e = sub.add_parser("extract", help="land changed source rows in the lake, one batch per table")
    e.add_argument("--tables", help="comma-separated source tables (default: all nine)")
    e.add_argument("--full-refresh", action="store_true", help="re-read whole tables, not just changes")
    e.add_argument("--source", help="source URL: sqlite:///path, postgresql://..., mssql://..., "
                   "or airflow://<conn_id> (e.g. airflow://sql_server_default)")
    e.add_argument("--lake", help="lake folder or abfs://<container>/<path> (default: LAKE_ROOT or data/lake)")
    e.add_argument("--batch-size", type=_at_least(1), help="rows per Arrow batch (default: LOGISTICS_BATCH_SIZE)")
    e.add_argument("--parallel", type=_at_least(1),
                   help="key ranges read at once (default: LOGISTICS_EXTRACT_PARALLELISM)")
    e.add_argument("--page-rows", type=_at_least(0), help="read in keyset pages of this many rows, 0 = one statement "
                   "(default: LOGISTICS_EXTRACT_PAGE_ROWS)")
    e.set_defaults(func=cmd_extract)

    d = sub.add_parser("dbt", help="dbt with DBT_PROFILES_DIR, LAKE_ROOT and DUCKDB_PATH set",
                       prefix_chars="\0")
    d.add_argument("dbt_args", nargs=argparse.REMAINDER)
    d.set_defaults(func=cmd_dbt)

    a = sub.add_parser("airflow", help="the Airflow CLI on the project's local Airflow home",
                       prefix_chars="\0")
    a.add_argument("airflow_args", nargs=argparse.REMAINDER)
    a.set_defaults(func=cmd_airflow)

    r = sub.add_parser("run", help="run the whole DAG on the embedded defaults, then print the gold summary")
    r.add_argument("--scale", type=_positive_scale, default=1.0, help="scale of a newly generated stand-in")
    r.add_argument("--seed", type=int, default=42)
    r.add_argument("--date", type=date.fromisoformat, help="logical date of the run (default: now)")
    r.add_argument("--retries", type=_at_least(0), default=0,
                   help="task retries for this local run (default 0: fail fast; the DAG's own default is 3); the "
                        "first waits LOGISTICS_TASK_RETRY_DELAY_SECONDS (default 120), each later one twice as long")
    r.set_defaults(func=cmd_run)

    g = sub.add_parser("postgres", help="a local PostgreSQL source (Debian's binaries): start, load the stand-in, stop")
    g.add_argument("action", choices=["start", "load", "stop"], help="load = start, then copy the stand-in into dbo")
    g.add_argument("--dir", help="server folder (default: data/postgres)")
    g.add_argument("--port", type=int, default=55432)
    g.set_defaults(func=cmd_postgres)

    w = sub.add_parser("airflow-settings", help="load airflow_settings.yaml (connections, Variables) into the "
                       "local Airflow; ${NAME} values come from the environment")
    w.add_argument("action", choices=["load"])
    w.add_argument("--file", help="settings file (default: airflow_settings.yaml)")
    w.set_defaults(func=cmd_airflow_settings)

    u = sub.add_parser("ui", help="a local Airflow with its UI (API server, scheduler, DAG processor): start or stop")
    u.add_argument("action", choices=["start", "stop"])
    u.add_argument("--port", type=int, default=8080)
    u.set_defaults(func=cmd_ui)

    z = sub.add_parser("azurite", help="the Azure Storage emulator (npm azurite): start or stop, for an abfs:// lake")
    z.add_argument("action", choices=["start", "stop"])
    z.add_argument("--dir", help="emulator folder (default: data/azurite)")
    z.add_argument("--port", type=int, default=10000)
    z.set_defaults(func=cmd_azurite)

    m = sub.add_parser("summary", help="rows per gold model and carrier on-time rates")
    m.add_argument("--date", type=date.fromisoformat, help="delivery date (default: the latest)")
    m.set_defaults(func=cmd_summary)

    h = sub.add_parser("history", help="committed extract batches per table, newest last")
    h.add_argument("--tables", help="comma-separated source tables")
    h.add_argument("--last", type=_at_least(1), default=5, help="batches per table")
    h.set_defaults(func=cmd_history)
    return p


def _user_errors() -> tuple[type[Exception], ...]:
    """The errors printed as `error: ...` (a bad setting, source, table or lake), not as a traceback. Imported
    when one is raised: the extract's (pyarrow behind them) would add 40 ms to every command."""
    from logistics_etl.conform import SchemaDriftError
    from logistics_etl.queries import SourceURLError
    from logistics_etl.source import SourceError

    return (ConfigError, LakeError, SourceError, SourceURLError, SchemaDriftError, generator.StandInError, KeyError,
            FileNotFoundError)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args, load_settings())
    except Exception as exc:
        if not isinstance(exc, _user_errors()):
            raise
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"error: {msg}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
