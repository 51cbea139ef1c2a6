"""`logistics postgres|azurite|ui`: the local services a developer starts and stops."""

from __future__ import annotations

import sys
from pathlib import Path

from logistics_etl.dev.processes import dbt_bin, dbt_environ, run_command, standin_path
from logistics_etl.settings import DAG_ID, Settings


def _start_or_stop(action: str, name: str, server, folder: Path, error: type[Exception], start) -> int:
    """Stop `server`, or `start()` it; its own error (`error`) printed as one line."""
    try:
        if action == "stop":
            print(f"stopped {name} in {folder}" if server.stop() else f"no {name} was running in {folder}")
        else:
            start()
    except error as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def cmd_postgres(args, settings: Settings) -> int:
    from logistics_etl.dev.postgres import LocalPostgres, PostgresError, copy_standin

    server = LocalPostgres(Path(args.dir).resolve() if args.dir else settings.data_dir / "postgres", port=args.port)

    def start() -> None:
        url = server.start()
        print(f"PostgreSQL running: {url}")
        if args.action == "load":
            counts = copy_standin(standin_path(settings, None), url,
                                  progress=lambda t, n: print(f"  copied {t}: {n} rows"))
            print(f"loaded {sum(counts.values())} rows into schema dbo; extract with --source {url}")

    return _start_or_stop(args.action, "PostgreSQL", server, server.data, PostgresError, start)


def cmd_azurite(args, settings: Settings) -> int:
    from logistics_etl.dev.azurite import AzuriteError, LocalAzurite

    server = LocalAzurite(Path(args.dir).resolve() if args.dir else settings.data_dir / "azurite", port=args.port)

    def start() -> None:
        server.start()
        print(f"Azurite blob service at {server.endpoint} (the emulator's public development account).\n"
              f"Use it as the lake:\n  export LAKE_ROOT=abfs://lake/logistics\n"
              f"  export AZURE_STORAGE_CONNECTION_STRING='{server.connection_string}'")

    return _start_or_stop(args.action, "Azurite", server, server.root, AzuriteError, start)


def cmd_ui(args, settings: Settings) -> int:
    from logistics_etl.dev import airflow_ui

    if args.action == "stop":
        stopped = airflow_ui.stop(settings)
        print(f"stopped {', '.join(stopped)}" if stopped else "no local Airflow UI was running")
        return 0
    if not settings.manifest_path.exists() and run_command([dbt_bin(), "parse", "--quiet"], dbt_environ(settings)):
        return 1
    try:
        ui = airflow_ui.start(settings, port=args.port, say=lambda line: print(line, flush=True))
    except airflow_ui.AirflowUIError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"Airflow UI: {ui.url}\nlogin: {ui.username} / {ui.password}\n"
          f"DAG: {ui.url}/dags/{DAG_ID}\nlogs: {settings.data_dir / 'airflow' / 'services'}\n"
          f"stop with: logistics ui stop")
    return 0
