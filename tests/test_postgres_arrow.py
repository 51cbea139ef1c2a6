"""PostgreSQL read through ADBC (`logistics_etl.extract.postgres_arrow`), on a real PostgreSQL server: the Arrow
types it hands on, batch sizes, statements read at once, and connections closed however the read ends."""

from __future__ import annotations

from decimal import Decimal

import pyarrow as pa
import pytest

from logistics_etl.extract.postgres_arrow import read_arrow
from logistics_etl.extract.source import SourceError, guarded_reader
from tests.conftest import fresh_database


@pytest.fixture(scope="module")
def pg_url(postgres_server) -> str:
    import psycopg

    url = fresh_database(postgres_server, "arrow_types")
    with psycopg.connect(url) as con:
        con.execute("create table numbers as select i from generate_series(1, 25000) as i")
        con.execute("create view failing as select 10 / (20000 - i) as x from numbers")  # fails at row 20,000
        con.execute("create table typed (grams numeric(13,3), wide numeric(39,1), free numeric, ip inet, "
                    "at timestamp, at_tz timestamptz, code varchar(5), id bigint)")
        con.execute("insert into typed values (1.234, -99999999999999999999999999999999999999.5, 12.50, "
                    "'10.0.0.1', '2025-06-01 10:00:00.123456', '2025-06-01 12:00:00+02', 'x', 7)")
    return url


def _connections(url: str) -> int:
    """Connections to the test database, other than the one asking. A backend ends a moment after its client
    closes the connection, so this waits up to 5 s for the count to reach 0."""
    import time

    import psycopg

    deadline = time.monotonic() + 5
    with psycopg.connect(url, autocommit=True) as con:
        while True:
            count = con.execute("select count(*) from pg_stat_activity where datname = current_database() "
                                "and pid <> pg_backend_pid()").fetchone()[0]
            if count == 0 or time.monotonic() > deadline:
                return count
            time.sleep(0.05)


def test_types_arrive_as_the_extract_reads_them(pg_url: str):
    """A NUMERIC with a declared precision and scale arrives as that decimal (wider than 38 digits as a
    256-bit decimal), exactly; a NUMERIC without one as the text the server wrote; a type the driver does not
    decode (`inet`) as the bytes of its binary form; a `timestamp` as microseconds without a zone, a
    `timestamptz` in UTC."""
    [batch] = list(read_arrow(pg_url, "select * from typed", 1000))
    assert batch.schema.types == [pa.decimal128(13, 3), pa.decimal256(39, 1), pa.string(), pa.binary(),
                                  pa.timestamp("us"), pa.timestamp("us", tz="UTC"), pa.string(), pa.int64()]
    row = batch.to_pylist()[0]
    assert row["grams"] == Decimal("1.234") and row["wide"] == Decimal("-99999999999999999999999999999999999999.5")
    assert row["free"] == "12.50" and row["ip"].endswith(bytes([10, 0, 0, 1])) and row["code"] == "x" and row["id"] == 7
    assert row["at"].isoformat() == "2025-06-01T10:00:00.123456"
    assert row["at_tz"].isoformat() == "2025-06-01T10:00:00+00:00"


def test_batches_are_at_most_batch_size_rows_and_statements_are_read_at_once(pg_url: str):
    batches = list(read_arrow(pg_url, "select i from numbers", 1000))
    assert max(b.num_rows for b in batches) == 1000 and sum(b.num_rows for b in batches) == 25000
    ranges = ["select i from numbers where i <= 10000", "select i from numbers where i > 10000"]
    keys = sorted(k for b in read_arrow(pg_url, ranges, 4096) for k in b.column(0).to_pylist())
    assert keys == list(range(1, 25001))
    assert _connections(pg_url) == 0


def test_an_abandoned_or_failed_read_closes_its_connections(pg_url: str):
    """Taking one batch and dropping the rest, or a statement that the server fails mid-stream while another
    is read beside it: the failure is raised to the reader's caller, and every connection is closed."""
    batches = iter(read_arrow(pg_url, "select i from numbers", 100))
    assert next(batches).num_rows == 100
    del batches
    assert _connections(pg_url) == 0

    read = guarded_reader("Numbers", pg_url, read_arrow)
    with pytest.raises(SourceError, match=r"^table Numbers: reading the source postgresql://.*/arrow_types failed: "
                       r"division by zero; statement: select x from failing \(and 1 more key ranges\)$"):
        for _ in read(pg_url, ["select x from failing", "select i from numbers"], 100):
            pass
    assert _connections(pg_url) == 0
