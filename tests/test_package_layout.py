"""The package's shape: imports go one way between the packages by job, no module imports itself back
through another, no module is long without saying why, and dbt's list of source tables is the contract's.

Reads the source (ast) and the project's YAML; nothing is built.
"""

from __future__ import annotations

import ast
from pathlib import Path

import yaml

from logistics_etl.contract import TABLES
from logistics_etl.settings import PROJECT_ROOT

PACKAGE = PROJECT_ROOT / "logistics_etl"
# what each part of the package may import (dev -> orchestration -> extract -> lake -> contract, settings)
ALLOWED = {
    "contract": set(),
    "settings": set(),
    "lake": {"contract", "settings"},
    "extract": {"lake", "contract", "settings"},
    "orchestration": {"extract", "lake", "contract", "settings"},
    "standin": {"contract"},
    "dev": {"orchestration", "extract", "lake", "standin", "contract", "settings"},
}
MAX_LINES = 300


def _modules() -> dict[str, Path]:
    return {".".join(p.relative_to(PROJECT_ROOT).with_suffix("").parts).removesuffix(".__init__"): p
            for p in PACKAGE.rglob("*.py")}


def _imports(path: Path) -> set[str]:
    """Every module of this package that `path` imports, at its top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("logistics_etl"):
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("logistics_etl"))
    modules = _modules()
    return {m for m in found if m in modules}


def _part(module: str) -> str:
    return module.split(".")[1] if "." in module else ""


def test_imports_go_one_way_between_the_packages():
    wrong = []
    for module, path in _modules().items():
        part = _part(module)
        if not part:
            continue
        for imported in _imports(path):
            other = _part(imported)
            if other and other != part and other not in ALLOWED[part]:
                wrong.append(f"{module} imports {imported}")
    assert not wrong, wrong


def test_no_import_cycle():
    graph = {m: _imports(p) - {m} for m, p in _modules().items()}
    # a package's __init__ is imported by its modules' imports; it imports nothing here
    state: dict[str, int] = {}

    def visit(m: str, path: list[str]) -> None:
        state[m] = 1
        for n in graph.get(m, ()):
            if state.get(n) == 1:
                raise AssertionError("import cycle: " + " -> ".join(path[path.index(n):] + [n]))
            if n not in state:
                visit(n, path + [n])
        state[m] = 2

    for m in graph:
        if m not in state:
            visit(m, [m])


def test_no_module_is_long_without_saying_why():
    long = [f"{p.relative_to(PROJECT_ROOT)}: {n} lines" for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text().splitlines())) > MAX_LINES
            and "over 300 lines because" not in (ast.get_docstring(ast.parse(p.read_text())) or "")]
    assert not long, long


def test_dbt_lists_the_source_tables_of_the_contract():
    """dbt_project.yml's `source_tables` (quarantine and reconciliation loop over it), the lake source's tables
    and the bronze models are the contract's tables, with their keys."""
    project = yaml.safe_load((PROJECT_ROOT / "dbt_project.yml").read_text())
    declared = {t["table"]: t for t in project["vars"]["source_tables"]}
    assert list(declared) == [t.name for t in TABLES]
    assert [bool(declared[t.name].get("append_only")) for t in TABLES] == [t.append_only for t in TABLES]
    bronze = yaml.safe_load((PROJECT_ROOT / "dbt_project" / "bronze" / "_bronze.yml").read_text())
    [lake] = [s for s in bronze["sources"] if s["name"] == "lake"]
    assert [t["name"] for t in lake["tables"]] == [t.name for t in TABLES]
    models = {m["name"]: m for m in bronze["models"]}
    for table in TABLES:
        name, key = f"brz_{declared[table.name]['name']}", declared[table.name]["key"]
        assert name in models, f"no bronze model {name} described for {table.name}"
        first = models[name]["columns"][0]
        assert first["name"] == key and f"({table.key})" in first["description"], \
            f"{name}: its first column is the key {key} ({table.key})"
        assert (PROJECT_ROOT / "dbt_project" / "bronze" / f"{name}.sql").exists()


def test_every_module_and_benchmark_imports():
    """A module moved or renamed leaves no import behind, in the package or in the benchmarks (which no other
    test runs)."""
    import importlib
    import pkgutil

    import benchmarks
    import logistics_etl

    for package in (logistics_etl, benchmarks):
        for module in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            importlib.import_module(module.name)
