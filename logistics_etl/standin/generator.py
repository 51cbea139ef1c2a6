"""Deterministic generator of the `LogisticsDB` stand-in (an embedded SQLite file).

`generate` writes day 0 (a year of history); `advance` applies change days: new
rows, updates with a later `ModifiedAt`, hard deletes, late-committed rows,
late-arriving events and a small share of bad rows. Same scale + seed + day gives
the same data: every random draw comes from `numpy.random.default_rng([seed, day])`
in a fixed order, and rows are always visited in key order.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from logistics_etl.contract import TABLES_BY_NAME
from logistics_etl.standin import schema as S
from logistics_etl.standin.change_days import apply_day
from logistics_etl.standin.rows import (
    DAY,
    HOUR,
    StandInError,
    customer_rows,
    fmt_times,
    insert_rows,
    money,
    shipment_timeline,
    sizes,
)


@dataclass(frozen=True)
class StandInState:
    scale: float
    seed: int
    day: int

    @property
    def clock(self) -> datetime:
        """The source's 'now': the end of the last applied day."""
        return datetime.fromtimestamp(S.ANCHOR.timestamp() + self.day * DAY, tz=UTC)


# --------------------------------------------------------------------------- day 0
def _reference_rows(rng: np.random.Generator, n: dict[str, int], start: int):
    carriers = [(i + 1, c[0], c[1], c[2], fmt_times(np.array([start - 400 * DAY + i * DAY]))[0])
                for i, c in enumerate(S.CARRIERS)]
    cities = [(country, city) for country, _, cs in S.COUNTRIES for city in cs]
    warehouses = []
    for i in range(n["warehouses"]):
        country, city = cities[i % len(cities)]
        warehouses.append((i + 1, f"WH{i + 1:03d}", f"{city} DC {i // len(cities) + 1}", city, country,
                           fmt_times(np.array([start - 300 * DAY + i * HOUR]))[0]))
    nr = n["routes"]
    origin = rng.integers(1, n["warehouses"] + 1, nr)
    dest = rng.integers(0, len(cities), nr)
    distance = np.round(rng.uniform(40, 2_500, nr), 2)
    planned = np.ceil(distance / rng.uniform(45, 75, nr) + rng.uniform(4, 24, nr)).astype(int)
    rmod = fmt_times(start - rng.integers(10, 200, nr) * DAY)
    routes = [(i + 1, int(origin[i]), cities[dest[i]][1], cities[dest[i]][0], float(distance[i]),
               int(planned[i]), rmod[i]) for i in range(nr)]
    nv = n["vehicles"]
    vcar = (np.arange(nv) % len(S.CARRIERS)) + 1
    vtype = rng.integers(0, len(S.VEHICLE_TYPES), nv)
    cap = np.round(rng.uniform(800, 26_000, nv), 2)
    vmod = fmt_times(start - rng.integers(10, 200, nv) * DAY)
    plates = [f"{S.COUNTRIES[i % 7][0]}-{1000 + i:04d}-{chr(65 + i % 26)}{chr(65 + (i // 26) % 26)}" for i in range(nv)]
    vehicles = [(i + 1, int(vcar[i]), plates[i], S.VEHICLE_TYPES[vtype[i]], float(cap[i]), vmod[i])
                for i in range(nv)]
    nd = n["drivers"]
    dcar = (np.arange(nd) % len(S.CARRIERS)) + 1
    fi = rng.integers(0, len(S.FIRST_NAMES), nd)
    la = rng.integers(0, len(S.LAST_NAMES), nd)
    dmod = fmt_times(start - rng.integers(10, 200, nd) * DAY)
    drivers = [(i + 1, int(dcar[i]), f"{S.FIRST_NAMES[fi[i]]} {S.LAST_NAMES[la[i]]}", f"DL{7_000_000 + i * 37}",
                dmod[i]) for i in range(nd)]
    return carriers, warehouses, routes, vehicles, drivers, cities


def _initial(conn: sqlite3.Connection, scale: float, seed: int,
             progress: Callable[[str, int], None] | None = None) -> None:
    def insert(table: str, rows) -> None:
        written = insert_rows(conn, table, rows)
        if progress:
            progress(table, written)

    rng = np.random.default_rng([seed, 0])
    n = sizes(scale)
    anchor = int(S.ANCHOR.timestamp())
    start = anchor - S.HISTORY_DAYS * DAY
    carriers, warehouses, routes, vehicles, drivers, _ = _reference_rows(rng, n, start)
    for name, rows in (("Carriers", carriers), ("Warehouses", warehouses), ("Routes", routes),
                       ("Vehicles", vehicles), ("Drivers", drivers)):
        insert(name, rows)

    nc = n["customers"]
    customers = customer_rows(rng, 1, nc, start - 3 * 365 * DAY, anchor - DAY)
    # Bad rows: a few customers reuse another customer's code.
    for i in rng.choice(np.arange(nc // 2, nc), max(1, nc // 1000), replace=False):
        src = customers[int(rng.integers(0, nc // 2))]
        customers[i] = (customers[i][0], src[1], *customers[i][2:])
    insert("Customers", customers)
    dup_ids = {c[0] for c in customers if c[1] != f"C{c[0]:07d}"}

    no = n["orders"]
    cust_pool = np.array([c[0] for c in customers if c[0] not in dup_ids])
    o_cust = cust_pool[rng.integers(0, len(cust_pool), no)]
    ordered = np.sort(rng.uniform(start, anchor - HOUR, no).round())
    cust_cur = {c[0]: next(cur for code, cur, _ in S.COUNTRIES if code == c[4]) for c in customers}
    amount = np.clip(rng.lognormal(np.log(220), 0.9, no), 5, 50_000)
    cancelled = rng.random(no) < 0.03

    ship_idx = np.flatnonzero(~cancelled)
    ns = len(ship_idx)
    route = rng.integers(1, len(routes) + 1, ns)
    planned_h = np.array([r[5] for r in routes])[route - 1]
    distance = np.array([r[4] for r in routes])[route - 1]
    carrier = rng.integers(1, len(S.CARRIERS) + 1, ns)
    vehicle = carrier + len(S.CARRIERS) * rng.integers(0, len(vehicles) // len(S.CARRIERS), ns)
    driver = carrier + len(S.CARRIERS) * rng.integers(0, len(drivers) // len(S.CARRIERS), ns)
    shipped = ordered[ship_idx] + rng.uniform(2 * HOUR, 48 * HOUR, ns).round()
    promised, delivered = shipment_timeline(rng, carrier, planned_h, shipped)
    fate = rng.random(ns)
    lost_p = np.array([c[4] for c in S.CARRIERS])[carrier - 1]
    ret_p = np.array([c[5] for c in S.CARRIERS])[carrier - 1]
    status = np.full(ns, "Delivered", dtype=object)
    status[fate < lost_p + ret_p] = "Returned"
    status[fate < lost_p] = "Lost"
    status[(fate > 0.99)] = "Cancelled"
    status[delivered > anchor] = "InTransit"
    status[shipped > anchor] = "Created"
    weight = np.clip(rng.lognormal(np.log(25), 1.1, ns), 0.2, 20_000)
    cost = (6 + 0.6 * weight + 0.04 * distance) * rng.uniform(0.8, 1.3, ns)

    nb = max(1, ns // 2_000)  # bad rows of each kind
    delivered_idx = np.flatnonzero(status == "Delivered")
    bad = rng.choice(delivered_idx, 3 * nb, replace=False)
    weight[bad[:nb]] *= -1
    delivered[bad[nb:2 * nb]] = shipped[bad[nb:2 * nb]] - rng.uniform(HOUR, 10 * HOUR, nb).round()
    carrier[bad[2 * nb:]] = S.UNKNOWN_CARRIER_ID

    s_shipped = np.where(np.isin(status, ["Created", "Cancelled"]), np.nan, shipped)
    s_promised = np.where(np.isnan(s_shipped), np.nan, promised)
    s_delivered = np.where(status == "Delivered", delivered, np.nan)
    modified = np.select(
        [status == "Delivered", status == "InTransit", np.isin(status, ["Returned", "Lost"])],
        [np.maximum(delivered, shipped), shipped, delivered], ordered[ship_idx] + HOUR)
    modified = np.minimum(modified, anchor - 1)

    order_status = np.where(cancelled, "Cancelled", "Confirmed").astype(object)
    ship_status_to_order = {"Created": "Confirmed", "InTransit": "Shipped", "Delivered": "Delivered",
                            "Returned": "Returned", "Lost": "Shipped", "Cancelled": "Cancelled"}
    order_status[ship_idx] = [ship_status_to_order[s] for s in status]
    order_mod = ordered + HOUR
    order_mod[ship_idx] = np.maximum(order_mod[ship_idx], modified)
    o_txt, om_txt = fmt_times(ordered), fmt_times(order_mod)
    amt = money(amount)
    insert("Orders", ((i + 1, int(o_cust[i]), o_txt[i], order_status[i], cust_cur[int(o_cust[i])],
                              amt[i], om_txt[i]) for i in range(no)))

    sh_t, pr_t, de_t, mo_t = (fmt_times(x) for x in (s_shipped, s_promised, s_delivered, modified))
    w, c = money(weight), money(cost)
    ship_cur = [S.CARRIERS[min(k, len(S.CARRIERS)) - 1][6] for k in carrier]
    insert("Shipments", ((i + 1, int(ship_idx[i]) + 1, int(carrier[i]), int(route[i]), int(vehicle[i]),
                                 int(driver[i]), sh_t[i], pr_t[i], de_t[i], status[i], w[i], c[i], ship_cur[i],
                                 mo_t[i]) for i in range(ns)))
    events = _insert_events(conn, rng, 1, np.arange(1, ns + 1), status, ordered[ship_idx], shipped, delivered, anchor)
    if progress:
        progress("ShipmentEvents", events)


def _insert_events(conn, rng, first_id, ship_id, status, ordered, shipped, delivered, now) -> int:
    """Event history of shipments from their timelines, IDs in time order."""
    transit = delivered - shipped
    plans = {
        "Created": [("Created", ordered)],
        "Cancelled": [("Created", ordered), ("Cancelled", ordered + HOUR)],
        "InTransit": [("Created", ordered), ("PickedUp", shipped), ("InTransit", shipped + 0.3 * transit)],
        "Lost": [("Created", ordered), ("PickedUp", shipped), ("InTransit", shipped + 0.3 * transit),
                 ("Lost", delivered)],
        "Returned": [("Created", ordered), ("PickedUp", shipped), ("InTransit", shipped + 0.3 * transit),
                     ("ArrivedAtHub", shipped + 0.6 * transit), ("ReturnedToSender", delivered)],
        "Delivered": [("Created", ordered), ("PickedUp", shipped), ("InTransit", shipped + 0.3 * transit),
                      ("ArrivedAtHub", shipped + 0.6 * transit),
                      ("OutForDelivery", delivered - np.minimum(4 * HOUR, 0.2 * np.abs(transit))),
                      ("Delivered", delivered)],
    }
    ids, types, times = [], [], []
    for st, plan in plans.items():
        mask = status == st
        for etype, when in plan:
            ids.append(ship_id[mask])
            types.append(np.full(mask.sum(), etype, dtype=object))
            times.append(np.asarray(when)[mask].round())
    sid, typ, at = np.concatenate(ids), np.concatenate(types), np.concatenate(times)
    keep = at <= now
    sid, typ, at = sid[keep], typ[keep], at[keep]
    order = np.lexsort((sid, at))
    sid, typ, at = sid[order], typ[order], at[order]
    cities = [city for _, _, cs in S.COUNTRIES for city in cs]
    loc = rng.integers(0, len(cities), len(sid))
    at_txt = fmt_times(at)
    return insert_rows(conn, "ShipmentEvents", ((first_id + i, int(sid[i]), typ[i], at_txt[i], cities[loc[i]])
                                            for i in range(len(sid))))


# --------------------------------------------------------------------------- public API
def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=DELETE")
    conn.execute("PRAGMA synchronous=OFF")
    return conn


def read_state(path: Path) -> StandInState:
    path = Path(path)
    if not path.exists():
        raise StandInError(f"no source stand-in at {path}: run `logistics source generate` first")
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        kv = dict(conn.execute('SELECT "Key", "Value" FROM "StandInState"').fetchall())
    except sqlite3.DatabaseError as exc:
        raise StandInError(f"{path} is not a LogisticsDB stand-in ({exc})") from None
    finally:
        conn.close()
    return StandInState(scale=float(kv["scale"]), seed=int(kv["seed"]), day=int(kv["day"]))


def _write_state(conn: sqlite3.Connection, state: StandInState) -> None:
    conn.executemany('INSERT OR REPLACE INTO "StandInState" VALUES (?, ?)',
                     [("scale", repr(state.scale)), ("seed", str(state.seed)), ("day", str(state.day))])


def generate(path: Path, scale: float = 1.0, seed: int = 42, overwrite: bool = False,
             progress: Callable[[str, int], None] | None = None) -> StandInState:
    """Write day 0 of the stand-in to a new SQLite file (atomically: temp file, then rename); `progress` is
    told each table and its rows as they are written."""
    path = Path(path)
    sizes(scale)  # validates scale
    if path.exists() and not overwrite:
        raise StandInError(f"{path} exists; pass overwrite=True (CLI: --force) to replace it")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    conn = _connect(tmp)
    try:
        conn.execute("BEGIN")
        for stmt in S.schema_statements():
            conn.execute(stmt)
        _initial(conn, scale, seed, progress)
        state = StandInState(scale=scale, seed=seed, day=0)
        _write_state(conn, state)
        conn.execute("COMMIT")
    finally:
        conn.close()
    tmp.replace(path)
    return state


def advance(path: Path, days: int = 1, progress: Callable[[int], None] | None = None) -> StandInState:
    """Apply the next `days` change days, each in one transaction."""

    if days < 1:
        raise StandInError(f"days must be >= 1, got {days}")
    state = read_state(path)
    conn = _connect(Path(path))
    try:
        for _ in range(days):
            state = StandInState(state.scale, state.seed, state.day + 1)
            conn.execute("BEGIN IMMEDIATE")
            apply_day(conn, state.scale, state.seed, state.day)
            _write_state(conn, state)
            conn.execute("COMMIT")
            if progress:
                progress(state.day)
    finally:
        conn.close()
    return state


def table_counts(path: Path) -> dict[str, int]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return {t: conn.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0] for t in TABLES_BY_NAME}
    finally:
        conn.close()
