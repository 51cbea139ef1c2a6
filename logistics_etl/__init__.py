"""The LogisticsDB warehouse's Python package, by job.

    contract, settings   the source tables and the configuration (import nothing of this package)
    lake/                the lake's layout, manifests and commit protocol, local and on Azure
    extract/             source tables -> lake batches
    orchestration/       what the Airflow DAG runs
    standin/             the embedded LogisticsDB stand-in (development and tests)
    dev/                 the `logistics` command and local services

Imports go one way: dev -> orchestration -> extract -> lake -> contract, settings
(standin -> contract). tests/test_package_layout.py checks it.
"""

import os

# numpy, which pyarrow imports, starts OpenBLAS with a thread per core, and those threads spin on the CPU
# while they wait for work. Nothing here does linear algebra: on 2 cores the spinning thread took 2 % of
# the CPU samples of a ShipmentEvents extract (perf), time that connectorx, PostgreSQL and the Parquet
# writer share. Set before anything imports numpy; an explicit setting wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
