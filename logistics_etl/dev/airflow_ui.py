"""A local Airflow with its UI: metadata DB, API server (UI), scheduler, DAG processor and triggerer.

`start` migrates the metadata DB, loads `airflow_settings.yaml`, starts the four
services in the background on 127.0.0.1 (their logs in `<airflow home>/services/`),
waits until the API server answers, and returns the URL and the login (Airflow's
SimpleAuthManager: user `admin`, its generated password). `stop` ends them.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from logistics_etl.dev.airflow_env import airflow_command, with_airflow_env
from logistics_etl.settings import PROJECT_ROOT, ConfigError, Settings

# the services of a production Airflow: the triggerer runs the node tasks' first tries (`start_from_trigger`)
SERVICES = {"api-server": ["api-server"], "scheduler": ["scheduler"], "dag-processor": ["dag-processor"],
            "triggerer": ["triggerer"]}
USER = "admin"


class AirflowUIError(RuntimeError):
    """A service did not start; the message names it and its log."""


@dataclass(frozen=True)
class UI:
    url: str
    username: str
    password: str


def _home(settings: Settings) -> Path:
    return settings.data_dir / "airflow"


def ui_env(settings: Settings, port: int) -> dict[str, str]:
    return {**with_airflow_env(settings),
            "AIRFLOW__API__HOST": "127.0.0.1", "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USER}:admin",
            "AIRFLOW__API__WORKERS": "1",
            # the scheduler's log server (default 8793), next to the API port so two local Airflows do not clash
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(port + 1),
            # The scheduler sleeps up to this long when a loop found nothing to do (Airflow's default: 1 s): with
            # one task at a time (DuckDB) every task would wait for the next loop. 0.2 s costs a few per cent of a
            # core while idle.
            "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": os.environ.get(
                "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME", "0.2")}


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/monitor/health", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def start(settings: Settings, port: int = 8080, timeout: float = 180,
          say: Callable[[str], None] = lambda line: None) -> UI:
    """Start the services; `say` is told each step as it is done, and every 8 s while the API server is not
    answering yet."""
    started = time.monotonic()
    if not settings.manifest_path.exists():
        raise ConfigError(f"dbt manifest not found at {settings.manifest_path}: run `logistics dbt parse` first")
    home = _home(settings)
    services = home / "services"
    services.mkdir(parents=True, exist_ok=True)
    env = ui_env(settings, port)
    if _healthy(port):
        raise AirflowUIError(f"something already answers on 127.0.0.1:{port}; stop it or use --port")
    say(f"migrating the metadata DB in {home}")
    for step in (["db", "migrate"],):
        proc = subprocess.run(airflow_command(step), env=env, cwd=PROJECT_ROOT, capture_output=True, text=True)
        if proc.returncode:
            raise AirflowUIError(f"airflow {' '.join(step)} failed: {proc.stderr[-2000:]}")
    say("loading airflow_settings.yaml (connections, pools, Variables)")
    proc = subprocess.run([sys.executable, "-m", "logistics_etl.orchestration.airflow_settings"], env=env,
                          cwd=PROJECT_ROOT, capture_output=True, text=True)
    if proc.returncode:
        raise AirflowUIError(f"loading airflow_settings.yaml failed: {proc.stderr.strip()}")
    pids = {}
    for name, args in SERVICES.items():
        with open(services / f"{name}.log", "ab") as log:
            p = subprocess.Popen(airflow_command(args), env=env, cwd=PROJECT_ROOT, stdout=log,
                                 stderr=subprocess.STDOUT, start_new_session=True)
        pids[name] = p.pid
        say(f"started {name} (pid {p.pid}, log {services / (name + '.log')})")
    (services / "pids.json").write_text(json.dumps(pids))
    deadline = time.monotonic() + timeout
    last_said = time.monotonic()
    while not _healthy(port):
        if time.monotonic() - last_said >= 8:
            say(f"waiting for the API server on port {port} ({time.monotonic() - started:.0f}s)")
            last_said = time.monotonic()
        for name, pid in pids.items():
            if not _alive(pid):
                stop(settings)
                raise AirflowUIError(f"airflow {name} exited; see {services / (name + '.log')}")
        if time.monotonic() > deadline:
            stop(settings)
            raise AirflowUIError(f"the API server did not answer on port {port} in {timeout:.0f}s; "
                                 f"see {services / 'api-server.log'}")
        time.sleep(1)
    password_file = home / "simple_auth_manager_passwords.json.generated"
    for _ in range(30):
        if password_file.exists() and password_file.read_text().strip():
            break
        time.sleep(0.5)
    password = json.loads(password_file.read_text())[USER]
    say(f"the API server answers, {time.monotonic() - started:.0f}s after the start")
    return UI(f"http://127.0.0.1:{port}", USER, password)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    try:  # a zombie child of ours counts as gone
        return os.waitpid(pid, os.WNOHANG) == (0, 0)
    except ChildProcessError:
        return True


def stop(settings: Settings) -> list[str]:
    pidfile = _home(settings) / "services" / "pids.json"
    if not pidfile.exists():
        return []
    pids = json.loads(pidfile.read_text())
    for pid in pids.values():
        try:
            os.killpg(pid, signal.SIGTERM)
        except OSError:
            pass
    deadline = time.monotonic() + 20
    while any(_alive(p) for p in pids.values()) and time.monotonic() < deadline:
        time.sleep(0.3)
    for pid in pids.values():
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass
    pidfile.unlink(missing_ok=True)
    return list(pids)
