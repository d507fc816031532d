# hiddenconvex — every target creates .venv from pyproject.toml when it is missing or stale.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
DATA   ?= data/default.csv
BETA   ?= 0.1

.PHONY: help venv run test test-slow lint experiments experiments-real tables figures bench stability clean

help:  ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	@# setuptools' informational "Editable installation" note (a Python warning of the build
	@# backend) is silenced; every other warning and error still prints
	PYTHONWARNINGS="ignore:Editable installation" $(PY) -m pip install -q -e ".[plot,test]"
	touch $(STAMP)

venv: $(STAMP)  ## create .venv and install the package with plot and test extras

run: $(STAMP)  ## main job on the bundled default data: patterns, convex solve, optimal set, trained nets
	$(PY) -m hiddenconvex.cli run $(DATA) --beta $(BETA)

test: $(STAMP)  ## default test suite (fast; excludes @pytest.mark.slow)
	$(PY) -m pytest

test-slow: $(STAMP)  ## only the slow tests
	$(PY) -m pytest -m slow

lint: $(STAMP)  ## ruff
	$(PY) -m ruff check hiddenconvex scripts tests

experiments: $(STAMP)  ## the default experiment grid -> results/experiments/runs.csv (resumable; FORCE=1 recomputes)
	$(PY) scripts/run_batch.py scripts/configs/default.toml $(if $(FORCE),--force)

experiments-real: $(STAMP)  ## real datasets x beta/beta_max -> results/experiments/real.csv (under 30 min on 2 cores; resumable; FORCE=1 recomputes)
	$(PY) scripts/run_batch.py scripts/configs/real.toml --task hiddenconvex.experiments.real:run_real $(if $(FORCE),--force)

tables: $(STAMP)  ## pivot the tidy CSV into summary tables in results/tables/
	$(PY) scripts/make_tables.py

figures: $(STAMP)  ## figures from the stored CSVs only
	$(PY) scripts/make_figures.py

stability: $(STAMP)  ## inverse-stability experiment (paper B examples) -> results/stability/
	$(PY) scripts/stability_experiment.py

bench: $(STAMP)  ## benchmark tables -> results/bench/ (about 6 min; QUICK=1 for a short run)
	$(PY) scripts/bench_patterns.py
	$(PY) scripts/bench_solvers.py $(if $(QUICK),--quick)
	$(PY) scripts/bench_working_set.py $(if $(QUICK),--quick)

clean:  ## remove caches (keeps .venv and results)
	rm -rf .pytest_cache .ruff_cache .hypothesis .cache
