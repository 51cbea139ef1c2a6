"""Azurite behind a delay proxy: the blob store of the lake benchmarks, with Azure's round trip put back.

Azurite on localhost answers in well under a millisecond; Azure takes milliseconds a request. A local TCP
proxy holds every request chunk back by `--delay-ms`, so that what a read costs in requests shows.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from logistics_etl.dev.azurite import LocalAzurite


def serve_delay_proxy(target_port: int, delay_s: float) -> None:
    """Run a TCP proxy on a free local port that holds every request chunk back by `delay_s` before passing it
    to `target_port` (responses pass straight through); prints its port, then serves until killed."""

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float) -> None:
        try:
            while data := await reader.read(65536):
                if delay:
                    await asyncio.sleep(delay)
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def handle(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        server_r, server_w = await asyncio.open_connection("127.0.0.1", target_port)
        await asyncio.gather(pipe(client_r, server_w, delay_s), pipe(server_r, client_w, 0))

    async def serve() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        print(server.sockets[0].getsockname()[1], flush=True)
        async with server:
            await server.serve_forever()

    asyncio.run(serve())


def start_delay_proxy(target_port: int, delay_s: float) -> int:
    """serve_delay_proxy in a process of its own (a thread of this one would wait for the GIL while delta-rs
    holds it for a whole read), ended with this process; returns its port."""
    proc = subprocess.Popen([sys.executable, "-c", "import sys; from benchmarks.azure_proxy import serve_delay_proxy; "
                             "serve_delay_proxy(int(sys.argv[1]), float(sys.argv[2]))", str(target_port), str(delay_s)],
                            stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parent.parent)
    atexit.register(proc.kill)
    return int(proc.stdout.readline())


@contextmanager
def running_azurite(folder: Path) -> Iterator[LocalAzurite]:
    """A real Azurite on a free local port, its data in `folder`, stopped on the way out."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free_port = probe.getsockname()[1]
    azurite = LocalAzurite(folder, port=free_port)
    azurite.start()
    try:
        yield azurite
    finally:
        azurite.stop()


def behind_delay_proxy(azurite: LocalAzurite, delay_s: float) -> str:
    """`azurite`'s connection string, through a new delay proxy (start_delay_proxy)."""
    return azurite.connection_string.replace(f":{azurite.port}/", f":{start_delay_proxy(azurite.port, delay_s)}/")


def proxied_benchmark_args(description: str, count: str) -> argparse.Namespace:
    """The options of a benchmark on Azurite behind the delay proxy: how many (`--<count>`), the delay, rounds."""
    ap = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(f"--{count}", type=int, default=365)
    ap.add_argument("--delay-ms", type=float, default=10.0, help="added to every request to Azurite")
    ap.add_argument("--repeat", type=int, default=3, help="rounds; the fastest counts")
    return ap.parse_args()
