"""The source contract: the nine `LogisticsDB.dbo` tables, their keys and types.

One description serves the generator (DDL), the extract (query columns, Arrow
schema of the landed Parquet, schema-drift checks) and the tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa

# Logical column types -> (SQLite DDL, PostgreSQL DDL, T-SQL DDL).
TYPES: dict[str, tuple[str, str, str]] = {
    "id": ("INTEGER", "BIGINT", "BIGINT"),
    "text": ("TEXT", "VARCHAR(200)", "NVARCHAR(200)"),
    "int": ("INTEGER", "INTEGER", "INT"),
    "money": ("REAL", "NUMERIC(18,2)", "DECIMAL(18,2)"),
    "measure": ("REAL", "NUMERIC(12,2)", "DECIMAL(12,2)"),
    "time": ("DATETIME", "TIMESTAMP", "DATETIME2(6)"),
}


@cache  # conform asks for a column's type on every record batch
def arrow_type(kind: str) -> pa.DataType:
    """The Arrow type of a logical column type. pyarrow is imported here, when a type is asked for: the DAG
    file reads the table names of this module at every parse, never their types."""
    import pyarrow as pa

    return {"id": pa.int64(), "text": pa.string(), "int": pa.int32(), "money": pa.decimal128(18, 2),
            "measure": pa.decimal128(12, 2), "time": pa.timestamp("us", tz="UTC")}[kind]


@dataclass(frozen=True)
class Column:
    name: str
    kind: str
    nullable: bool = True

    @property
    def arrow_type(self) -> pa.DataType:
        return arrow_type(self.kind)


@dataclass(frozen=True)
class Table:
    name: str
    key: str
    columns: tuple[Column, ...]
    append_only: bool = False

    @property
    def watermark_column(self) -> str:
        """Incremental column: `ModifiedAt`, or the key for append-only tables."""
        return self.key if self.append_only else "ModifiedAt"

    @property
    def version_columns(self) -> list[str]:
        """What identifies one version of a row: the key and its watermark (the key alone when append-only)."""
        return [self.key] if self.append_only else [self.key, self.watermark_column]

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"table {self.name} has no column {name}")

    def arrow_schema(self) -> pa.Schema:
        import pyarrow as pa

        return pa.schema([pa.field(c.name, c.arrow_type, nullable=c.nullable) for c in self.columns])


def _t(name: str, key: str, cols: str, append_only: bool = False) -> Table:
    parsed = []
    for spec in cols.split():
        col, kind = spec.split(":")
        nullable = not kind.endswith("!")
        parsed.append(Column(col, kind.rstrip("!"), nullable))
    return Table(name, key, tuple(parsed), append_only)


TABLES: tuple[Table, ...] = (
    _t("Customers", "CustomerID", "CustomerID:id! CustomerCode:text Name:text Segment:text "
       "Country:text City:text CreatedAt:time ModifiedAt:time!"),
    _t("Carriers", "CarrierID", "CarrierID:id! CarrierCode:text Name:text Mode:text ModifiedAt:time!"),
    _t("Warehouses", "WarehouseID", "WarehouseID:id! WarehouseCode:text Name:text City:text "
       "Country:text ModifiedAt:time!"),
    _t("Routes", "RouteID", "RouteID:id! OriginWarehouseID:id DestinationCity:text "
       "DestinationCountry:text DistanceKm:measure PlannedTransitHours:int ModifiedAt:time!"),
    _t("Vehicles", "VehicleID", "VehicleID:id! CarrierID:id PlateNumber:text VehicleType:text "
       "CapacityKg:measure ModifiedAt:time!"),
    _t("Drivers", "DriverID", "DriverID:id! CarrierID:id FullName:text LicenseNumber:text ModifiedAt:time!"),
    _t("Orders", "OrderID", "OrderID:id! CustomerID:id OrderedAt:time Status:text Currency:text "
       "TotalAmount:money ModifiedAt:time!"),
    _t("Shipments", "ShipmentID", "ShipmentID:id! OrderID:id CarrierID:id RouteID:id VehicleID:id "
       "DriverID:id ShippedAt:time PromisedAt:time DeliveredAt:time Status:text WeightKg:measure "
       "FreightCost:money Currency:text ModifiedAt:time!"),
    _t("ShipmentEvents", "EventID", "EventID:id! ShipmentID:id EventType:text EventAt:time Location:text",
       append_only=True),
)

TABLES_BY_NAME: dict[str, Table] = {t.name: t for t in TABLES}


def get_table(name: str) -> Table:
    """Look a table up by its source name, case-insensitively, with a clear error."""
    for t in TABLES:
        if t.name.lower() == name.lower():
            return t
    known = ", ".join(t.name for t in TABLES)
    raise KeyError(f"unknown source table {name!r}; the source contract has: {known}")


def resolve_tables(names: list[str] | None) -> list[Table]:
    """All tables when `names` is empty, else the named ones in contract order."""
    if not names:
        return list(TABLES)
    wanted = {get_table(n).name for n in names}
    return [t for t in TABLES if t.name in wanted]
