"""The developer's tools: the `logistics` command and the local services.

`cli` (every step of the pipeline outside Airflow), `airflow_env` and
`airflow_ui` (a local Airflow home, its services and `dags test`), `postgres`
and `azurite` (a local PostgreSQL source and Azure Storage emulator),
`report` (the gold summary and the extract history).

May import every other package; nothing imports it.
"""
