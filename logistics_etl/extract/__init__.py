"""The extract: changed rows of a source table -> one committed lake batch.

`source` opens the database (SQLite, PostgreSQL, SQL Server through
connectorx) and reads Arrow; `queries` writes each dialect's SQL; `conform`
checks and casts what was read against the contract; `table` plans a table's
extract (full or incremental from the lake's watermark), reads, writes the
batch and its tombstones and commits it.

Imports `logistics_etl.lake`, `logistics_etl.contract` and
`logistics_etl.settings`; never Airflow or the developer tools.
"""
