# Humblytics: `make run` serves the app on the embedded default; `make test` runs the suite.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
# The embedded default: SQLite, Celery eager, local-memory cache, DEBUG on.
DEV_ENV := DEBUG=true

.PHONY: run test lint format install install-dev migrate demo-data clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.runtime: requirements.txt constraints.txt | $(VENV)/bin/python
	$(PIP) install --quiet -r requirements.txt -c constraints.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt constraints.txt | $(VENV)/bin/python
	$(PIP) install --quiet -r requirements-dev.txt -c constraints.txt
	touch $(VENV)/.runtime $@

install: $(VENV)/.runtime
install-dev: $(VENV)/.dev

run: install
	$(DEV_ENV) $(PY) manage.py migrate --noinput
	$(DEV_ENV) $(PY) manage.py demo_setup
	$(DEV_ENV) $(PY) manage.py runserver 127.0.0.1:8000

test: install-dev chromium
	@eval "$$($(PY) scripts/detect_services.py)" && \
	  $(DEV_ENV) $(VENV)/bin/pytest $(PYTEST_ARGS)

lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install-dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:
	rm -rf $(VENV) staticfiles .pytest_cache

# The tracker: tracking/tracker/script.js -> tracking/tracker/dist/script.js (terser pinned in package-lock.json).
# `make test` runs the same freshness check as tests/tracking/test_script_build.py.
.PHONY: build-tracker check-tracker
build-tracker:
	scripts/build_tracker.sh
	node splittests/tracker/build.mjs

check-tracker:
	scripts/build_tracker.sh --check
	node splittests/tracker/build.mjs --check

# The Events API under load vs a minimal Django view (see bench/README.md). Installs wrk if missing.
.PHONY: bench-ingest
bench-ingest: install
	$(PY) bench/ingest.py

# CPU per event, stage by stage, in one process (view, ceiling, flusher, its PostgreSQL backend): steady numbers
# on a busy machine, for judging one change at a time (see bench/README.md).
.PHONY: bench-ingest-cpu
bench-ingest-cpu: install
	$(PY) bench/ingest_cpu.py

# The browser tests (tests/tracking/browser) drive Debian's Chromium through Playwright, which cannot download
# its own browsers here. Installed once, as root (CI and the dev machines run as root).
.PHONY: chromium
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" != 0 ]; then echo "/usr/bin/chromium is missing; install it as root: apt-get install chromium" >&2; exit 1; fi; \
	  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; \
	fi

# The dashboard page and Stats-API-style queries against 10 M page views (see bench/README.md). Seeds its own
# database once (bench/seed.py); BENCH_ARGS="--reseed", "--explain", "--only API" …
.PHONY: bench-dashboard
bench-dashboard: install
	$(PY) bench/dashboard.py $(BENCH_ARGS)

# The product with revenue and no Stripe account (README "Demo"): localstripe on loopback, a demo site with a
# month of traffic and attributed payments in demo.sqlite3 (rebuilt each run), then the app on 127.0.0.1:8000.
.PHONY: demo
DEMO_ENV := $(DEV_ENV) DATABASE_URL=sqlite:///$(CURDIR)/demo.sqlite3 REDIS_URL= CELERY_TASK_ALWAYS_EAGER=true \
  STRIPE_MAX_REQUESTS_PER_SECOND=50
demo: install-dev
	$(DEMO_ENV) $(PY) manage.py migrate --noinput
	$(DEMO_ENV) $(PY) manage.py demo_revenue

# A Stripe backfill of 5,000 payments from localstripe: API calls per payment, payments/s (see bench/README.md).
.PHONY: bench-sync
bench-sync: install-dev
	$(PY) bench/sync.py
