"""The lake: where the extract lands each source table and dbt reads it.

Owns the layout (`bronze/<Table>/batch=NNNNNN/part-*.parquet`, `keys.parquet`,
`_manifest.json`), the manifest schema and the commit protocol, on a local
folder (`batches`) and on Azure Blob / ADLS Gen2 (`blob`), and the watermarks
derived from committed manifests (`watermarks`). dbt reads the same layout
through `macros/lake_batches.sql`.

Imports only `logistics_etl.contract` and `logistics_etl.settings`.
"""
