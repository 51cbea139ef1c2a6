"""What the Airflow DAG needs at run time.

`night_tasks` (check the configuration, extract a table), `connections`
(the source and lake from Airflow connections or the environment),
`airflow_settings` (pools, connections and Variables from
airflow_settings.yaml), `dbt_nodes` with `node_report` and `node_retries`
(one `dbt build`, one task per dbt node), `run_verdict` (the run's outcome and
its e-mail). The DAG file (`dags/medallion_architecture_etl.py`) only builds
the DAG from these.

Imports `logistics_etl.extract`, `logistics_etl.lake`, `logistics_etl.contract`
and `logistics_etl.settings`; never the developer tools.
"""

import logging

# cosmos warns, once per process as it is imported, that without the OpenLineage provider it sends no lineage
# events; this project sends none by design (docs/orchestration.md), so that notice is not a warning here.
# Set before any module of this package imports cosmos; the logger's other warnings are errors only.
logging.getLogger("cosmos.operators.local").setLevel(logging.ERROR)
