"""`python -m logistics_etl.dags_test <dag_id> <date> [options]`: Airflow's own `airflow dags test`, with
its in-process execution API serving only the API version that this process's tasks speak.

`airflow dags test` runs every task in the one process of the command (no scheduler, no worker) against an
in-process copy of Airflow's execution API (`InProcessExecutionAPI`). That API is a Cadwyn app: at its first
request Cadwyn generates the routes and schemas of every API version Airflow still serves (nine in Airflow
3.3), so that workers of older releases keep working. A running API server pays that once at its start;
`airflow dags test` pays it in every run, inside the first task: about 3 s of a 25-30 s scale-1 day here
(`check_configuration` took 3.2-3.8 s; one version's routes take about 0.7 s). The only client of the in-process API
is the task SDK of the same process, which speaks one version, the newest: so before the first request this
module gives the app a version bundle of that one version (the same schemas as the head version: the newest
version's changes only say how to serve the older ones), drops the routes that exist only in older
versions, and generates that version's routes.

Nothing else changes: the same CLI command, DAG file, tasks and metadata DB. Where the installed Airflow does
not look as expected (the task SDK speaks an older version than the newest, the head version has changes,
Cadwyn's attributes moved, the one version's routes fail to generate), the app is left as Airflow made it
and a warning says so: the run is then only slower. `logistics run` and `logistics airflow dags test ...`
(so also `benchmarks/orchestration`) run the DAG this way; `airflow dags test` itself is unchanged.
"""

from __future__ import annotations

import functools
import logging
import sys
from typing import Any

log = logging.getLogger(__name__)

_DELETED_ROUTE_TAG = "_CADWYN_DELETED_ROUTE"  # cadwyn.route_generation's tag for `only_exists_in_older_versions`


def serve_one_version(app: Any, version: str) -> bool:
    """Make the Cadwyn app `app` (not yet initialised: no request served) generate the routes of `version`
    alone, now, if that is its newest version and its head version has no changes of its own. True if it
    did; otherwise the app is as it was, and generates every version at its first request."""
    from cadwyn import HeadVersion, Version, VersionBundle

    versions = getattr(app, "versions", None)
    router = getattr(app, "_latest_version_router", None)
    if not isinstance(versions, VersionBundle) or router is None or getattr(app, "_cadwyn_initialized", True):
        why = "it is not a Cadwyn app that has yet to serve its first request"
    elif not versions.versions or versions.versions[0].value != version:
        why = f"the tasks speak API version {version}, not the newest ({versions.version_values[:1]})"
    elif versions.head_version.changes:
        why = "its head version has changes of its own"
    else:
        routes = router.routes
        app.versions = VersionBundle(HeadVersion(), Version(version), api_version_var=versions.api_version_var)
        router.routes = [r for r in routes if _DELETED_ROUTE_TAG not in (getattr(r, "tags", None) or ())]
        try:
            app._cadwyn_initialize()  # what its first request would do (it generates every router, then adds them)
            return True
        except Exception as exc:  # leave it whole: the first request generates every version, as without us
            app.versions, router.routes = versions, routes
            why = f"generating the routes of {version} alone failed ({type(exc).__name__}: {exc})"
    log.warning("the in-process execution API keeps all its API versions (slower first request): %s", why)
    return False


def lean_in_process_api() -> None:
    """Make this process's in-process execution API (the one `dag.test()` runs tasks against) serve only
    the task SDK's API version, when it is first made."""
    from airflow.sdk.api.datamodels._generated import API_VERSION
    from airflow.sdk.execution_time import supervisor

    made = supervisor.in_process_api_server
    if getattr(made, "serves_one_version", False):
        return

    @functools.lru_cache(maxsize=1)
    def in_process_api_server():
        api = made()
        serve_one_version(api.app, API_VERSION)
        return api

    in_process_api_server.serves_one_version = True
    supervisor.in_process_api_server = in_process_api_server


def main(argv: list[str]) -> None:
    """`airflow dags test <argv>` in this process, with the lean in-process API."""
    lean_in_process_api()
    from airflow.__main__ import main as airflow_main

    sys.argv = ["airflow", "dags", "test", *argv]
    airflow_main()


if __name__ == "__main__":
    main(sys.argv[1:])
