"""Azurite, the Azure Storage emulator (npm), as a local blob endpoint for the lake.

`LocalAzurite.start()` installs the pinned package from `tools/azurite`
(`npm ci`, first time only), starts the blob service on 127.0.0.1 with
`--skipApiVersionCheck --loose` (the azure-storage-blob SDK is newer than the
emulator's API list) and waits until it listens; `stop()` ends it. The well-known
development account and key are public (Microsoft documents them): they are
the emulator's, never a real secret.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from logistics_etl.settings import PROJECT_ROOT

PACKAGE_DIR = PROJECT_ROOT / "tools" / "azurite"
ACCOUNT = "devstoreaccount1"
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


class AzuriteError(RuntimeError):
    """Azurite could not be installed, started or reached; the message says which step."""


class LocalAzurite:
    def __init__(self, root: Path, port: int = 10000):
        self.root, self.port = Path(root).resolve(), port
        self.pidfile = self.root / "azurite.pid"
        self.log = self.root / "azurite.log"

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/{ACCOUNT}"

    @property
    def connection_string(self) -> str:
        return (f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};"
                f"BlobEndpoint={self.endpoint};")

    def sas_token(self, hours: int = 12) -> str:
        """An account SAS (read, write, list, delete), as production hands out."""
        from azure.storage.blob import AccountSasPermissions, ResourceTypes, generate_account_sas

        return generate_account_sas(
            ACCOUNT, ACCOUNT_KEY, ResourceTypes(service=True, container=True, object=True),
            AccountSasPermissions(read=True, write=True, delete=True, list=True, add=True, create=True),
            datetime.now(UTC) + timedelta(hours=hours))

    @staticmethod
    def install() -> Path:
        binary = PACKAGE_DIR / "node_modules" / ".bin" / "azurite-blob"
        if binary.exists():
            return binary
        npm = shutil.which("npm")
        if npm is None:
            raise AzuriteError("npm not found: install Node.js and npm (Debian: apt-get install nodejs npm)")
        proc = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=PACKAGE_DIR,
                              capture_output=True, text=True)
        if proc.returncode or not binary.exists():
            raise AzuriteError(f"npm ci in {PACKAGE_DIR} failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}")
        return binary

    def _listening(self) -> bool:
        with socket.socket() as s:
            s.settimeout(0.5)
            return s.connect_ex(("127.0.0.1", self.port)) == 0

    def is_running(self) -> bool:
        if not self.pidfile.exists():
            return False
        try:
            os.kill(int(self.pidfile.read_text()), 0)
        except (OSError, ValueError):
            return False
        return self._listening()

    def start(self, timeout: float = 60) -> str:
        """Install (first time) and start the blob service; returns its connection string."""
        if self.is_running():
            return self.connection_string
        if self._listening():
            raise AzuriteError(f"port {self.port} is taken by another process; choose another with --port")
        binary = self.install()
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as log:
            proc = subprocess.Popen([str(binary), "--location", str(self.root / "storage"), "--blobHost", "127.0.0.1",
                                     "--blobPort", str(self.port), "--skipApiVersionCheck", "--loose", "--silent"],
                                    stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.pidfile.write_text(str(proc.pid))
        deadline = time.monotonic() + timeout
        while not self._listening():
            if proc.poll() is not None:
                raise AzuriteError(f"azurite exited with {proc.returncode}: see {self.log}")
            if time.monotonic() > deadline:
                self.stop()
                raise AzuriteError(f"azurite did not listen on 127.0.0.1:{self.port} within {timeout:.0f}s")
            time.sleep(0.2)
        return self.connection_string

    def stop(self) -> bool:
        """Stop the emulator; False if none was running from this folder."""
        if not self.pidfile.exists():
            return False
        try:
            pid = int(self.pidfile.read_text())
            os.killpg(pid, signal.SIGTERM)
            for _ in range(50):
                os.kill(pid, 0)
                time.sleep(0.1)
            os.killpg(pid, signal.SIGKILL)
        except (OSError, ValueError):
            pass
        self.pidfile.unlink(missing_ok=True)
        return True
