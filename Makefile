# Two commands on a fresh machine (python3 >= 3.11, make, git):
#   make run    # create .venv, install pinned dependencies, build the dataset from data/raw
#   make test   # same install, then the test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

# No telemetry or analytics from Prefect, Great Expectations or DVC (no network needed).
export DO_NOT_TRACK := 1
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export GX_ANALYTICS_ENABLED := False
export DVC_NO_ANALYTICS := 1
# Prefect keeps its local database with the project, not in the user's home.
export PREFECT_HOME ?= $(CURDIR)/.prefect
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: run test test-slow test-long test-all lint validate install lock clean

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "python3 >= 3.11 is required")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

## Build the dataset (DVC runs `papers run` when its inputs, code or params changed), then
## check it with the Great Expectations suite.
run: $(STAMP)
	$(BIN)/dvc repro

## The default test suite (fast); slow tests run with `make test-all`.
test: $(STAMP)
	$(BIN)/pytest

test-slow: $(STAMP)
	$(BIN)/pytest -m 'slow and not long'

## The long fuzz campaigns (thousands of generated inputs per reader, atheris): ~25 min.
test-long: $(STAMP)
	$(BIN)/pytest -m long

test-all: $(STAMP)
	$(BIN)/pytest -m ''

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

validate: $(STAMP)
	$(BIN)/papers validate

## Re-pin requirements.lock from pyproject.toml in a scratch environment.
lock:
	rm -rf /tmp/papers-lock-venv && $(PYTHON) -m venv /tmp/papers-lock-venv
	/tmp/papers-lock-venv/bin/pip install --quiet -e '.[dev]'
	/tmp/papers-lock-venv/bin/pip freeze --exclude-editable | grep -v '^papers-pipeline' > requirements.lock

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
