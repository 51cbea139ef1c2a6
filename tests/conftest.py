"""Shared fixtures: isolated data folders, a small generated source, the CLI as a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from logistics_etl import generator
from logistics_etl.settings import PROJECT_ROOT

BIN = Path(sys.executable).parent


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private data folder: source, lake, warehouse and Airflow home all live under it."""
    for var in ("LOGISTICS_SOURCE_URL", "LAKE_ROOT", "DUCKDB_PATH", "DBT_TARGET"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("LOGISTICS_DATA_DIR", str(tmp_path))
    return tmp_path


@pytest.fixture
def source_db(data_dir: Path) -> Path:
    path = data_dir / "source" / "logisticsdb.sqlite"
    generator.generate(path, scale=0.05, seed=7)
    return path


def run_cli(*args: str, env_extra: dict[str, str] | None = None, check: bool = True,
            timeout: int = 900) -> subprocess.CompletedProcess:
    """Run `logistics ...` in a fresh process, as a person would."""
    env = {**os.environ, **(env_extra or {})}
    proc = subprocess.run([str(BIN / "logistics"), *args], cwd=PROJECT_ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"logistics {' '.join(args)} exited {proc.returncode}\n"
                             f"stdout:\n{proc.stdout[-4000:]}\nstderr:\n{proc.stderr[-4000:]}")
    return proc


MEASUREMENTS: dict[str, str] = {}


def report(name: str, value: str) -> None:
    """Record a measurement (parse time, wall time) to print in pytest's closing summary."""
    MEASUREMENTS[name] = value


def pytest_terminal_summary(terminalreporter):
    if MEASUREMENTS:
        terminalreporter.section("measurements")
        for name, value in MEASUREMENTS.items():
            terminalreporter.write_line(f"{name}: {value}")
