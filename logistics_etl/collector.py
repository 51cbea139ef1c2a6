"""Python's garbage collector in the processes that run the DAG's tasks.

A process that runs this DAG (an Airflow task process, `airflow dags test`) first imports Airflow and
cosmos and builds the DAG: about 500,000 objects that live until the process exits. CPython scans its
oldest generation again each time that generation has grown by a quarter, so while a layer's
`dbt build` ran in such a process (cosmos's `DBT_RUNNER`), every few hundred thousand objects dbt made
cost a scan of Airflow's too: 0.3-0.8 s each, 4-7 s of garbage collection in a 45-second
`airflow dags test` at scale 1, and 3 s more when the process exited.

`gc.freeze()` moves every object that exists into a permanent generation that no collection scans
(the objects stay alive and usable; a cycle among them is simply never reclaimed, which costs nothing
for objects that live until the process ends anyway).
"""

from __future__ import annotations

import gc


def freeze_what_exists() -> None:
    """Keep every object that exists now out of all later collections (see the module docstring)."""
    gc.freeze()
