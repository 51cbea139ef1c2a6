"""A local PostgreSQL server for the networked source stand-in, and the loader that fills it.

`LocalPostgres` runs Debian's PostgreSQL binaries in a private data folder,
listening on 127.0.0.1 only (trust authentication, nothing else can reach it).
PostgreSQL refuses to run as root, so as root the commands run as the
`postgres` user. `copy_standin` copies the SQLite stand-in into schema `dbo`
with the contract's PostgreSQL types, so the extract reads the same data from
both engines.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import time
from pathlib import Path

from logistics_etl.contract import TABLES, TYPES

DEFAULT_BIN = Path("/usr/lib/postgresql/15/bin")


class PostgresError(RuntimeError):
    """The local server could not be set up, started or reached; the message says which step."""


class LocalPostgres:
    def __init__(self, root: Path, port: int = 55432, database: str = "logisticsdb", user: str = "logistics"):
        self.root, self.port, self.database, self.user = Path(root).resolve(), port, database, user
        self.bin = Path(os.environ.get("PG_BIN", DEFAULT_BIN))
        self.data = self.root / "pgdata"
        self.log = self.root / "postgres.log"

    @property
    def url(self) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{self.database}"

    def _run(self, *args: str) -> subprocess.CompletedProcess:
        tool = self.bin / args[0]
        if not tool.exists():
            raise PostgresError(f"{tool} not found: install Debian's postgresql-15 or set PG_BIN")
        cmd = [str(tool), *args[1:]]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode:
            raise PostgresError(f"{args[0]} failed ({proc.returncode}): {proc.stderr.strip() or proc.stdout.strip()}"
                                f" (server log: {self.log})")
        return proc

    def start(self) -> str:
        """Initialise (first time), start and create the database; returns the connection URL."""
        self.root.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            for parent in self.root.resolve().parents:
                if not parent.stat().st_mode & 0o001:
                    raise PostgresError(f"the postgres user cannot reach {self.root}: {parent} is not searchable "
                                        f"by others; use a folder under /tmp or the project, or chmod o+x {parent}")
            shutil.chown(self.root, "postgres", "postgres")
        if not (self.data / "PG_VERSION").exists():
            self._run("initdb", "-D", str(self.data), "-U", self.user, "--auth=trust", "--encoding=UTF8",
                      "--no-instructions")
        if not self.is_running():
            self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "-o",
                      f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} -c fsync=off", "start")
        self._wait()
        import psycopg

        with psycopg.connect(self.url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as con:
            if not con.execute("select 1 from pg_database where datname = %s", [self.database]).fetchone():
                con.execute(f'create database "{self.database}"')
        return self.url

    def is_running(self) -> bool:
        return (self.data / "postmaster.pid").exists() and subprocess.run(
            [str(self.bin / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)], capture_output=True
        ).returncode == 0

    def _wait(self, seconds: float = 30) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.is_running():
                return
            time.sleep(0.2)
        raise PostgresError(f"PostgreSQL on port {self.port} did not accept connections in {seconds}s "
                            f"(server log: {self.log})")

    def stop(self) -> bool:
        """Stop the server; False if none was running in this folder."""
        if not (self.data / "postmaster.pid").exists():
            return False
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
        return True


def copy_standin(sqlite_path: Path, url: str, progress=None) -> dict[str, int]:
    """Replace schema dbo in PostgreSQL with the tables of the SQLite stand-in (COPY, in one transaction)."""
    import psycopg

    src = sqlite3.connect(f"file:{sqlite_path}?mode=ro", uri=True)
    counts = {}
    with psycopg.connect(url) as con:
        con.execute('drop schema if exists dbo cascade')
        con.execute('create schema dbo')
        for t in TABLES:
            cols = ", ".join(f'"{c.name}" {TYPES[c.kind][1]}' + (" primary key" if c.name == t.key else
                                                                   "" if c.nullable else " not null")
                             for c in t.columns)
            con.execute(f'create table dbo."{t.name}" ({cols})')
            names = ", ".join(f'"{c}"' for c in t.column_names)
            n = 0
            with con.cursor().copy(f'copy dbo."{t.name}" ({names}) from stdin') as copy:
                for row in src.execute(f'select {names} from "{t.name}" order by "{t.key}"'):
                    copy.write_row(row)
                    n += 1
            if not t.append_only:
                con.execute(f'create index on dbo."{t.name}" ("ModifiedAt")')
            counts[t.name] = n
            if progress:
                progress(t.name, n)
    # as a live source would be: vacuumed and analysed, so the first reads do not set every row's hint bits
    # (nor meet an autovacuum run started by the load), which made the first benchmark round 1.5x slower
    with psycopg.connect(url, autocommit=True) as con:
        con.execute("vacuum (freeze, analyze)")
    src.close()
    return counts
