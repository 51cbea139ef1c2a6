"""The child processes of the developer's commands: dbt's and Airflow's commands with their environment, a
step started in the background, and where the stand-in is."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from logistics_etl.dev.airflow_env import airflow_command
from logistics_etl.settings import PROJECT_ROOT, ConfigError, Settings


def standin_path(settings: Settings, override: str | None) -> Path:
    url = override or settings.source_url
    from logistics_etl.extract.source_url import SourceURL, redact

    path = SourceURL.parse(url).sqlite_path
    if path is None:
        raise ConfigError(f"the stand-in commands work on a sqlite:// source, not {redact(url)}")
    return path


def run_command(cmd: list[str], env: dict[str, str]) -> int:
    """Run a command in the foreground and return its exit code. A SIGTERM or SIGINT to this process is passed
    on to it, and this process waits for it to end: no child outlives `logistics` (`dbt docs serve`, say)."""
    with subprocess.Popen(cmd, env=env, cwd=PROJECT_ROOT) as proc:
        def forward(signum, frame):
            proc.send_signal(signum)

        previous = {s: signal.signal(s, forward) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            return proc.wait()
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)


def dbt_environ(settings: Settings) -> dict[str, str]:
    from logistics_etl.orchestration.connections import dbt_lake_env

    return {**os.environ, **settings.dbt_env(), **dbt_lake_env(settings),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "False", "DO_NOT_TRACK": "1"}


def dbt_bin() -> str:
    return str(Path(sys.executable).with_name("dbt"))


def load_airflow_settings(env: dict[str, str], path: str | None = None) -> int:
    cmd = [sys.executable, "-m", "logistics_etl.orchestration.airflow_settings", *([path] if path else [])]
    return subprocess.run(cmd, env=env, cwd=PROJECT_ROOT).returncode


def start_migration(settings: Settings, env: dict[str, str]) -> Background:
    """`airflow db migrate` of the local metadata DB, started now; its output in data/airflow/db-migrate.log."""
    logs = settings.data_dir / "airflow"
    logs.mkdir(parents=True, exist_ok=True)
    return Background("airflow db migrate", airflow_command(["db", "migrate"]), env, logs / "db-migrate.log")


class Background:
    """A command of `logistics run`'s set-up, started at once in its own process, its output in `log`."""

    def __init__(self, name: str, cmd: list[str], env: dict[str, str], log: Path):
        self.name, self.log = name, log
        with open(log, "w") as out:
            self.proc = subprocess.Popen(cmd, env=env, cwd=PROJECT_ROOT, stdout=out, stderr=subprocess.STDOUT)

    def succeeded(self, every: float = 8.0) -> bool:
        """Wait for it, saying so every `every` seconds; on a failure print its output (the end of it) and say
        where the whole is."""
        started = time.monotonic()
        while True:
            try:
                self.proc.wait(timeout=every)
                break
            except subprocess.TimeoutExpired:
                print(f"      {self.name}: still running ({time.monotonic() - started:.0f}s; output in {self.log})",
                      flush=True)
        if self.proc.returncode == 0:
            return True
        output = self.log.read_text(errors="replace")
        print(f"{self.name} failed (exit {self.proc.returncode}); its output ({self.log}):\n{output[-4000:]}")
        return False

    def stop(self) -> None:
        """End it if it still runs (this command was interrupted, or failed before waiting for it)."""
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait()
