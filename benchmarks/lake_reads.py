"""What a night reads of a lake of many nights on Azure: the nightly bronze read against a whole-table read.

    python -m benchmarks.lake_reads [--nights 365] [--delay-ms 10] [--repeat 3]

A real Azurite (npm, started and stopped here) holds one Delta table of `--nights` commits of Shipments,
each an extract's batch with its manifest in the commit (written here with delta-rs's `write_deltalake`, with
the lake's table properties: a checkpoint every 10 commits). Every read goes through a local TCP proxy that
holds each request back by `--delay-ms` (Azure's round trip, which Azurite on localhost lacks), and opens the
table afresh, as each dbt run does:

- `whole table`: every row, as DuckDB scans the table's delta-rs dataset (the baseline);
- `new batch`: what `lake_batches()` sends on an incremental night: the same scan with `_batch_id > n`
  (a constant), which skips every file whose statistics say it holds older batches;
- `every commit`: the manifests of all commits (`Lake.manifests`: what the extract reads to plan a night,
  and the extract audit and freshness read);
- `extract's history`: what an extract reads of them (`Lake.manifests` with `enough_history`): the newest
  commits, in pages, back to its overlap window (24 hours, one night here: a page of 16 commits);
- `newest commit`: the newest commit's manifest only (`DeltaTable.history(1)`), for comparison.

Prints a table and writes `benchmarks/results/lake_reads.json`; `lake_reads-before.json` holds the same
reads of the lake's earlier format (`batch=N/` folders with `_manifest.json`), `lake_reads-checkpoint100.json`
the Delta lake with delta-rs's default checkpoint interval (100 commits; the lake's tables use 10).
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchmarks.azure_proxy import behind_delay_proxy, proxied_benchmark_args, running_azurite

RESULTS = Path(__file__).resolve().parent / "results"
TABLE = "Shipments"
BASELINE = {"new batch": "whole table", "extract's history": "every commit", "newest commit": "every commit"}


def one_night(work: Path):
    """One night of Shipments as the extract lands it (a small stand-in, extracted to a local lake)."""
    from logistics_etl.contract import get_table
    from logistics_etl.extract.table import extract_table
    from logistics_etl.lake.delta import Lake
    from logistics_etl.standin import generator

    source = work / "source.sqlite"
    generator.generate(source, scale=0.05, seed=7)
    lake = Lake(work / "lake")
    extract_table(get_table(TABLE), f"sqlite://{source}", lake)
    return lake.read_columns(TABLE, lake.manifests(TABLE), None), lake.manifests(TABLE)[0]


def main() -> int:
    args = proxied_benchmark_args(__doc__, "nights")
    import duckdb
    import pyarrow as pa
    from azure.storage.blob import BlobServiceClient
    from deltalake import CommitProperties, DeltaTable, WriterProperties, write_deltalake

    from logistics_etl.contract import get_table
    from logistics_etl.extract.plan import ExtractOptions, enough_history
    from logistics_etl.lake.delta import HISTORY_PAGE, MANIFEST_KEY, TABLE_CONFIGURATION, Lake

    extract_reads = enough_history(get_table(TABLE), ExtractOptions())

    with tempfile.TemporaryDirectory() as tmp:
        rows, manifest = one_night(Path(tmp))
        with running_azurite(Path(tmp) / "azurite") as azurite:
            BlobServiceClient.from_connection_string(azurite.connection_string).create_container("bench")
            writer = Lake("abfs://bench/lake", azurite.connection_string)
            print(f"committing {args.nights} nights of {TABLE} ({rows.num_rows} rows a night) to Azurite ...",
                  flush=True)
            started, first = time.perf_counter(), datetime(2025, 1, 1, 2, tzinfo=UTC)
            for night in range(1, args.nights + 1):
                ids = pa.array([night] * rows.num_rows, pa.int64())
                night_rows = rows.set_column(rows.schema.get_field_index("_batch_id"), "_batch_id", ids)
                manifest.batch_id = night
                manifest.watermark_to = manifest.table_watermark = (first + timedelta(days=night)).isoformat()
                write_deltalake(writer.table_uri(TABLE), night_rows, mode="append", configuration=TABLE_CONFIGURATION,
                                storage_options=writer.storage_options,
                                writer_properties=WriterProperties(compression="ZSTD"),
                                commit_properties=CommitProperties(custom_metadata={MANIFEST_KEY: manifest.to_json()}))
                if night % 50 == 0:
                    print(f"  {night} nights, {time.perf_counter() - started:.0f} s", flush=True)
            lake = Lake("abfs://bench/lake", behind_delay_proxy(azurite, args.delay_ms / 1000))

            def scan(where: str) -> tuple[int, int]:
                dataset = DeltaTable(lake.table_uri(TABLE), storage_options=lake.storage_options).to_pyarrow_dataset()
                con = duckdb.connect()
                con.register("lake_table", dataset)
                got = con.execute(f"select count(*), count(distinct _batch_id) from lake_table {where}").fetchone()
                con.close()
                return got

            def newest() -> tuple[int, int]:
                dt = DeltaTable(lake.table_uri(TABLE), storage_options=lake.storage_options)
                return 1, json.loads(dt.history(1)[0][MANIFEST_KEY])["batch_id"]

            reads = {
                "whole table": (lambda: scan(""), (rows.num_rows * args.nights, args.nights)),
                "new batch": (lambda: scan(f"where _batch_id > {args.nights - 1}"), (rows.num_rows, 1)),
                "every commit": (lambda: (len(lake.manifests(TABLE)), args.nights), (args.nights, args.nights)),
                "extract's history": (lambda: (len(history := lake.manifests(TABLE, enough=extract_reads)),
                                                history[-1].batch_id), (HISTORY_PAGE, args.nights)),
                "newest commit": (newest, (1, args.nights)),
            }
            best: dict[str, float] = {}
            for _ in range(args.repeat):
                for name, (read, want) in reads.items():
                    started = time.perf_counter()
                    got = read()
                    seconds = time.perf_counter() - started
                    if tuple(got) != want:
                        raise SystemExit(f"{name}: got {got}, not {want}")
                    best[name] = min(best.get(name, seconds), seconds)
    print(f"\n{args.nights} nights of {TABLE}, the newest one new; {args.delay_ms:g} ms added per request; "
          f"best of {args.repeat}\n")
    print(f"{'read':<18}  {'seconds':>8}  {'speed-up':>8}")
    for name, seconds in best.items():
        print(f"{name:<18}  {seconds:8.2f}  {best[BASELINE.get(name, name)] / seconds:7.1f}x")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "lake_reads.json"
    out.write_text(json.dumps({"checkpoint_interval": int(TABLE_CONFIGURATION["delta.checkpointInterval"]),
                               "nights": args.nights, "delay_ms": args.delay_ms, "repeat": args.repeat,
                               "table": TABLE, "rows_a_night": rows.num_rows,
                               "seconds": {k: round(v, 3) for k, v in best.items()},
                               "speedup": {k: round(best[b] / best[k], 2) for k, b in BASELINE.items()}}, indent=2))
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
