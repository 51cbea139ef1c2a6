"""Read-only reports for people: the gold summary and the extract run history."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from logistics_etl.contract import TABLES
from logistics_etl.lake.delta import Lake

GOLD_SCHEMA = "gold"  # macros/generate_schema_name.sql: the layer's schema, as named


def _table(headers: list[str], rows: list[list]) -> str:
    cells = [[str(h) for h in headers]] + [["" if v is None else str(v) for v in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
             for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def gold_summary(duckdb_path: Path, on_date: date | None = None) -> str:
    """Rows per gold model and the on-time rate per carrier for one delivery date (default: the latest)."""
    import duckdb

    if not Path(duckdb_path).exists():
        raise FileNotFoundError(f"no warehouse at {duckdb_path}: run the pipeline first (`logistics run`)")
    con = duckdb.connect(str(duckdb_path), read_only=True)
    try:
        has = {f"{schema}.{name}" for schema, name in con.execute(
            "select table_schema, table_name from information_schema.tables").fetchall()}
        # every relation of the gold schema, as the warehouse has it: a model added tomorrow shows too
        relations = sorted(r.split(".", 1)[1] for r in has if r.startswith(f"{GOLD_SCHEMA}."))
        counts = [[m, con.execute(f'select count(*) from {GOLD_SCHEMA}."{m}"').fetchone()[0]] for m in relations]
        perf = quarantine = None  # the marts below, where this warehouse has them (a partial build may not)
        if {"gold.carrier_daily_performance", "gold.dim_carrier"} <= has:
            if on_date is None:
                on_date = con.execute("select max(delivery_date) from gold.carrier_daily_performance").fetchone()[0]
            perf = con.execute(
                """
                select c.carrier_code, c.carrier_name, p.shipments_delivered, p.on_time_deliveries,
                       round(100 * p.on_time_rate, 1), round(p.avg_transit_hours, 1), p.freight_cost_usd
                from gold.carrier_daily_performance as p
                join gold.dim_carrier as c on c.carrier_id = p.carrier_id and c.is_current
                where p.delivery_date = ?
                order by p.on_time_rate desc, c.carrier_code
                """, [on_date]).fetchall()
        if "silver.slv_quarantine" in has:
            quarantine = con.execute("select source_table, quarantine_reason, count(*) from silver.slv_quarantine "
                                     "group by all order by all").fetchall()
    finally:
        con.close()
    out = ["Gold models (rows)", _table(["model", "rows"], counts) if counts else "(no gold relation yet)"]
    if perf is not None:
        out += ["", f"Carrier performance on {on_date} (UTC delivery date)",
                _table(["carrier", "name", "delivered", "on time", "on-time %", "avg transit h", "freight USD"],
                       [list(r) for r in perf]) if perf else "(no deliveries that day)"]
    if quarantine is not None:
        out += ["", "Quarantine (silver.slv_quarantine)",
                _table(["table", "reason", "rows"], [list(r) for r in quarantine]) if quarantine else "(empty)"]
    return "\n".join(out)


def extract_history(lake: Lake, tables: list[str] | None = None, last: int = 5) -> str:
    rows = []
    for t in TABLES:
        if tables and t.name not in tables:
            continue
        for m in lake.manifests(t.name)[-last:]:
            rows.append([t.name, m.batch_id, m.mode, m.committed_at[:19], m.rows, m.deleted_rows, m.bytes,
                         m.seconds, m.watermark_to])
    if not rows:
        return f"no committed batches in {lake.root}"
    return _table(["table", "batch", "mode", "committed (UTC)", "rows", "deleted", "bytes", "seconds",
                   "watermark"], rows)
