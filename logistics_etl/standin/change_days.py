"""One change day of the stand-in: what a day of operations does to `LogisticsDB`.

Inserts (customers, orders, shipments, events), updates with a later
`ModifiedAt`, hard deletes, rows committed late with an older `ModifiedAt`,
late-arriving events and a small share of bad rows.
"""

from __future__ import annotations

import sqlite3

import numpy as np

from logistics_etl.standin import rows as R
from logistics_etl.standin import schema as S


def _epoch(text: list[str | None]) -> np.ndarray:
    return np.array([np.nan if t is None else np.datetime64(t.replace(" ", "T"), "s").astype("int64") for t in text],
                    dtype="float64")


def _max_id(conn: sqlite3.Connection, table: str, key: str) -> int:
    """Highest identity ever issued: like SQL Server, a deleted key is never reused."""
    live = conn.execute(f'SELECT COALESCE(MAX("{key}"), 0) FROM "{table}"').fetchone()[0]
    issued = conn.execute('SELECT "Value" FROM "StandInState" WHERE "Key" = ?', (f"identity:{table}",)).fetchone()
    return max(live, int(issued[0]) if issued else 0)


def _remember_identities(conn: sqlite3.Connection) -> None:
    for table, key in (("Customers", "CustomerID"), ("Orders", "OrderID"), ("Shipments", "ShipmentID"),
                       ("ShipmentEvents", "EventID")):
        conn.execute('INSERT OR REPLACE INTO "StandInState" VALUES (?, ?)',
                     (f"identity:{table}", str(_max_id(conn, table, key))))


def apply_day(conn: sqlite3.Connection, scale: float, seed: int, day: int) -> None:
    rng = np.random.default_rng([seed, day])
    n = R.sizes(scale)
    t0 = int(S.ANCHOR.timestamp()) + (day - 1) * R.DAY
    t1 = t0 + R.DAY

    def in_day(k: int) -> np.ndarray:
        return np.sort(rng.uniform(t0, t1 - 1, k).round())

    _remember_identities(conn)

    # Customers: new ones (a few reusing an existing code), updates, late-committed updates.
    first = _max_id(conn, "Customers", "CustomerID") + 1
    k_new = max(1, round(n["customers"] * 0.002))
    created_at = in_day(k_new)
    new_customers = R.customer_rows(rng, first, k_new, t0, t1, created=created_at, modified=created_at)
    if day % 2 == 1:
        dup_of = int(rng.integers(1, first))
        code = conn.execute('SELECT "CustomerCode" FROM "Customers" WHERE "CustomerID" = ?', (dup_of,)).fetchone()
        if code:
            new_customers[-1] = (new_customers[-1][0], code[0], *new_customers[-1][2:])
    R.insert_rows(conn, "Customers", new_customers)
    cust_ids = np.array([r[0] for r in conn.execute('SELECT "CustomerID" FROM "Customers" ORDER BY 1')])
    k_upd = max(2, round(n["customers"] * 0.003))
    upd = np.unique(rng.choice(cust_ids[:-k_new], k_upd, replace=False))
    late = rng.random(len(upd)) < 0.2  # committed late: ModifiedAt before the previous extract
    late[0] = True  # at least one a day, at every scale
    when = np.where(late, t0 - rng.uniform(R.HOUR, 6 * R.HOUR, len(upd)).round(), in_day(len(upd)))
    cities = [(code, city) for code, _, cs in S.COUNTRIES for city in cs]
    pick = rng.integers(0, len(cities), len(upd))
    seg = rng.choice([s for s, _ in S.SEGMENTS], len(upd))
    conn.executemany('UPDATE "Customers" SET "Country" = ?, "City" = ?, "Segment" = ?, "ModifiedAt" = ? '
                     'WHERE "CustomerID" = ?',
                     [(cities[p][0], cities[p][1], str(sg), w, int(i))
                      for p, sg, w, i in zip(pick, seg, R.fmt_times(when), upd, strict=True)])

    # Reference data drifts slowly.
    if day % 3 == 1:
        cid = (day // 3) % len(S.CARRIERS) + 1
        conn.execute('UPDATE "Carriers" SET "Name" = "Name" || \' Group\', "ModifiedAt" = ? WHERE "CarrierID" = ?',
                     (R.fmt_times(in_day(1))[0], cid))
    r_ids = rng.choice(np.arange(1, n["routes"] + 1), 3, replace=False)
    conn.executemany('UPDATE "Routes" SET "PlannedTransitHours" = "PlannedTransitHours" + ?, "ModifiedAt" = ? '
                     'WHERE "RouteID" = ?',
                     [(int(d), w, int(r))
                      for d, w, r in zip(rng.integers(1, 6, 3), R.fmt_times(in_day(3)), r_ids, strict=True)])

    # Open shipments progress: Created ones ship, InTransit ones arrive (or get lost / returned).
    open_rows = conn.execute(
        'SELECT s."ShipmentID", s."CarrierID", s."Status", s."ShippedAt", s."PromisedAt", r."PlannedTransitHours", '
        'o."OrderedAt", s."OrderID" FROM "Shipments" s JOIN "Routes" r ON r."RouteID" = s."RouteID" '
        'JOIN "Orders" o ON o."OrderID" = s."OrderID" '
        'WHERE s."Status" IN (\'Created\', \'InTransit\') ORDER BY s."ShipmentID"').fetchall()
    sid = np.array([r[0] for r in open_rows], dtype="int64")
    carrier = np.array([r[1] for r in open_rows], dtype="int64")
    status = np.array([r[2] for r in open_rows], dtype=object)
    shipped = _epoch([r[3] for r in open_rows])
    planned = np.array([r[5] for r in open_rows], dtype="float64")
    ordered = _epoch([r[6] for r in open_rows])
    order_id = np.array([r[7] for r in open_rows], dtype="int64")

    created = status == "Created"
    # Hard deletes: a few unshipped shipments are withdrawn, together with their order and events.
    deletable = np.flatnonzero(created & (ordered < t0))
    gone = rng.choice(deletable, min(len(deletable), max(1, round(len(deletable) * 0.02))), replace=False) \
        if len(deletable) else np.array([], dtype=int)
    gone_mask = np.zeros(len(sid), dtype=bool)
    gone_mask[gone] = True
    for table, key, ids in (("ShipmentEvents", "ShipmentID", sid[gone]), ("Shipments", "ShipmentID", sid[gone]),
                            ("Orders", "OrderID", order_id[gone])):
        conn.executemany(f'DELETE FROM "{table}" WHERE "{key}" = ?', [(int(i),) for i in ids])
    if day % 2 == 0:  # a customer with no orders (often a duplicate-code one) is removed
        conn.execute('DELETE FROM "Customers" WHERE "CustomerID" = (SELECT MAX(c."CustomerID") FROM "Customers" c '
                     'WHERE c."CustomerID" < ? AND NOT EXISTS '
                     '(SELECT 1 FROM "Orders" o WHERE o."CustomerID" = c."CustomerID"))', (first,))

    ship_now = np.flatnonzero(created & ~gone_mask)
    new_shipped = np.maximum(ordered[ship_now] + 2 * R.HOUR, in_day(len(ship_now)))
    new_shipped = np.minimum(new_shipped, t1 - 1)
    promised_new = new_shipped + planned[ship_now] * R.HOUR
    transit = np.flatnonzero(status == "InTransit")
    promised_t, delivered_t = R.shipment_timeline(rng, carrier[transit], planned[transit], shipped[transit])
    arrives = delivered_t < t1
    fate = rng.random(len(transit))
    lost = arrives & (fate < 0.004)
    returned = arrives & (fate >= 0.004) & (fate < 0.016)
    delivered_ok = arrives & ~lost & ~returned
    delivered_at = np.maximum(delivered_t, t0 + rng.uniform(0, R.HOUR, len(transit)).round())
    # Bad rows: one delivery a day is recorded before its pickup.
    if delivered_ok.any() and day % 2 == 1:
        j = np.flatnonzero(delivered_ok)[0]
        delivered_at[j] = shipped[transit][j] - 2 * R.HOUR

    updates = [("InTransit", None, new_shipped[i], promised_new[i], np.nan, new_shipped[i], sid[s])
               for i, s in enumerate(ship_now)]
    for j, s in enumerate(transit):
        if delivered_ok[j]:
            updates.append(("Delivered", None, np.nan, np.nan, delivered_at[j], max(delivered_at[j], t0), sid[s]))
        elif lost[j] or returned[j]:
            updates.append(("Lost" if lost[j] else "Returned", None, np.nan, np.nan, np.nan,
                            max(delivered_at[j], t0), sid[s]))
    conn.executemany(
        'UPDATE "Shipments" SET "Status" = ?, "ShippedAt" = COALESCE(?, "ShippedAt"), '
        '"PromisedAt" = COALESCE(?, "PromisedAt"), "DeliveredAt" = ?, "ModifiedAt" = ? WHERE "ShipmentID" = ?',
        [(u[0], R.fmt_times(np.array([u[2]]))[0], R.fmt_times(np.array([u[3]]))[0], R.fmt_times(np.array([u[4]]))[0],
          R.fmt_times(np.array([u[5]]))[0], int(u[6])) for u in updates])
    order_status = {"InTransit": "Shipped", "Delivered": "Delivered", "Lost": "Shipped", "Returned": "Returned"}
    conn.executemany('UPDATE "Orders" SET "Status" = ?, "ModifiedAt" = ? WHERE "OrderID" = '
                     '(SELECT "OrderID" FROM "Shipments" WHERE "ShipmentID" = ?)',
                     [(order_status[u[0]], R.fmt_times(np.array([u[5]]))[0], int(u[6])) for u in updates])

    # New orders, each with a new (not yet shipped) shipment; a few bad ones.
    first_order = _max_id(conn, "Orders", "OrderID") + 1
    first_ship = _max_id(conn, "Shipments", "ShipmentID") + 1
    k_orders = max(3, round(n["orders"] / 365 * rng.uniform(0.8, 1.2)))
    valid_cust = [r[0] for r in conn.execute(
        'SELECT MIN("CustomerID") FROM "Customers" GROUP BY "CustomerCode" ORDER BY 1')]
    cust = np.array(valid_cust)[rng.integers(0, len(valid_cust), k_orders)]
    cur_of = dict(conn.execute('SELECT "CustomerID", "Country" FROM "Customers"').fetchall())
    currency = {code: cur for code, cur, _ in S.COUNTRIES}
    o_at = in_day(k_orders)
    amount = R.money(np.clip(rng.lognormal(np.log(220), 0.9, k_orders), 5, 50_000))
    o_txt = R.fmt_times(o_at)
    R.insert_rows(conn, "Orders", [(first_order + i, int(cust[i]), o_txt[i], "Confirmed",
                                    currency[cur_of[int(cust[i])]], amount[i], o_txt[i]) for i in range(k_orders)])
    route = rng.integers(1, n["routes"] + 1, k_orders)
    car = rng.integers(1, len(S.CARRIERS) + 1, k_orders)
    veh = car + len(S.CARRIERS) * rng.integers(0, n["vehicles"] // len(S.CARRIERS), k_orders)
    drv = car + len(S.CARRIERS) * rng.integers(0, n["drivers"] // len(S.CARRIERS), k_orders)
    weight = np.clip(rng.lognormal(np.log(25), 1.1, k_orders), 0.2, 20_000)
    distance = np.array([r[0] for r in conn.execute('SELECT "DistanceKm" FROM "Routes" ORDER BY "RouteID"')])[route - 1]
    cost = (6 + 0.6 * weight + 0.04 * distance) * rng.uniform(0.8, 1.3, k_orders)
    weight[0] = -weight[0]  # bad row: negative weight
    car[1] = S.UNKNOWN_CARRIER_ID  # bad row: unknown carrier
    w, c = R.money(weight), R.money(cost)
    R.insert_rows(conn, "Shipments", [
        (first_ship + i, first_order + i, int(car[i]), int(route[i]), int(veh[i]), int(drv[i]), None, None, None,
         "Created", w[i], c[i], S.CARRIERS[min(int(car[i]), len(S.CARRIERS)) - 1][6], o_txt[i])
        for i in range(k_orders)])

    # Events: one per status change today, then a few late-arriving ones about earlier days.
    first_event = _max_id(conn, "ShipmentEvents", "EventID") + 1
    ev_sid = [first_ship + i for i in range(k_orders)] + [int(u[6]) for u in updates]
    ev_type = ["Created"] * k_orders + [{"InTransit": "PickedUp", "Delivered": "Delivered", "Lost": "Lost",
                                         "Returned": "ReturnedToSender"}[u[0]] for u in updates]
    ev_at = np.concatenate([o_at, np.array([u[5] for u in updates], dtype="float64")])
    late_rows = conn.execute('SELECT "ShipmentID", "DeliveredAt" FROM "Shipments" WHERE "Status" = \'Delivered\' '
                             'AND "DeliveredAt" < ? ORDER BY "ShipmentID" DESC LIMIT 50',
                             (R.fmt_times(np.array([t0]))[0],)).fetchall()
    for sid_late, d_at in late_rows[: max(2, k_orders // 100)]:
        ev_sid.append(int(sid_late))
        ev_type.append("ProofOfDeliveryReceived")
        ev_at = np.append(ev_at, _epoch([d_at])[0] + R.HOUR)
    order = np.argsort(ev_at[: len(ev_sid)] if len(ev_at) else ev_at, kind="stable")
    cities = [city for _, _, cs in S.COUNTRIES for city in cs]
    loc = rng.integers(0, len(cities), len(order))
    at_txt = R.fmt_times(ev_at[order])
    R.insert_rows(conn, "ShipmentEvents", [(first_event + i, ev_sid[o], ev_type[o], at_txt[i], cities[loc[i]])
                                     for i, o in enumerate(order)])

