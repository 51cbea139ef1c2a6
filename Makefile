# The two commands of the README, and the steps they are made of.
# `uv` is installed with pip when missing and always called as `python3 -m uv`,
# so nothing depends on PATH.
SCALE ?= 1
SEED ?= 42
UV := python3 -m uv
PYTEST_ARGS ?=

.PHONY: setup run test lint clean

setup:
	@python3 -m uv --version >/dev/null 2>&1 || { echo "set-up: installing uv (pip install uv)"; \
		python3 -m pip install --quiet --disable-pip-version-check uv; }
	@echo "set-up: the locked environment into .venv (uv sync --frozen: Airflow, cosmos, dbt, DuckDB, delta-rs, ...;"
	@echo "set-up: a few minutes on a new machine, seconds after)"
	@# --compile-bytecode: every later process (each Airflow task, each dbt command) starts from cached
	@# bytecode, also where PYTHONDONTWRITEBYTECODE is set; once per new package, then quickly
	@python3 tools/progress.py set-up -- $(UV) sync --frozen --compile-bytecode

## Run the whole pipeline end to end on the embedded defaults (source stand-in, local lake, DuckDB, Airflow).
run: setup
	$(UV) run --frozen logistics run --scale $(SCALE) --seed $(SEED)

## Every test: unit, dbt (build + lint), DAG validation, end-to-end integration.
test: setup
	$(UV) run --frozen pytest $(PYTEST_ARGS)

lint: setup
	$(UV) run --frozen ruff check .
	$(UV) run --frozen logistics dbt parse --quiet
	$(UV) run --frozen sqlfluff lint

clean:
	rm -rf data target logs
