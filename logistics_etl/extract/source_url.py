"""The source database's URL as one value: its engine, the driver that reads it, its redacted form, the
SQLite file or the server's address, and whether that server can be reached.

Every module asks this one what a source URL means; none parses one itself. `airflow://<conn_id>` is not a
source URL yet: `orchestration.connections.resolve_source_url` turns it into one.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

# URL scheme -> engine
ENGINES = {"sqlite": "sqlite", "postgresql": "postgresql", "postgres": "postgresql", "mssql": "mssql",
           "sqlserver": "mssql"}
DEFAULT_PORTS = {"postgresql": 5432, "mssql": 1433}
EXAMPLES = "sqlite:///path, postgresql://user:pw@host/db, mssql://user:pw@host:1433/LogisticsDB"
CONNECT_TIMEOUT_S = 10.0


class SourceURLError(ValueError):
    """A source URL that the extract cannot use."""


def redact(url: str) -> str:
    """The URL with its password replaced, for logs and manifests (any URL, valid or not)."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return url.split("@")[-1] if "@" in url else url
    if password is None:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.replace(f":{password}@", ":***@", 1)))


@dataclass(frozen=True)
class SourceURL:
    url: str
    engine: str  # sqlite | postgresql | mssql

    @classmethod
    def parse(cls, url: str) -> SourceURL:
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018  (a malformed host or port raises here, not when a driver reads it)
        except ValueError as exc:
            raise SourceURLError(f"source URL {redact(url)} is malformed: {exc}") from None
        scheme = parts.scheme.split("+")[0]
        if scheme not in ENGINES:
            raise SourceURLError(f"source URL scheme {scheme!r} is not supported; use one of {EXAMPLES}")
        return cls(url, ENGINES[scheme])

    @property
    def redacted(self) -> str:
        return redact(self.url)

    @property
    def driver(self) -> str:
        """ADBC for PostgreSQL, connectorx for SQL Server and SQLite (both measured in benchmarks/extract.py)."""
        return "adbc" if self.engine == "postgresql" else "connectorx"

    @property
    def sqlite_path(self) -> Path | None:
        return Path(self.url.split("://", 1)[1]) if self.engine == "sqlite" else None

    @property
    def address(self) -> tuple[str, int] | None:
        """The server's host and port; None for SQLite, or when the URL names no host or a malformed port
        (the driver then says what is wrong with it)."""
        if self.engine not in DEFAULT_PORTS:
            return None
        try:
            parts = urlsplit(self.url)
            host, port = parts.hostname, parts.port or DEFAULT_PORTS[self.engine]
        except ValueError:
            return None
        return (host, port) if host else None

    def unreachable(self, timeout: float = CONNECT_TIMEOUT_S) -> str | None:
        """Why the server cannot be reached, or None: one TCP connect, closed at once (neither server logs a
        connection that sends nothing). connectorx's pool would retry a refused or unanswered connection for
        30 s before it gives up; this fails in a moment, and Airflow's retries wait."""
        if self.address is None:
            return None
        host, port = self.address
        try:
            socket.create_connection((host, port), timeout=timeout).close()
        except OSError as exc:
            return f"cannot connect to {host}:{port}: {exc.strerror or exc}"
        return None
