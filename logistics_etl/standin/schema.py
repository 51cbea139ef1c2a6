"""DDL and fixed reference data of the embedded `LogisticsDB` stand-in."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

from logistics_etl.contract import TABLES, TYPES, Table

# Day 0 of every stand-in: the initial load covers the year before this instant,
# change day N covers [ANCHOR + (N-1) days, ANCHOR + N days).
ANCHOR = datetime(2025, 6, 1, tzinfo=UTC)
HISTORY_DAYS = 365
TIME_FORMAT = "%Y-%m-%d %H:%M:%S.%f"  # how the SQLite stand-in stores datetime2 values

# (code, name, mode, on-time probability, lost rate, return rate, billing currency), from carriers.csv
CARRIERS = [(r["code"], r["name"], r["mode"], float(r["on_time"]), float(r["lost_rate"]), float(r["return_rate"]),
             r["currency"]) for r in csv.DictReader(Path(__file__).with_name("carriers.csv").read_text().splitlines())]

# (country, currency, cities)
COUNTRIES = [
    ("NL", "EUR", ["Amsterdam", "Rotterdam", "Utrecht", "Eindhoven"]),
    ("DE", "EUR", ["Berlin", "Hamburg", "Munich", "Cologne"]),
    ("FR", "EUR", ["Paris", "Lyon", "Marseille", "Lille"]),
    ("BE", "EUR", ["Brussels", "Antwerp", "Ghent"]),
    ("ES", "EUR", ["Madrid", "Barcelona", "Valencia"]),
    ("GB", "GBP", ["London", "Manchester", "Birmingham", "Leeds"]),
    ("US", "USD", ["New York", "Chicago", "Houston", "Atlanta", "Seattle"]),
]

SEGMENTS = [("Enterprise", 0.10), ("SMB", 0.50), ("Consumer", 0.40)]
VEHICLE_TYPES = ["Van", "Truck", "Trailer", "Container", "Aircraft ULD", "Rail Wagon"]
FIRST_NAMES = ["Anna", "Ben", "Chloe", "Daan", "Emma", "Finn", "Grace", "Hugo", "Iris", "Jack",
               "Lena", "Milan", "Noor", "Oscar", "Priya", "Quinn", "Rosa", "Sam", "Tess", "Yara"]
LAST_NAMES = ["de Vries", "Smith", "Müller", "Martin", "Jansen", "Garcia", "Brown", "Rossi",
              "Bakker", "Dubois", "Wilson", "Visser", "Schmidt", "Lopez", "Taylor", "Peters"]

SHIPMENT_STATUSES = ("Created", "InTransit", "Delivered", "Returned", "Lost", "Cancelled")
UNKNOWN_CARRIER_ID = 9999  # the carrier that bad rows point at; never exists


def create_table_sql(table: Table) -> str:
    cols = []
    for c in table.columns:
        ddl = TYPES[c.kind][0]
        if c.name == table.key:
            ddl += " PRIMARY KEY"
        elif not c.nullable:
            ddl += " NOT NULL"
        cols.append(f'"{c.name}" {ddl}')
    return f'CREATE TABLE "{table.name}" ({", ".join(cols)})'


def schema_statements() -> list[str]:
    stmts = [create_table_sql(t) for t in TABLES]
    stmts += [
        f'CREATE INDEX "IX_{t.name}_ModifiedAt" ON "{t.name}" ("ModifiedAt")'
        for t in TABLES if not t.append_only
    ]
    stmts.append('CREATE TABLE "StandInState" ("Key" TEXT PRIMARY KEY, "Value" TEXT NOT NULL)')
    return stmts
