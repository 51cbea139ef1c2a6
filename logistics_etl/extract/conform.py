"""Make source record batches match the contract's Arrow schema, or say exactly why not."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from logistics_etl.contract import Table


class SchemaDriftError(ValueError):
    """A contract column is missing from the source or has a type that cannot be read as the contract's."""


def _compatible(kind: str, src: pa.DataType) -> bool:
    if kind in ("id", "int"):
        return pa.types.is_integer(src)
    if kind == "text":
        return pa.types.is_string(src) or pa.types.is_large_string(src)
    if kind in ("money", "measure"):
        return pa.types.is_decimal(src) or pa.types.is_floating(src) or pa.types.is_integer(src)
    if kind == "time":
        return pa.types.is_timestamp(src)
    raise KeyError(kind)


def _cast(arr: pa.Array, kind: str, target: pa.DataType) -> pa.Array:
    if arr.type == target:
        return arr
    if kind in ("money", "measure") and pa.types.is_floating(arr.type):
        arr = pc.round(arr, target.scale)
    if kind == "time" and arr.type.tz is not None:
        arr = arr.cast(pa.timestamp(arr.type.unit, tz="UTC"))
    return arr.cast(target)


def conform(batch: pa.RecordBatch, table: Table) -> tuple[pa.RecordBatch, list[str]]:
    """Returns the batch in contract order with contract types, plus the names of new source columns."""
    by_lower = {name.lower(): i for i, name in enumerate(batch.schema.names)}
    arrays, fields = [], []
    for col in table.columns:
        idx = by_lower.get(col.name.lower())
        if idx is None:
            raise SchemaDriftError(f"table {table.name}: column {col.name} is in the contract but not in the "
                                   f"source (dropped or renamed?); source columns: {', '.join(batch.schema.names)}")
        arr = batch.column(idx)
        if not _compatible(col.kind, arr.type):
            raise SchemaDriftError(f"table {table.name}: column {col.name} has source type {arr.type}, which "
                                   f"cannot be read as the contract type {col.arrow_type} ({col.kind})")
        try:
            arrays.append(_cast(arr, col.kind, col.arrow_type))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise SchemaDriftError(f"table {table.name}: column {col.name} cannot be cast from {arr.type} "
                                   f"to {col.arrow_type}: {exc}") from None
        fields.append(pa.field(col.name, col.arrow_type))
    known = {c.name.lower() for c in table.columns}
    extra = [n for n in batch.schema.names if n.lower() not in known]
    for name in extra:
        arr = batch.column(batch.schema.get_field_index(name))
        arrays.append(arr)
        fields.append(pa.field(name, arr.type))
    return pa.RecordBatch.from_arrays(arrays, schema=pa.schema(fields)), extra
