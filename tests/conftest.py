"""Shared fixtures: isolated data folders, a small generated source, the CLI as a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from logistics_etl.settings import PROJECT_ROOT
from logistics_etl.standin import generator

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


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def postgres_server():
    """A real PostgreSQL server (Debian's binaries), started and stopped by the project's own code.

    Its folder is made directly under /tmp: as root the server runs as the `postgres` user, who cannot
    enter pytest's private temporary folders."""
    import shutil
    import tempfile

    from logistics_etl.dev.postgres import LocalPostgres

    root = Path(tempfile.mkdtemp(prefix="logistics-pg-"))
    server = LocalPostgres(root, port=_free_port())
    server.start()
    yield server
    server.stop()
    shutil.rmtree(root, ignore_errors=True)


def fresh_database(server, name: str) -> str:
    """The URL of a new, empty database `name` on a test's PostgreSQL server (dropped first if it exists)."""
    import psycopg

    with psycopg.connect(server.url, autocommit=True) as con:
        con.execute(f"drop database if exists {name}")
        con.execute(f"create database {name}")
    return server.url.rsplit("/", 1)[0] + f"/{name}"


class Source:
    """The source a test extracts from: the SQLite stand-in itself, or a PostgreSQL copy of it."""

    def __init__(self, engine: str, sqlite_path: Path, server=None):
        self.engine, self.sqlite_path, self.server = engine, sqlite_path, server
        self.sync()

    @property
    def url(self) -> str:
        return f"sqlite://{self.sqlite_path}" if self.engine == "sqlite" else self.server.url

    def sync(self) -> None:
        """Make the engine hold the stand-in's current state (after a change day)."""
        if self.engine == "postgresql":
            from logistics_etl.dev.postgres import copy_standin

            copy_standin(self.sqlite_path, self.server.url)


@pytest.fixture(params=["sqlite", "postgresql"])
def source(request, source_db: Path) -> Source:
    server = request.getfixturevalue("postgres_server") if request.param == "postgresql" else None
    return Source(request.param, source_db, server)


@pytest.fixture(scope="session")
def azurite_server(tmp_path_factory):
    """A real Azurite blob service (npm), installed, started and stopped by the project's own code."""
    from logistics_etl.dev.azurite import LocalAzurite

    server = LocalAzurite(tmp_path_factory.mktemp("azurite"), port=_free_port())
    server.start()
    yield server
    server.stop()


def commit_a_bad_batch(table_dir: Path, column: str, values: list, watermark: bool = True) -> int:
    """The table's next lake batch, committed as the extract commits one (one Delta commit with its manifest):
    the first batch's rows with `column` set to `values` (and `_batch_id` to the new batch's number); without
    `watermark`, its manifest moves no watermark, so the next extract's overlap window does not re-read it.
    Returns the batch's number."""
    import pyarrow as pa

    from logistics_etl.extract.parts import PartWriter
    from logistics_etl.lake.delta import Lake

    lake, table = Lake(table_dir.parent.parent), table_dir.name
    manifests = lake.manifests(table)
    number = manifests[-1].batch_id + 1
    rows = lake.read_columns(table, manifests[:1], None)
    values = (values * rows.num_rows)[:rows.num_rows]
    i = rows.schema.get_field_index(column)
    rows = rows.set_column(i, rows.schema.field(i), pa.array(values, rows.schema.field(i).type))
    i = rows.schema.get_field_index("_batch_id")
    rows = rows.set_column(i, rows.schema.field(i), pa.array([number] * rows.num_rows, pa.int64()))
    manifest = manifests[0]
    manifest.batch_id, manifest.mode, manifest.version = number, "incremental", None
    if not watermark:
        manifest.watermark_to = None
    with lake.stage(table, number) as staging:
        writer = PartWriter(staging, rows.schema, rows.num_rows + 1)
        for batch in rows.to_batches():
            writer.write(batch)
        writer.close(ensure_one=True)
        lake.commit(staging, manifest, lake.latest_keys(table, rows.schema.names[0], manifests))
    return number


class UnreadableBatch:
    """The table's next lake batch (a copy of its first batch's rows), committed, whose data files then cannot be
    read (a storage fault): every reader of the batch fails until `take_out` puts the bytes back and deletes the
    batch's rows (a Delta commit), as an engineer takes a bad batch out of a table."""

    MESSAGE = "Parquet magic bytes not found"  # what DuckDB reports reading one of its files

    def __init__(self, table_dir: Path):
        import pyarrow as pa

        from logistics_etl.lake.delta import Lake

        self.table_dir = table_dir
        # no watermark: the night's extract does not re-read it (its overlap window), dbt's bronze read does
        self.batch_id = commit_a_bad_batch(table_dir, "_is_deleted", [False], watermark=False)
        dt = Lake(table_dir.parent.parent).delta_table(table_dir.name)
        self.files = {table_dir / a["path"]: (table_dir / a["path"]).read_bytes()
                      for a in pa.table(dt.get_add_actions(flatten=True)).to_pylist()
                      if a["min._batch_id"] == a["max._batch_id"] == self.batch_id}
        assert self.files, "the batch has files"
        for path in self.files:
            path.write_bytes(b"not a parquet file: the storage lost this batch")
        self.taken_out = False

    def take_out(self) -> None:
        from logistics_etl.lake.delta import Lake

        for path, data in self.files.items():
            path.write_bytes(data)
        Lake(self.table_dir.parent.parent).delta_table(self.table_dir.name).delete(f"_batch_id = {self.batch_id}")
        self.taken_out = True
