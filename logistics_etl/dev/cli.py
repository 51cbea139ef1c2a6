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
    logistics lake history|optimize|vacuum      the lake's Delta tables: commits, compaction, old files
    logistics rebuild --as-of TIME              silver and gold as of a past time, from the lake's history
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from datetime import date

from logistics_etl.dev.airflow_env import airflow_command, export_airflow_connections, with_airflow_env
from logistics_etl.dev.args import at_least, positive_number, table_names
from logistics_etl.dev.lake_commands import add_parsers as add_lake_parsers
from logistics_etl.dev.night_run import cmd_run
from logistics_etl.dev.processes import (
    dbt_bin,
    dbt_environ,
    load_airflow_settings,
    run_command,
    standin_path,
    start_migration,
)
from logistics_etl.dev.services import cmd_azurite, cmd_postgres, cmd_ui
from logistics_etl.lake.delta import LakeError
from logistics_etl.settings import ConfigError, Settings, load_settings
from logistics_etl.standin import generator


def cmd_source(args, settings: Settings) -> int:
    path = standin_path(settings, args.source)
    if args.action == "generate":
        t = time.monotonic()
        state = generator.generate(path, scale=args.scale, seed=args.seed, overwrite=args.force,
                                    progress=lambda table, rows: print(f"  {table}: {rows} rows", flush=True))
        print(f"generated {path} (scale {state.scale}, seed {state.seed}) in {time.monotonic() - t:.1f}s")
    elif args.action == "advance":
        state = generator.advance(path, args.days, progress=lambda d: print(f"applied change day {d}"))
    else:
        state = generator.read_state(path)
    print(f"source clock {state.clock.isoformat()} (day {state.day}); rows: "
          + ", ".join(f"{t}={n}" for t, n in generator.table_counts(path).items()))
    return 0


def cmd_extract(args, settings: Settings) -> int:
    from logistics_etl.contract import resolve_tables
    from logistics_etl.extract.source_url import SourceURLError
    from logistics_etl.extract.table import ExtractOptions, extract_table, progress_logger
    from logistics_etl.orchestration.connections import open_lake, resolve_source_url

    tables = resolve_tables(args.tables)
    options = ExtractOptions.from_settings(settings, full_refresh=args.full_refresh, batch_size=args.batch_size or None,
                                           parallel=args.parallel or None, page_rows=args.page_rows)
    lake = open_lake(settings, args.lake)
    url = resolve_source_url(settings, args.source)
    tty = sys.stdout.isatty()
    clear = "\r\033[K" if tty else ""
    failed = []
    for table in tables:
        # on a terminal the count in place; into a file or a pipe a line at most every LOGISTICS_PROGRESS_LOG_SECONDS
        progress = (lambda t, n: print(f"\r  {t}: {n} rows", end="", flush=True)) if tty else \
            progress_logger(settings.progress_log_seconds, emit=lambda line: print(f"  {line}", flush=True))
        try:
            r = extract_table(table, url, lake, options, progress=progress)
        except (ConfigError, SourceURLError):
            raise  # a setting: the same for every table
        except Exception as exc:  # this table's source, data or lake: the other tables go on, as in the DAG
            failed.append(table.name)
            print(f"{clear}error: {_error_line(table.name, exc)}", file=sys.stderr, flush=True)
            if args.verbose:
                logging.exception("table %s", table.name)
            continue
        print(f"{clear}{r.table:<15} batch {r.batch_id:>4} {r.mode:<11} rows {r.rows:>9} "
              f"deleted {r.deleted_rows:>6} {r.bytes / 1e6:8.2f} MB {r.seconds:6.2f}s")
    if failed:
        others = "; the others landed" if len(failed) < len(tables) else ""
        print(f"error: {len(failed)} of {len(tables)} tables failed, nothing of theirs committed: "
              f"{', '.join(failed)}{others}", file=sys.stderr)
        return 2  # as every `error:` of this command
    return 0


def _error_line(table: str, exc: Exception) -> str:
    """One line for a table's failure: the project's own errors name the table already; anything else is named
    by its type (the traceback with --verbose)."""
    text = str(exc.args[0] if isinstance(exc, KeyError) and exc.args else exc).strip().splitlines()
    line = text[0] if text else ""
    if not isinstance(exc, _user_errors()):
        line = f"{type(exc).__name__}: {line}"
    return line if line.startswith(f"table {table}") else f"table {table}: {line}"


# dbt commands that compile every node but run no on-run-start hook: on one thread, since two threads resolving
# their first lake source at once fail in dbt-duckdb's plugin sources (docs/lake.md, "How each target reads it")
COMPILE_ONLY = (["compile"], ["docs", "generate"])


def cmd_dbt(args, settings: Settings) -> int:
    dbt_args = list(args.dbt_args)
    if (any(dbt_args[:len(c)] == c for c in COMPILE_ONLY) and "--threads" not in dbt_args
            and settings.dbt_target == "dev"):
        dbt_args += ["--threads", "1"]
    return run_command([dbt_bin(), *dbt_args], dbt_environ(settings))


def cmd_airflow(args, settings: Settings) -> int:
    return run_command(airflow_command(args.airflow_args), with_airflow_env(settings))


def cmd_airflow_settings(args, settings: Settings) -> int:
    env = with_airflow_env(settings)
    if not start_migration(settings, env).succeeded():
        return 1
    return load_airflow_settings(env, args.file)


def cmd_summary(args, settings: Settings) -> int:
    from logistics_etl.dev.report import gold_summary

    print(gold_summary(settings.duckdb_path, args.date))
    return 0


def cmd_history(args, settings: Settings) -> int:
    from logistics_etl.dev.report import extract_history
    from logistics_etl.orchestration.connections import open_lake

    print(extract_history(open_lake(settings), args.tables, args.last))
    return 0


def build_parser() -> argparse.ArgumentParser:
    # the commands are listed once, by argparse, from each one's help
    p = argparse.ArgumentParser(prog="logistics", description="Every step of the pipeline outside Airflow, "
                                "for people and tests.")
    p.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("source", help="generate, advance or inspect the embedded LogisticsDB stand-in")
    s.add_argument("action", choices=["generate", "advance", "status"])
    s.add_argument("--scale", type=positive_number, default=1.0, help="1 = 100k orders and shipments, 500k events")
    s.add_argument("--seed", type=int, default=42)
    s.add_argument("--days", type=at_least(1), default=1, help="change days to apply (advance)")
    s.add_argument("--force", action="store_true", help="replace an existing stand-in (generate)")
    s.add_argument("--source", help="sqlite:///path of the stand-in (default: LOGISTICS_SOURCE_URL or data/)")
    s.set_defaults(func=cmd_source)

    e = sub.add_parser("extract", help="land changed source rows in the lake, one commit per table")
    e.add_argument("--tables", type=table_names, help="comma-separated source tables (default: all nine)")
    e.add_argument("--full-refresh", action="store_true", help="re-read whole tables, not just changes")
    e.add_argument("--source", help="source URL: sqlite:///path, postgresql://..., mssql://..., "
                   "or airflow://<conn_id> (e.g. airflow://sql_server_default)")
    e.add_argument("--lake", help="lake folder or abfs://<container>/<path> (default: LAKE_ROOT or data/lake)")
    e.add_argument("--batch-size", type=at_least(1), help="rows per Arrow batch (default: LOGISTICS_BATCH_SIZE)")
    e.add_argument("--parallel", type=at_least(1),
                   help="key ranges read at once (default: LOGISTICS_EXTRACT_PARALLELISM)")
    e.add_argument("--page-rows", type=at_least(0), help="read in keyset pages of this many rows, 0 = one statement "
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
    r.add_argument("--scale", type=positive_number, default=1.0, help="scale of a newly generated stand-in")
    r.add_argument("--seed", type=int, default=42)
    r.add_argument("--date", type=date.fromisoformat, help="logical date of the run (default: now)")
    r.add_argument("--retries", type=at_least(0), default=0,
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
    h.add_argument("--tables", type=table_names, help="comma-separated source tables")
    h.add_argument("--last", type=at_least(1), default=5, help="batches per table")
    h.set_defaults(func=cmd_history)

    add_lake_parsers(sub)
    return p


def _user_errors() -> tuple[type[Exception], ...]:
    """The errors printed as `error: ...` (a bad setting, source, table or lake), not as a traceback. Imported
    when one is raised: importing the extract's (pyarrow behind them) would slow every command."""
    from logistics_etl.extract.conform import SchemaDriftError
    from logistics_etl.extract.source import SourceError
    from logistics_etl.extract.source_url import SourceURLError

    return (ConfigError, LakeError, SourceError, SourceURLError, SchemaDriftError, generator.StandInError, KeyError,
            FileNotFoundError)


def _airflow_connections_read(args, settings: Settings) -> list[str]:
    """The Airflow connections this command reads: an `airflow://` source, a blob lake's credentials."""
    from logistics_etl.lake.storage import is_blob_url
    from logistics_etl.orchestration.connections import AIRFLOW_SCHEME

    command = args.func.__name__
    source = getattr(args, "source", None) or settings.source_url
    lake = getattr(args, "lake", None) or settings.lake_root
    ids = [source.removeprefix(AIRFLOW_SCHEME)] if command == "cmd_extract" and source.startswith(AIRFLOW_SCHEME) \
        else []
    if (command in ("cmd_extract", "cmd_history", "cmd_dbt", "cmd_lake", "cmd_rebuild") and is_blob_url(str(lake))
            and not os.environ.get("AZURE_STORAGE_CONNECTION_STRING")):
        ids.append(settings.lake_conn_id)
    return ids


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = load_settings()
        if conn_ids := _airflow_connections_read(args, settings):
            export_airflow_connections(settings, conn_ids)
        return args.func(args, settings)
    except Exception as exc:
        if not isinstance(exc, _user_errors()):
            raise
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"error: {msg}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
