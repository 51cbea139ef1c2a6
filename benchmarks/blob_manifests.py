"""Blob-lake manifest reads: one request after another vs. `BlobLake.manifests`, in the same run.

    uv run python -m benchmarks.blob_manifests [--manifests 365] [--delay-ms 10] [--repeat 3]

Every extract of a table on the blob lake first reads all of its committed manifests (one a night:
365 after a year). A real Azurite (npm, started and stopped here) holds that many manifests of one
table; the reads go through a local TCP proxy that holds each request back by `--delay-ms`, standing
in for the round trip to Azure that Azurite on localhost does not have. Two methods, interleaved,
fastest of `--repeat` counts:

- `one at a time`: list, then `cat_file` each manifest in turn (what `BlobLake.manifests` did before);
- `BlobLake.manifests`: list, then 16 requests in flight.

Both must return the same manifests in batch order. Prints a table and writes
`benchmarks/results/blob_manifests.json`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from logistics_etl.dev.azurite import LocalAzurite
from logistics_etl.lake.batches import MANIFEST, Manifest
from logistics_etl.lake.blob import BlobLake

RESULTS = Path(__file__).resolve().parent / "results"
TABLE = "Orders"


def start_delay_proxy(target_port: int, delay_s: float) -> int:
    """A TCP proxy on a free local port, in a daemon thread, that holds every request chunk back by
    `delay_s` before passing it to `target_port` (responses pass straight through)."""
    ready: list[int] = []

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
        ready.append(server.sockets[0].getsockname()[1])
        async with server:
            await server.serve_forever()

    threading.Thread(target=lambda: asyncio.run(serve()), daemon=True, name="delay-proxy").start()
    while not ready:
        time.sleep(0.01)
    return ready[0]


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


def one_at_a_time(lake: BlobLake) -> list[Manifest]:
    lake.fs.invalidate_cache()
    paths = sorted(lake.fs.glob(f"{lake._table(TABLE)}/batch=*/{MANIFEST}"))
    return [Manifest.from_json(lake.fs.cat_file(p).decode()) for p in paths]


def proxied_benchmark_args(description: str, count: str) -> argparse.Namespace:
    """The options of a benchmark on Azurite behind the delay proxy: how many (`--<count>`), the delay, rounds."""
    ap = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(f"--{count}", type=int, default=365)
    ap.add_argument("--delay-ms", type=float, default=10.0, help="added to every request to Azurite")
    ap.add_argument("--repeat", type=int, default=3, help="rounds; the fastest counts")
    return ap.parse_args()


def main() -> int:
    args = proxied_benchmark_args(__doc__, "manifests")
    methods = {"one at a time": one_at_a_time, "BlobLake.manifests": lambda lake: lake.manifests(TABLE)}
    with tempfile.TemporaryDirectory() as tmp, running_azurite(Path(tmp)) as azurite:
        writer = BlobLake("abfs://bench/lake", azurite.connection_string)
        writer.ensure_container()
        template = {"table": TABLE, "mode": "incremental", "rows": 1000, "deleted_rows": 0,
                    "files": [{"name": "part-00000.parquet", "rows": 1000, "bytes": 50000}],
                    "watermark_column": "ModifiedAt", "watermark_from": "2025-01-01T00:00:00+00:00",
                    "watermark_to": "2025-01-02T00:00:00+00:00", "schema": [], "new_columns": [],
                    "key_count": 1000, "extracted_at": "2025-01-02T02:00:00+00:00",
                    "committed_at": "2025-01-02T02:00:01+00:00", "seconds": 1.0, "source": "bench",
                    "run_id": "bench"}
        print(f"writing {args.manifests} manifests of {TABLE} to Azurite ...", flush=True)
        writer.fs.pipe({f"{writer._batch(TABLE, i)}/{MANIFEST}": json.dumps({**template, "batch_id": i}).encode()
                        for i in range(1, args.manifests + 1)})
        lake = BlobLake("abfs://bench/lake", behind_delay_proxy(azurite, args.delay_ms / 1000))
        best: dict[str, float] = {}
        for _ in range(args.repeat):
            for name, read in methods.items():
                started = time.perf_counter()
                got = read(lake)
                seconds = time.perf_counter() - started
                if [m.batch_id for m in got] != list(range(1, args.manifests + 1)):
                    raise SystemExit(f"{name}: wrong manifests ({len(got)} read)")
                best[name] = min(best.get(name, seconds), seconds)
    base = best["one at a time"]
    print(f"\n{args.manifests} manifests, {args.delay_ms:g} ms added per request, best of {args.repeat}\n")
    print(f"{'method':<20}  {'seconds':>8}  {'speed-up':>8}")
    for name, seconds in best.items():
        print(f"{name:<20}  {seconds:8.2f}  {base / seconds:7.1f}x")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "blob_manifests.json"
    out.write_text(json.dumps({"manifests": args.manifests, "delay_ms": args.delay_ms, "repeat": args.repeat,
                               "seconds": {k: round(v, 3) for k, v in best.items()},
                               "speedup": round(base / best["BlobLake.manifests"], 2)}, indent=2))
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
