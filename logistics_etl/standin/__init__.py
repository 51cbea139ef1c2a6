"""The embedded `LogisticsDB` stand-in: a deterministic SQLite source.

`schema` (DDL from the contract and the fixed reference data), `rows` (sizes,
rows and inserts both of the others use), `generator` (day 0 and `advance`),
`change_days` (what one day of operations changes). For development and tests;
production extracts from SQL Server.

Imports only `logistics_etl.contract`.
"""
