"""The lake: where the extract lands each source table and dbt reads it.

One Delta table per source table under `bronze/<Table>` and its key snapshot under `keys/<Table>`, a commit
per extract carrying the batch's manifest (`delta`, `manifest`), on a local folder or Azure Blob / ADLS Gen2 through
delta-rs (`storage`), and the watermarks derived from the committed manifests (`watermarks`). dbt reads the
tables through `macros/lake_tables.sql`.

Imports only `logistics_etl.contract` and `logistics_etl.settings`.
"""
