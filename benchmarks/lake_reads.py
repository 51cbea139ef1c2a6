"""Bronze's nightly read of a blob lake: every batch opened vs. the new batch's files only, in the same run.

    uv run python -m benchmarks.lake_reads [--nights 365] [--delay-ms 10] [--repeat 3]

A real Azurite (npm, started and stopped here) holds a year of nights of one table (`Shipments`): one
batch folder a night, each with its Parquet part (a real part landed by the extract, its `_batch_id` set to
the night) and its `_manifest.json`. The newest night is not loaded yet; bronze holds the others. DuckDB
reads the lake through adlfs, as dbt-duckdb does (the profile's `filesystems`), through a local TCP proxy
that holds each request back by `--delay-ms`, standing in for the round trip to Azure. Two reads of the
same new rows, interleaved, fastest of `--repeat` counts:

- `whole source`: the lake source as every incremental bronze model read it before `lake_batches()`
  (`read_parquet` of every committed part with `union_by_name`, which opens every file before any filter,
  and `read_text` of every manifest), filtered on `_batch_id`;
- `new batches`: what `lake_batches()` sends on an incremental DuckDB run: one listing of the manifests
  (`glob`), then the source's own read with its glob replaced by the parts of the batches newer than the
  newest one loaded (its commit check now lists the manifests too).

The extract audit (`brz_extract_batches`) is timed the same way, over the same manifests:

- `every manifest`: `read_json` of every manifest, as the audit model did on every build (a table; the
  filter keeps the new night's row and opens no fewer files);
- `new manifests`: what `new_manifests()` sends on an incremental run: one listing, then `read_json` of
  the manifests not read yet, named. (Naming them matters: a constant filter on `filename` over the glob
  also reads one file, but DuckDB still looks up every file of the glob, 0.85 s for 20 manifests here.)

And `dbt source freshness` (the lake source's freshness query, when the table last landed):

- `max over source`: `max(_extracted_at)` over the lake source, as `loaded_at_field: _extracted_at` asked
  it (every part file opened);
- `newest manifest`: what `lake_extracted_at()` sends on DuckDB: one listing, then the newest committed
  batch's manifest read for its `extracted_at`.

Each pair must return the same rows (the same time, for freshness). The SQL is the macros'
(`macros/lake_batches.sql`) written out here, since dbt would need a warehouse of a year of nights to render
it. Prints a table and writes `benchmarks/results/lake_reads.json`.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from benchmarks.blob_manifests import behind_delay_proxy, proxied_benchmark_args, running_azurite

RESULTS = Path(__file__).resolve().parent / "results"
TABLE = "Shipments"


def landed_part(work: Path) -> pa.Table:
    """One night of Shipments as the extract lands it (a small stand-in, extracted to a local lake)."""
    from logistics_etl.contract import get_table
    from logistics_etl.extract.table import extract_table
    from logistics_etl.lake.batches import Lake
    from logistics_etl.standin import generator

    source = work / "source.sqlite"
    generator.generate(source, scale=0.05, seed=7)
    lake = Lake(work / "lake")
    extract_table(get_table(TABLE), f"sqlite://{source}", lake)
    return pq.read_table(sorted(lake.batch_dir(TABLE, 1).glob("part-*.parquet")))


def lake_source(folder: str) -> str:
    """The lake source as it read before `lake_batches()`: every committed part (commit check by read_text)."""
    return (f"(select * from read_parquet('{folder}/batch=*/part-*.parquet', filename = true, "
            f"union_by_name = true, hive_partitioning = false) where regexp_extract(filename, 'batch=([0-9]+)/', 1) "
            f"in (select regexp_extract(filename, 'batch=([0-9]+)/', 1) from read_text('{folder}/batch=*/"
            f"_manifest.json')))")


def whole_source(folder: str, loaded: int) -> str:
    return f"select * from {lake_source(folder)} where _batch_id > {loaded}"


def newest_manifest(con, folder: str) -> str:
    newest = con.execute(f"select max(file) from glob('{folder}/batch=*/_manifest.json')").fetchone()[0]
    return f"select max(extracted_at) as landed_at from read_json(['{newest}'], columns = struct_pack(" \
           "extracted_at := 'timestamptz'))"


def new_batches(con, folder: str, loaded: int) -> str:
    committed = [row[0] for row in con.execute(
        f"select distinct cast(regexp_extract(file, 'batch=([0-9]+)/', 1) as bigint) from glob('{folder}/batch=*/"
        "_manifest.json') order by 1").fetchall()]
    new = [b for b in committed if b > loaded] or committed[-1:]
    parts = ", ".join(f"'{folder}/batch={b:06d}/part-*.parquet'" for b in new)
    return (f"select * from (select * from read_parquet([{parts}], filename = true, union_by_name = true, "
            f"hive_partitioning = false) where regexp_extract(filename, 'batch=([0-9]+)/', 1) in (select "
            f"regexp_extract(file, 'batch=([0-9]+)/', 1) from glob('{folder}/batch=*/_manifest.json'))) "
            f"where _batch_id > {loaded}")


MANIFEST_COLUMNS = "columns = struct_pack(batch_id := 'bigint')"


def every_manifest(root: str) -> str:
    return f"select filename, batch_id from read_json('{root}/bronze/*/batch=*/_manifest.json', filename = true, " \
           f"{MANIFEST_COLUMNS})"


def new_manifests(con, root: str, loaded: int) -> str:
    read = {f"{root}/bronze/{TABLE}/batch={b:06d}/_manifest.json" for b in range(1, loaded + 1)}  # the model's
    listed = [row[0] for row in con.execute(f"select file from glob('{root}/bronze/*/batch=*/_manifest.json') "
                                            "order by 1").fetchall()]
    names = ", ".join(f"'{f}'" for f in [f for f in listed if f not in read] or listed[:1])
    return (f"select filename, batch_id from read_json([{names}], filename = true, {MANIFEST_COLUMNS}) "
            f"where filename not in ({', '.join(repr(f) for f in sorted(read))})")


READS = {"whole source": lambda con, root, loaded: whole_source(f"{root}/bronze/{TABLE}", loaded),
         "new batches": lambda con, root, loaded: new_batches(con, f"{root}/bronze/{TABLE}", loaded),
         "every manifest": lambda con, root, loaded: f"{every_manifest(root)} where batch_id > {loaded}",
         "new manifests": lambda con, root, loaded: new_manifests(con, root, loaded),
         "max over source": lambda con, root, loaded: f"select max(_extracted_at) as landed_at from "
                                                      f"{lake_source(f'{root}/bronze/{TABLE}')}",
         "newest manifest": lambda con, root, loaded: newest_manifest(con, f"{root}/bronze/{TABLE}")}
BASELINE = {"new batches": "whole source", "new manifests": "every manifest", "newest manifest": "max over source"}
FRESHNESS = ("max over source", "newest manifest")


def main() -> int:
    args = proxied_benchmark_args(__doc__, "nights")
    import adlfs
    import duckdb

    with tempfile.TemporaryDirectory() as tmp:
        part = landed_part(Path(tmp))
        with running_azurite(Path(tmp) / "azurite") as azurite:
            fs = adlfs.AzureBlobFileSystem(connection_string=azurite.connection_string)
            fs.mkdir("bench")
            print(f"writing {args.nights} nights of {TABLE} ({part.num_rows} rows a night) to Azurite ...", flush=True)
            blobs = {}
            extracted_at = part.column("_extracted_at")[0].as_py().isoformat()  # the same in every night's part
            for night in range(1, args.nights + 1):
                sink = pa.BufferOutputStream()
                ids = pa.array([night] * part.num_rows, pa.int64())
                pq.write_table(part.set_column(part.schema.get_field_index("_batch_id"), "_batch_id", ids), sink,
                               compression="zstd")
                batch = f"bench/lake/bronze/{TABLE}/batch={night:06d}"
                blobs[f"{batch}/part-00000.parquet"] = sink.getvalue().to_pybytes()
                blobs[f"{batch}/_manifest.json"] = json.dumps({"table": TABLE, "batch_id": night,
                                                               "extracted_at": extracted_at}).encode()
            fs.pipe(blobs)
            slow = behind_delay_proxy(azurite, args.delay_ms / 1000)
            root, loaded = "abfs://bench/lake", args.nights - 1
            best: dict[str, float] = {}
            rows: dict[str, int] = {}
            for _ in range(args.repeat):
                for name, read in READS.items():
                    con = duckdb.connect()  # a new session each time, as each dbt run is: no cached listing
                    con.execute("set threads = 2")
                    con.register_filesystem(adlfs.AzureBlobFileSystem(connection_string=slow))
                    started = time.perf_counter()
                    if name in FRESHNESS:
                        got = con.execute(f"select count(*), max(landed_at) = '{extracted_at}'::timestamptz "
                                          f"from ({read(con, root, loaded)})").fetchone()
                        want = (1, True)
                    else:
                        night = "batch_id" if "manifest" in name else "_batch_id"
                        got = con.execute(f"select count(*), count(distinct {night}) from "
                                          f"({read(con, root, loaded)})").fetchone()
                        want = (1 if "manifest" in name else part.num_rows, 1)
                    seconds = time.perf_counter() - started
                    con.close()
                    if got != want:
                        raise SystemExit(f"{name}: {got[0]} rows of {got[1]} nights, not {want[0]} of 1")
                    rows[name] = got[0]
                    best[name] = min(best.get(name, seconds), seconds)
    print(f"\n{args.nights} nights of {TABLE}, the newest one new; {args.delay_ms:g} ms added per request; "
          f"best of {args.repeat}\n")
    print(f"{'read':<16}  {'rows':>6}  {'seconds':>8}  {'speed-up':>8}")
    for name, seconds in best.items():
        base = best[BASELINE.get(name, name)]
        print(f"{name:<16}  {rows[name]:>6}  {seconds:8.2f}  {base / seconds:7.1f}x")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "lake_reads.json"
    out.write_text(json.dumps({"nights": args.nights, "delay_ms": args.delay_ms, "repeat": args.repeat,
                               "table": TABLE, "rows": rows, "seconds": {k: round(v, 3) for k, v in best.items()},
                               "speedup": {k: round(best[b] / best[k], 2) for k, b in BASELINE.items()}}, indent=2))
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
