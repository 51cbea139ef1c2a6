"""A new user's first hour: the README's commands work as written in a fresh shell, and a command's child
process ends with it. (`make run`'s own output, quiet and in the graph's order, is checked by the end-to-end
test: tests/test_pipeline_e2e.py.)"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

from logistics_etl.settings import PROJECT_ROOT
from tests.conftest import BIN, _free_port, run_cli


def readme_block(heading: str) -> str:
    """The first ```bash block under a heading of README.md, as written."""
    readme = (PROJECT_ROOT / "README.md").read_text()
    section = readme[readme.index(f"## {heading}\n"):]
    return re.search(r"```bash\n(.*?)```", section, re.DOTALL).group(1)


def fresh_shell_env(**settings: str) -> dict[str, str]:
    """What a new login shell has: no virtual environment on the PATH, nothing of the project set."""
    path = [p for p in os.environ["PATH"].split(os.pathsep) if Path(p).resolve() != BIN.resolve()]
    return {"HOME": os.environ["HOME"], "PATH": os.pathsep.join(path), "LANG": "C.UTF-8", **settings}


def test_the_readmes_working_on_it_commands_run_as_written_in_a_fresh_shell(tmp_path):
    """The block runs line by line in one bash with `set -e`, on a small lake made beforehand (what
    `make run` leaves behind), with the data under tmp_path (LOGISTICS_DATA_DIR, and where plain dbt reads the
    lake and writes the warehouse: LAKE_ROOT, DUCKDB_PATH)."""
    data = tmp_path / "data"
    settings = {"LOGISTICS_DATA_DIR": str(data), "LAKE_ROOT": str(data / "lake"),
                "DUCKDB_PATH": str(data / "warehouse.duckdb")}
    run_cli("source", "generate", "--scale", "0.02", env_extra=settings)
    run_cli("extract", env_extra=settings)
    block = readme_block("Working on it")
    assert "make setup" in block and "dbt build" in block and "sqlfluff lint" in block, block
    proc = subprocess.run(["bash", "-e", "-x", "-c", block], cwd=PROJECT_ROOT, env=fresh_shell_env(**settings),
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    assert "Completed successfully" in proc.stdout, proc.stdout[-3000:]  # dbt build
    assert "usage: logistics" in proc.stdout and "All Finished" in proc.stdout, proc.stdout[-3000:]
    # (dbt's summary says WARN=0; and now and then Python's multiprocessing warns at exit of a semaphore of
    # sqlfluff's process pool, which sqlfluff joins: its runner.py says so; not the project's to silence)
    output = "\n".join(line for line in (proc.stdout + proc.stderr).splitlines()
                       if "resource_tracker" not in line and "warnings.warn('resource_tracker" not in line)
    assert not re.search(r"\bwarn(ing)?\b(?!=0)", output, re.IGNORECASE), output[-3000:]
    # the lint covered every model: nothing under the models' folders is ignored
    ignored = (PROJECT_ROOT / ".sqlfluffignore").read_text().split()
    assert not [p for p in ignored if p.strip("/") in ("dbt_project", "snapshots", "tests")], ignored


def _answers(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_a_terminated_logistics_command_ends_its_child(tmp_path):
    """`logistics dbt docs serve` runs dbt's web server as a child; SIGTERM to `logistics` ends the server too
    (no process left holding the port)."""
    port = _free_port()
    env = {**os.environ, "LOGISTICS_DATA_DIR": str(tmp_path / "data")}
    proc = subprocess.Popen([str(BIN / "logistics"), "dbt", "docs", "serve", "--port", str(port), "--no-browser"],
                            cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120
        while not _answers(port):
            assert proc.poll() is None, proc.stdout.read()
            assert time.monotonic() < deadline, "dbt docs serve did not answer"
            time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        deadline = time.monotonic() + 10
        while _answers(port) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _answers(port), "dbt docs serve outlived `logistics`"
    finally:
        if proc.poll() is None:
            proc.kill()
