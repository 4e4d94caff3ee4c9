# Two commands on a fresh machine (python3 >= 3.11, make, git):
#   make run    # create .venv, install pinned dependencies, build the dataset from data/raw
#   make test   # same install, Chromium for the browser test (installed if missing), the tests
# scripts/ensure-system.sh checks (and as root installs) what they need from the machine.
PYTHON ?= python3
# Extra pytest arguments for the test targets, e.g. make test PYTEST_ARGS='tests/test_report.py -x'
PYTEST_ARGS ?=
# The test targets run on one worker per core (pytest-xdist; at most 4, each holds a Prefect
# server and the kernels). PYTEST_WORKERS=0 runs them in this process (pdb, -x in order).
PYTEST_WORKERS ?= auto
XDIST := -n $(PYTEST_WORKERS) --maxprocesses 4
ENSURE := PYTHON='$(PYTHON)' sh scripts/ensure-system.sh
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

.PHONY: run test test-slow test-long test-all lint validate install lock clean bench-smoke

# A .venv left without pip (venv failed half-way, e.g. before python3-venv was installed) is redone.
$(STAMP): pyproject.toml requirements.lock
	$(ENSURE) python
	$(BIN)/python -m pip --version >/dev/null 2>&1 || { rm -rf $(VENV) && $(PYTHON) -m venv $(VENV); }
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

## Build the dataset (DVC runs `papers run` when its inputs, code or params changed), then
## check it with the Great Expectations suite. `papers recover` first repairs what a killed run
## left (the folder's leftovers, an unreadable DVC lock table); it prints one line when clean.
run: $(STAMP)
	$(ENSURE) git repo
	$(BIN)/papers recover
	$(BIN)/dvc repro

## The default test suite (fast), the report's browser test included (it fails, never skips, without
## Chromium unless PAPERS_SKIP_BROWSER=1); slow tests run with `make test-all`. A file's tests
## run on one worker, so a module's fixture (a published build) is built once.
test: $(STAMP)
	$(ENSURE) browser
	$(BIN)/pytest $(XDIST) --dist loadfile $(PYTEST_ARGS)

## The slow tests run git and `dvc repro` in throwaway copies of the project. Most are in one
## file (test_crash.py), so idle workers take tests from the busy one's queue.
test-slow: $(STAMP)
	$(ENSURE) git
	$(BIN)/pytest $(XDIST) --dist worksteal -m 'slow and not long' $(PYTEST_ARGS)

## The long fuzz campaigns (thousands of generated inputs per reader, atheris): ~25 min.
test-long: $(STAMP)
	$(BIN)/pytest -m long $(PYTEST_ARGS)

test-all: $(STAMP)
	$(ENSURE) git browser
	$(BIN)/pytest -m '' $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

## A small benchmark whose figures show up in every CI log (pipeline against the I/O floor and
## the per-record baseline at 5,000 records): a slowdown is visible there. It prints; it asserts
## nothing about time. The figures go to data/interim/bench/, not bench/results.json.
bench-smoke: $(STAMP)
	$(BIN)/python bench/run.py --sizes 5000 --json data/interim/bench/smoke.json

validate: $(STAMP)
	$(BIN)/papers validate

## Re-pin requirements.lock from pyproject.toml in a scratch environment.
lock:
	rm -rf /tmp/papers-lock-venv && $(PYTHON) -m venv /tmp/papers-lock-venv
	/tmp/papers-lock-venv/bin/pip install --quiet -e '.[dev]'
	/tmp/papers-lock-venv/bin/pip freeze --exclude-editable | grep -v '^papers-pipeline' > requirements.lock

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
