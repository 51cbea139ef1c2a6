"""The dbt project on its own: lint-clean, documented, and `dbt build` passes every test on a real lake."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from logistics_etl.settings import PROJECT_ROOT
from tests.conftest import run_cli


def test_sqlfluff_lint_is_clean_on_every_model_and_test():
    proc = run_cli("dbt", "--version", check=False)  # dbt importable in this environment
    assert proc.returncode == 0
    import subprocess
    import sys

    lint = subprocess.run([str(Path(sys.executable).with_name("sqlfluff")), "lint", "dbt_project", "tests/dbt",
                           "--format", "json"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600)
    results = json.loads(lint.stdout)
    linted = {r["filepath"] for r in results}
    models = {str(p.relative_to(PROJECT_ROOT)) for p in (PROJECT_ROOT / "dbt_project").rglob("*.sql")}
    assert models <= linted, f"not linted: {models - linted}"
    violations = [(r["filepath"], v["code"], v["start_line_no"], v["description"])
                  for r in results for v in r["violations"]]
    assert not violations, violations
    assert lint.returncode == 0, lint.stderr[-2000:]


def test_every_model_and_column_is_described():
    missing = []
    for yml in (PROJECT_ROOT / "dbt_project").rglob("_*.yml"):
        doc = yaml.safe_load(yml.read_text())
        for model in doc.get("models", []):
            if not model.get("description"):
                missing.append(model["name"])
            missing += [f"{model['name']}.{c['name']}" for c in model.get("columns", []) if not c.get("description")]
    documented = {m["name"] for yml in (PROJECT_ROOT / "dbt_project").rglob("_*.yml")
                  for m in (yaml.safe_load(yml.read_text()).get("models") or [])}
    sql_models = {p.stem for p in (PROJECT_ROOT / "dbt_project").rglob("*.sql")}
    assert sql_models == documented, f"models without YAML: {sql_models - documented}"
    assert not missing, missing


def test_dbt_build_passes_every_test_over_change_days(data_dir: Path):
    run_cli("source", "generate", "--scale", "0.05", "--seed", "5")
    run_cli("extract")
    run_cli("dbt", "build", "--quiet")
    for _ in range(2):
        run_cli("source", "advance")
        run_cli("extract")
        run_cli("dbt", "build", "--quiet")
    results = json.loads((PROJECT_ROOT / "target" / "run_results.json").read_text())["results"]
    statuses = {r["status"] for r in results}
    assert statuses <= {"success", "pass"}, [(r["unique_id"], r["status"]) for r in results
                                              if r["status"] not in ("success", "pass")]
    kinds = {r["unique_id"].split(".")[0] for r in results}
    assert {"model", "seed", "test", "unit_test"} <= kinds
    assert sum(1 for r in results if r["unique_id"].startswith("test.")) >= 150
    assert sum(1 for r in results if r["unique_id"].startswith("unit_test.")) >= 4

    # the lake's sources are fresh after tonight's extract, and the docs site builds with every gold column
    fresh = run_cli("dbt", "source", "freshness").stdout
    assert fresh.count("PASS freshness of lake.") == 9, fresh[-3000:]
    run_cli("dbt", "docs", "generate", "--quiet")
    catalog = json.loads((PROJECT_ROOT / "target" / "catalog.json").read_text())["nodes"]
    manifest = json.loads((PROJECT_ROOT / "target" / "manifest.json").read_text())["nodes"]
    gold = [n for n in manifest.values() if n["resource_type"] == "model" and n["schema"] == "gold"]
    assert len(gold) >= 10
    for node in gold:
        built = {c.lower() for c in catalog[node["unique_id"]]["columns"]}
        described = {c for c, meta in node["columns"].items() if meta.get("description")}
        assert built == described, f"{node['name']}: columns without a description: {built - described}"
