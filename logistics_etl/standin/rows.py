"""Rows of the stand-in: sizes per scale, time formatting, inserts and the
customer and shipment rows that both day 0 (`generator`) and the change days
(`change_days`) make. Imports nothing of either."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

import numpy as np

from logistics_etl.contract import TABLES_BY_NAME
from logistics_etl.standin import schema as S

DAY = 86_400
HOUR = 3_600
Row = tuple


class StandInError(RuntimeError):
    """The stand-in database is missing, foreign or asked for something impossible."""


def fmt_times(secs: np.ndarray) -> list[str | None]:
    """Epoch seconds (NaN = NULL) -> the stand-in's datetime2 text."""
    secs = np.asarray(secs, dtype="float64")
    out: list[str | None] = [None] * len(secs)
    ok = ~np.isnan(secs)
    if ok.any():
        instants = secs[ok].astype("int64").astype("datetime64[s]").astype("datetime64[us]")
        text = np.datetime_as_string(instants, unit="us")
        for i, t in zip(np.flatnonzero(ok), np.char.replace(text, "T", " "), strict=True):
            out[i] = str(t)
    return out


def money(x: np.ndarray) -> list[float]:
    return np.round(x, 2).tolist()


def insert_rows(conn: sqlite3.Connection, table: str, rows: Iterable[Row]) -> int:
    """Insert rows given in the contract's column order. A column appended to the contract after those the
    stand-in makes (as SQL Server's ALTER TABLE ... ADD appends it) stays NULL."""
    rows = list(rows)
    cols = TABLES_BY_NAME[table].column_names[:len(rows[0]) if rows else None]
    columns = ", ".join(f'"{c}"' for c in cols)
    sql = f'INSERT INTO "{table}" ({columns}) VALUES ({", ".join("?" * len(cols))})'
    cur = conn.executemany(sql, rows)
    return cur.rowcount


def sizes(scale: float) -> dict[str, int]:
    if scale <= 0:
        raise StandInError(f"scale must be > 0, got {scale}")
    return {
        "customers": max(100, round(5_000 * scale)),
        "warehouses": 20,
        "routes": max(40, round(600 * scale)),
        "vehicles": max(48, round(800 * scale)),
        "drivers": max(48, round(1_200 * scale)),
        "orders": max(200, round(100_000 * scale)),
    }


def customer_rows(rng: np.random.Generator, first_id: int, count: int, t_lo: float, t_hi: float,
                   created: np.ndarray | None = None, modified: np.ndarray | None = None) -> list[Row]:
    seg = rng.choice(len(S.SEGMENTS), count, p=[p for _, p in S.SEGMENTS])
    country = rng.integers(0, len(S.COUNTRIES), count)
    city_pick = rng.integers(0, 5, count)
    fi = rng.integers(0, len(S.FIRST_NAMES), count)
    la = rng.integers(0, len(S.LAST_NAMES), count)
    if created is None:
        created = rng.uniform(t_lo, t_hi, count).round()
    if modified is None:
        modified = np.minimum(created + rng.uniform(0, 200 * DAY, count).round(), t_hi)
    c_txt, m_txt = fmt_times(created), fmt_times(modified)
    rows = []
    for i in range(count):
        cid = first_id + i
        code, _, cities = S.COUNTRIES[country[i]]
        name = f"{S.LAST_NAMES[la[i]]} Trading" if seg[i] != 2 else f"{S.FIRST_NAMES[fi[i]]} {S.LAST_NAMES[la[i]]}"
        rows.append((cid, f"C{cid:07d}", name, S.SEGMENTS[seg[i]][0], code, cities[city_pick[i] % len(cities)],
                     c_txt[i], m_txt[i]))
    return rows


def shipment_timeline(rng: np.random.Generator, carrier: np.ndarray, planned_h: np.ndarray, shipped: np.ndarray):
    """Promised and actual delivery instants for shipments that left at `shipped`."""
    n = len(carrier)
    p_on_time = np.array([c[3] for c in S.CARRIERS] + [0.8])[np.minimum(carrier, len(S.CARRIERS) + 1) - 1]
    promised = shipped + planned_h * HOUR
    on_time = rng.random(n) < p_on_time
    early = np.round(planned_h * HOUR * rng.uniform(0.55, 1.0, n))
    late = planned_h * HOUR + np.round(rng.exponential(10 * HOUR, n)) + 60
    delivered = shipped + np.where(on_time, early, late)
    exact = rng.random(n) < 0.01  # delivered on the promised minute: the edge of "on time"
    delivered = np.where(exact, promised, delivered)
    return promised, delivered
