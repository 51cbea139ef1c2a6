"""`logistics_etl.dags_test`: the in-process execution API that `airflow dags test` runs tasks against,
generating the one API version the task SDK speaks. Real Airflow apps, built in a fresh process (one
failure of Cadwyn's generation is simulated, since no installed Airflow produces one); the DAG runs of
`tests/test_pipeline_e2e.py` go through it for real (`logistics run`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from logistics_etl.airflow_env import airflow_env
from logistics_etl.settings import PROJECT_ROOT, load_settings

PROBE = """
import json
from fastapi.routing import APIRoute
from pydantic import TypeAdapter
from airflow.api_fastapi.execution_api.app import create_task_execution_api_app
from airflow.sdk.api.datamodels._generated import API_VERSION
from logistics_etl.dags_test import serve_one_version

def schema(annotation):
    return None if annotation is None else TypeAdapter(annotation).json_schema()

def routes(app):
    if not app._cadwyn_initialized:
        app._cadwyn_initialize()  # what the app's first request does
    return {version: sorted([sorted(route.methods), route.path, schema(route.response_model),
                             schema(route.body_field.field_info.annotation) if route.body_field else None]
                            for route in router.routes if isinstance(route, APIRoute))
            for version, router in app.router.versioned_routers.items()}

full, lean, older, twice = (create_task_execution_api_app() for _ in range(4))
oldest = full.versions.versions[-1].value
out = {"api_version": API_VERSION, "newest": full.versions.versions[0].value,
       "lean": serve_one_version(lean, API_VERSION), "older": serve_one_version(older, oldest),
       "older_versions": len(older.versions.versions)}
out["full_routes"], out["lean_routes"] = routes(full), routes(lean)
twice._cadwyn_initialize()
out["after_first_request"] = serve_one_version(twice, API_VERSION)

# a generation that fails (simulated: no installed Airflow makes it fail) leaves the app whole
broken = create_task_execution_api_app()
def fail():
    raise RuntimeError("simulated")
broken._cadwyn_initialize = fail
out["broken"] = serve_one_version(broken, API_VERSION)
del broken._cadwyn_initialize
out["broken_routes"] = routes(broken) == out["full_routes"]

# the API that `dag.test()` gets, asked as its tasks ask it
import httpx
from airflow.sdk.execution_time import supervisor
from logistics_etl.dags_test import lean_in_process_api
lean_in_process_api()
api = supervisor.in_process_api_server()
client = httpx.Client(transport=api.transport, base_url="http://in-process.invalid")
answer = client.get("/health", headers={"airflow-api-version": API_VERSION})
out["health"] = [answer.status_code, answer.json()]
out["dag_test_api_versions"] = [v for v, r in api.app.router.versioned_routers.items() if r.routes]
print(json.dumps(out, default=str))
"""


def test_the_in_process_api_serves_the_task_sdks_version_alone_with_the_same_routes(data_dir: Path):
    env = {**os.environ, **airflow_env(load_settings())}
    proc = subprocess.run([sys.executable, "-c", PROBE], env=env, cwd=PROJECT_ROOT, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    # the installed Airflow is one this works with: its task SDK speaks the newest version it serves
    assert out["api_version"] == out["newest"]
    assert out["lean"] is True
    lean = {version: routes for version, routes in out["lean_routes"].items() if routes}
    assert list(lean) == [out["api_version"]]
    # for that version, the same endpoints with the same request and response schemas as the full app
    assert lean[out["api_version"]] == out["full_routes"][out["api_version"]]
    assert len(out["full_routes"]) > 1  # (the full app has the older versions too)
    # refused where it would change what a client gets: an older client version, an app already serving
    assert out["older"] is False and out["older_versions"] == len(out["full_routes"])
    assert out["after_first_request"] is False
    # and so is an app whose one-version generation fails: it generates every version, as Airflow made it
    assert out["broken"] is False and out["broken_routes"] is True
    assert "keeps all its API versions" in proc.stderr + proc.stdout
    # the in-process API of `dag.test()` answers a request of the tasks' version, having generated no other
    assert out["health"] == [200, {"status": "healthy"}]
    assert out["dag_test_api_versions"] == [out["api_version"]]
