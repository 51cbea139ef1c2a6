"""The LogisticsDB stand-in: deterministic, realistic, with the change days the design asks for."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

from logistics_etl.contract import TABLES
from logistics_etl.standin import generator


def content_digest(path: Path) -> str:
    """SHA-256 over every row of every contract table, in key order."""
    h = hashlib.sha256()
    con = sqlite3.connect(path)
    for t in TABLES:
        for row in con.execute(f'SELECT * FROM "{t.name}" ORDER BY "{t.key}"'):
            h.update(repr(row).encode())
    con.close()
    return h.hexdigest()


def test_same_scale_seed_and_day_give_identical_data(tmp_path: Path):
    a, b, c = tmp_path / "a.sqlite", tmp_path / "b.sqlite", tmp_path / "c.sqlite"
    for p in (a, b):
        generator.generate(p, scale=0.05, seed=11)
        generator.advance(p, 2)
    generator.generate(c, scale=0.05, seed=12)
    generator.advance(c, 2)
    assert content_digest(a) == content_digest(b)
    assert a.read_bytes() == b.read_bytes(), "the SQLite files themselves are byte-identical"
    assert content_digest(a) != content_digest(c), "another seed gives other data"


def test_advancing_in_steps_equals_advancing_at_once(tmp_path: Path):
    a, b = tmp_path / "a.sqlite", tmp_path / "b.sqlite"
    for p in (a, b):
        generator.generate(p, scale=0.05, seed=3)
    generator.advance(a, 3)
    for _ in range(3):
        generator.advance(b, 1)
    assert content_digest(a) == content_digest(b)
    assert generator.read_state(a).day == 3


def test_scale_one_sizes_and_distributions(tmp_path: Path):
    """Scale 1 is about 100k orders, 100k shipments and 500k events, with realistic spreads."""
    path = tmp_path / "s1.sqlite"
    generator.generate(path, scale=1, seed=42)
    counts = generator.table_counts(path)
    assert 95_000 <= counts["Orders"] <= 105_000
    assert 90_000 <= counts["Shipments"] <= 105_000
    assert 450_000 <= counts["ShipmentEvents"] <= 650_000
    con = sqlite3.connect(path)
    rates = dict(con.execute('SELECT "CarrierID", AVG("DeliveredAt" <= "PromisedAt") FROM "Shipments" '
                             'WHERE "Status" = \'Delivered\' AND "CarrierID" <= 12 GROUP BY 1').fetchall())
    assert max(rates.values()) - min(rates.values()) > 0.15, "carriers differ in on-time rate"
    statuses = dict(con.execute('SELECT "Status", COUNT(*) FROM "Shipments" GROUP BY 1').fetchall())
    assert set(statuses) == {"Created", "InTransit", "Delivered", "Returned", "Lost", "Cancelled"}
    currencies = {r[0] for r in con.execute('SELECT DISTINCT "Currency" FROM "Orders"')}
    assert currencies == {"USD", "EUR", "GBP"}
    segments = {r[0] for r in con.execute('SELECT DISTINCT "Segment" FROM "Customers"')}
    assert segments == {"Enterprise", "SMB", "Consumer"}


def test_initial_load_has_each_kind_of_bad_row(source_db: Path):
    con = sqlite3.connect(source_db)
    one = lambda sql: con.execute(sql).fetchone()[0]  # noqa: E731
    assert one('SELECT COUNT(*) FROM "Shipments" WHERE "WeightKg" <= 0') > 0
    assert one('SELECT COUNT(*) FROM "Shipments" WHERE "DeliveredAt" < "ShippedAt"') > 0
    assert one('SELECT COUNT(*) FROM "Shipments" WHERE "CarrierID" NOT IN (SELECT "CarrierID" FROM "Carriers")') > 0
    assert one('SELECT COUNT(*) - COUNT(DISTINCT "CustomerCode") FROM "Customers"') > 0


def test_a_change_day_inserts_updates_deletes_and_arrives_late(source_db: Path):
    con = sqlite3.connect(source_db)
    before = {t.name: {r[0]: r[1:] for r in con.execute(f'SELECT * FROM "{t.name}"')} for t in TABLES}
    con.close()
    state = generator.advance(source_db, 1)
    clock = state.clock
    con = sqlite3.connect(source_db)
    after = {t.name: {r[0]: r[1:] for r in con.execute(f'SELECT * FROM "{t.name}"')} for t in TABLES}
    day_start = "2025-06-01 00:00:00"

    ships_b, ships_a = before["Shipments"], after["Shipments"]
    assert set(ships_a) - set(ships_b), "new shipments"
    assert set(ships_b) - set(ships_a), "hard-deleted shipments"
    updated = [k for k in set(ships_a) & set(ships_b) if ships_a[k] != ships_b[k]]
    assert updated, "updated shipments"
    mod_idx = [c.name for c in TABLES[7].columns].index("ModifiedAt") - 1
    assert all(ships_a[k][mod_idx] > ships_b[k][mod_idx] for k in updated), "updates move ModifiedAt forward"
    assert max(ships_a[k][mod_idx] for k in updated) < clock.strftime("%Y-%m-%d %H:%M:%S")

    cust_mod = [c.name for c in TABLES[0].columns].index("ModifiedAt") - 1
    changed_customers = [v for k, v in after["Customers"].items() if before["Customers"].get(k) != v]
    assert any(v[cust_mod] < day_start for v in changed_customers), "rows committed late with an older ModifiedAt"

    new_events = set(after["ShipmentEvents"]) - set(before["ShipmentEvents"])
    at_idx = [c.name for c in TABLES[8].columns].index("EventAt") - 1
    assert any(after["ShipmentEvents"][e][at_idx] < day_start for e in new_events), "late-arriving events"
    deleted = set(ships_b) - set(ships_a)
    issued = con.execute('SELECT MAX("ShipmentID") FROM "Shipments"').fetchone()[0]
    assert not (deleted & set(range(issued + 1)) & set(ships_a)), "a deleted key is never reused"


def test_bad_input_is_refused_with_a_clear_error(tmp_path: Path):
    with pytest.raises(generator.StandInError, match="scale must be > 0"):
        generator.generate(tmp_path / "x.sqlite", scale=0)
    with pytest.raises(generator.StandInError, match="no source stand-in at"):
        generator.advance(tmp_path / "missing.sqlite")
    path = tmp_path / "y.sqlite"
    generator.generate(path, scale=0.01, seed=1)
    with pytest.raises(generator.StandInError, match="exists"):
        generator.generate(path, scale=0.01, seed=1)
    with pytest.raises(generator.StandInError, match="days must be >= 1"):
        generator.advance(path, 0)
    foreign = tmp_path / "foreign.sqlite"
    sqlite3.connect(foreign).execute("CREATE TABLE t (x)").connection.close()
    with pytest.raises(generator.StandInError, match="not a LogisticsDB stand-in"):
        generator.read_state(foreign)
