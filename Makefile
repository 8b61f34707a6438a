# Everything runs from a local virtualenv; torch==2.13.0 goes in first so that no resolver step
# ever pulls a CUDA build.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test test-unit test-slow check lint bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m ida_cli.experiment.demo

# one pytest-xdist worker per core (tests/conftest.py gives each one torch thread)
test: $(STAMP)
	$(BIN)/python -m pytest -q -n auto

# the unit tests alone (no database, no training): seconds
test-unit: $(STAMP)
	$(BIN)/python -m pytest -q tests/unit

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

lint: $(STAMP)
	$(BIN)/ruff check ida_cli adversary tests bench
	$(BIN)/ruff format --check ida_cli adversary tests bench
	$(BIN)/mypy

check: lint test

bench: $(STAMP)
	$(BIN)/python -m bench.perf.foundation

clean:
	rm -rf $(VENV) ida.duckdb ida.duckdb.lock ida.duckdb.wal
