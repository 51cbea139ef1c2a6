"""`logistics lake history|optimize|vacuum` and `logistics rebuild --as-of`: the lake's upkeep and its history.

* `lake history` prints each table's commits, newest first: the extracts (batch, rows, watermark) and the
  upkeep (OPTIMIZE, VACUUM).
* `lake optimize` compacts each table's small files (a new version; older versions keep their files).
* `lake vacuum` deletes the files that no version of the retention window references (a week unless
  `--retention-hours`; never under a day, see lake/upkeep.py); `--dry-run` lists them.
* `lake convert --from OLD` commits each batch of a lake of the earlier format (`batch=N/` folders) to the Delta
  lake at LAKE_ROOT, in order (lake/legacy.py).
* `rebuild --as-of TIME` builds silver and gold from the lake as it was at TIME into a warehouse of its own
  (`--warehouse`, default data/as_of_<TIME>.duckdb): every lake table read at its version of that time.
"""

from __future__ import annotations

import re
from pathlib import Path

from logistics_etl.contract import TABLES
from logistics_etl.dev.args import table_names
from logistics_etl.settings import Settings


def _tables(args) -> list[str]:
    return args.tables or [t.name for t in TABLES]


def cmd_lake(args, settings: Settings) -> int:
    from logistics_etl.lake import upkeep
    from logistics_etl.orchestration.connections import open_lake

    lake = open_lake(settings)
    if args.action == "history":
        rows = []
        for name in _tables(args):
            for c in upkeep.history(lake, name, args.last):
                b = c.batch
                rows.append([name, c.version, c.at.strftime("%Y-%m-%d %H:%M:%S"), c.operation,
                             b.batch_id if b else "", b.mode if b else "", b.rows if b else "",
                             b.deleted_rows if b else "", (b.watermark_to or "") if b else ""])
        if not rows:
            print(f"no commits in {lake.root}")
            return 0
        from logistics_etl.dev.report import _table

        print(_table(["table", "version", "committed (UTC)", "operation", "batch", "mode", "rows", "deleted",
                      "watermark"], rows))
    elif args.action == "convert":
        from logistics_etl.lake.legacy import convert_table
        from logistics_etl.settings import ConfigError

        if not args.source_lake or not (Path(args.source_lake) / "bronze").is_dir():
            raise ConfigError(f"lake convert: --from must be a local folder of the earlier format (with bronze/), "
                              f"got {args.source_lake!r}")
        total = sum(convert_table(Path(args.source_lake), lake, name) for name in _tables(args))
        print(f"converted {total} batches of {args.source_lake} into {lake.root}")
    elif args.action == "optimize":
        for name in _tables(args):
            r = upkeep.optimize(lake, name)
            print(f"{name:<15} files compacted {r['files_removed']:>5} -> {r['files_added']}")
    else:
        for name in _tables(args):
            removed = upkeep.vacuum(lake, name, args.retention_hours or settings.lake_retention_hours, args.dry_run)
            print(f"{name:<15} {'would delete' if args.dry_run else 'deleted'} {len(removed)} file(s)")
            for path in removed if args.list else []:
                print(f"    {path}")
    return 0


def cmd_rebuild(args, settings: Settings) -> int:
    from logistics_etl.dev.processes import dbt_bin, dbt_environ, run_command
    from logistics_etl.lake.dbt_source import parse_as_of

    moment = parse_as_of(args.as_of)
    from logistics_etl.settings import warehouse_path

    warehouse = warehouse_path(Path(args.warehouse) if args.warehouse else settings.data_dir / (
        "as_of_" + re.sub(r"[^0-9A-Za-z]+", "_", moment.isoformat()).strip("_") + ".duckdb"), "--warehouse")
    if warehouse.resolve() == settings.duckdb_path.resolve():
        from logistics_etl.settings import ConfigError

        raise ConfigError(f"rebuild --as-of: --warehouse {warehouse} is the nightly warehouse (DUCKDB_PATH); "
                          f"give another file")
    warehouse.unlink(missing_ok=True)
    env = {**dbt_environ(settings), "LAKE_AS_OF": moment.isoformat(), "DUCKDB_PATH": str(warehouse.resolve())}
    print(f"rebuilding silver and gold as of {moment.isoformat()} into {warehouse}", flush=True)
    code = run_command([dbt_bin(), "build", "--full-refresh", *args.dbt_args], env)
    if code == 0:
        print(f"as of {moment.isoformat()}: {warehouse}")
    return code


def add_parsers(sub) -> None:
    lk = sub.add_parser("lake", help="the lake's Delta tables: history, optimize (compact files), vacuum, convert "
                        "(from the earlier format)")
    lk.add_argument("action", choices=["history", "optimize", "vacuum", "convert"])
    lk.add_argument("--from", dest="source_lake", help="convert: the lake of the earlier format (batch=N/ folders "
                    "with _manifest.json), a local folder")
    lk.add_argument("--tables", type=table_names, help="comma-separated source tables (default: all nine)")
    lk.add_argument("--last", type=int, default=10, help="commits per table (history)")
    lk.add_argument("--retention-hours", type=int, help="vacuum keeps what the versions of these last hours need "
                    "(default: LOGISTICS_LAKE_RETENTION_HOURS or 168; at least 24)")
    lk.add_argument("--dry-run", action="store_true", help="vacuum: list, do not delete")
    lk.add_argument("--list", action="store_true", help="vacuum: name each file")
    lk.set_defaults(func=cmd_lake)

    rb = sub.add_parser("rebuild", help="build silver and gold as of a past time from the lake's history, into a "
                        "warehouse of its own", prefix_chars="-")
    rb.add_argument("--as-of", required=True, help="ISO time with its zone, e.g. 2025-06-02T02:30:00+00:00")
    rb.add_argument("--warehouse", help="DuckDB file to build (default: data/as_of_<time>.duckdb)")
    rb.add_argument("dbt_args", nargs="*", help="more `dbt build` arguments, after --")
    rb.set_defaults(func=cmd_rebuild)
