"""Gold KPIs computed straight from the source database, independently of the lake, dbt and silver.

The rules are re-implemented here from the design brief and the documented
silver rules, in plain Python with `Decimal` money, so that a bug in the SQL
does not hide behind the same bug in the check.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

RATES = {"USD": Decimal("1.000000"), "EUR": Decimal("1.085000"), "GBP": Decimal("1.270000")}
MODES = {"Road", "Air", "Sea", "Rail"}
ORDER_STATUSES = {"Pending", "Confirmed", "Shipped", "Delivered", "Returned", "Cancelled"}
SHIPMENT_STATUSES = {"Created", "InTransit", "Delivered", "Returned", "Lost", "Cancelled"}
CENT = Decimal("0.01")


def _ts(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _money(value: float | None) -> Decimal | None:
    return None if value is None else Decimal(repr(value)).quantize(CENT, ROUND_HALF_UP)


def _plausible(at) -> bool:
    """macros/is_plausible_time.sql: null, or from 1990 up to 2100."""
    return at is None or 1990 <= at.year < 2100


def _usd(amount: Decimal, currency: str) -> Decimal:
    return (amount * RATES[currency]).quantize(CENT, ROUND_HALF_UP)


def compute(source: Path) -> dict:
    con = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    q = lambda sql: con.execute(sql).fetchall()  # noqa: E731

    carriers = {r[0] for r in q('SELECT "CarrierID", "CarrierCode", "Mode" FROM "Carriers"')
                if r[1] is not None and r[2] in MODES}
    warehouses = {r[0] for r in q('SELECT "WarehouseID", "WarehouseCode" FROM "Warehouses"') if r[1] is not None}
    routes = {r[0] for r in q('SELECT "RouteID", "OriginWarehouseID", "DistanceKm", "PlannedTransitHours" '
                              'FROM "Routes"') if r[1] in warehouses and r[2] and r[2] > 0 and r[3] and r[3] > 0}
    vehicles = {r[0] for r in q('SELECT "VehicleID", "CarrierID", "CapacityKg" FROM "Vehicles"')
                if r[1] in carriers and r[2] is not None and r[2] > 0}
    drivers = {r[0] for r in q('SELECT "DriverID", "CarrierID", "LicenseNumber" FROM "Drivers"')
               if r[1] in carriers and r[2] is not None}
    owner: dict[str, int] = {}
    customers = q('SELECT "CustomerID", "CustomerCode", "Segment" FROM "Customers" ORDER BY "CustomerID"')
    for cid, code, _ in customers:
        owner.setdefault(code, cid)
    segment = {cid: seg for cid, code, seg in customers if code is not None and owner[code] == cid}

    orders = {}
    for oid, cid, at, status, cur, amount in q('SELECT "OrderID", "CustomerID", "OrderedAt", "Status", '
                                               '"Currency", "TotalAmount" FROM "Orders"'):
        amount = _money(amount)
        if (cid in segment and at is not None and _plausible(_ts(at)) and status in ORDER_STATUSES and cur in RATES
                and amount is not None and amount >= 0):
            orders[oid] = (cid, _ts(at), status, _usd(amount, cur))

    revenue: dict[tuple, list] = defaultdict(lambda: [0, Decimal("0.00")])
    for cid, at, status, usd in orders.values():
        if status != "Cancelled":
            key = (at.date(), segment[cid])
            revenue[key][0] += 1
            revenue[key][1] += usd

    facts = {}
    perf: dict[tuple, list] = defaultdict(lambda: [0, 0, 0.0, Decimal("0.00")])
    for row in q('SELECT "ShipmentID", "OrderID", "CarrierID", "RouteID", "ShippedAt", "PromisedAt", '
                 '"DeliveredAt", "Status", "WeightKg", "FreightCost", "Currency", "VehicleID", "DriverID" '
                 'FROM "Shipments"'):
        sid, oid, car, route, shipped, promised, delivered, status, weight, cost, cur, vehicle, driver = row
        shipped, promised, delivered = _ts(shipped), _ts(promised), _ts(delivered)
        weight = _money(weight)
        valid = (car in carriers and oid in orders and route in routes and weight is not None and weight > 0
                 and (vehicle is None or vehicle in vehicles) and (driver is None or driver in drivers)
                 and all(_plausible(t) for t in (shipped, promised, delivered))
                 and not (delivered is not None and shipped is not None and delivered < shipped)
                 and (cost is None or _money(cost) >= 0)
                 and status in SHIPMENT_STATUSES and cur in RATES)
        if not valid or shipped is None:
            continue
        usd = _usd(_money(cost), cur)
        on_time = None if delivered is None else delivered <= promised
        transit = None if delivered is None else (delivered - shipped).total_seconds() / 3600
        facts[sid] = {"customer_id": orders[oid][0], "carrier_id": car, "status": status,
                      "freight_cost_usd": usd, "transit_hours": transit, "is_on_time": on_time}
        if status == "Delivered" and delivered is not None:
            p = perf[(car, delivered.date())]
            p[0] += 1
            p[1] += int(on_time)
            p[2] += transit
            p[3] += usd
    con.close()
    return {
        "fct_shipments": facts,
        "carrier_daily_performance": {
            k: {"shipments_delivered": n, "on_time_deliveries": ok, "on_time_rate": ok / n,
                "avg_transit_hours": hours / n, "freight_cost_usd": usd}
            for k, (n, ok, hours, usd) in perf.items()},
        "daily_order_revenue": {k: {"orders": n, "revenue_usd": usd} for k, (n, usd) in revenue.items()},
        "dim_customer": set(segment),
        "dim_carrier": carriers,
    }
