"""The lake's data files: how they are encoded, and the statistics the Delta log keeps of each.

The extract writes each batch's Parquet parts itself (extract/parts.py `PartWriter`, with `delta_encoding`),
and the commit adds them to the table as they are, with `file_statistics` from each footer, once
`evolve_schema` has added the columns the table lacks (lake/delta.py).
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq

from logistics_etl.lake.errors import LakeError


def delta_encoding(schema: pa.Schema) -> dict[str, str]:
    """DELTA_BINARY_PACKED for every column stored as a Parquet INT32/INT64: integers, timestamps and
    decimals up to 18 digits (written with `store_decimal_as_integer`). Ascending keys and clustered times
    leave small deltas; DuckDB, Spark and delta-rs read the encoding (Parquet v2)."""
    return {f.name: "DELTA_BINARY_PACKED" for f in schema
            if pa.types.is_integer(f.type) or pa.types.is_timestamp(f.type)
            or (pa.types.is_decimal(f.type) and f.type.precision <= 18)}


def file_statistics(metadata: pq.FileMetaData) -> dict:
    """A data file's statistics as the Delta log keeps them: its rows, and the lowest and highest value and the
    nulls of each integer column (keys and `_batch_id`, which readers skip files by), from the Parquet footer."""
    stats: dict = {"numRecords": metadata.num_rows, "minValues": {}, "maxValues": {}, "nullCount": {}}
    schema = metadata.schema.to_arrow_schema()
    for i, field_ in enumerate(schema):
        if not pa.types.is_integer(field_.type) or metadata.num_row_groups == 0:
            continue
        chunks = [metadata.row_group(g).column(i).statistics for g in range(metadata.num_row_groups)]
        if any(c is None or not c.has_min_max for c in chunks):
            continue
        stats["minValues"][field_.name] = min(c.min for c in chunks)
        stats["maxValues"][field_.name] = max(c.max for c in chunks)
        stats["nullCount"][field_.name] = sum(c.null_count for c in chunks)
    return stats


def evolve_schema(table, name: str, schema: pa.Schema) -> None:
    """Columns of the batch the table lacks are added to its schema; a column whose type differs is refused."""
    from deltalake import Field, Schema

    have = {f.name: f.type for f in table.schema().fields}
    landed = Schema.from_arrow(schema).fields
    for field_ in landed:
        if field_.name in have and have[field_.name] != field_.type:
            raise LakeError(f"table {name}: column {field_.name} landed as {field_.type} but the lake's table "
                            f"holds {have[field_.name]}: not an additive change; re-extract the table in full "
                            f"into a new lake table, or change the contract")
    new = [Field(f.name, f.type, nullable=True) for f in landed if f.name not in have]
    if new:
        table.alter.add_columns(new)
