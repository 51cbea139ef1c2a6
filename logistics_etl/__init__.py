"""The LogisticsDB warehouse's Python package: source stand-in, extract, lake, watermarks, Airflow glue."""

import os

# numpy, which pyarrow imports, starts OpenBLAS with a thread per core, and those threads spin on the CPU
# while they wait for work. Nothing here does linear algebra: on 2 cores the spinning thread took 2 % of
# the CPU samples of a ShipmentEvents extract (perf), time that connectorx, PostgreSQL and the Parquet
# writer share. Set before anything imports numpy; an explicit setting wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
