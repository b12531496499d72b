# Two commands for a newcomer: `make run` (the whole platform on an embedded PostgreSQL, jobs in-process) and
# `make test`. Neither needs a database server installed: without DATABASE_URL both start one from a wheel.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PORT ?= 8000
WEB_WORKERS ?= 2
WEB_THREADS ?= 8
WEB_SERVER ?= granian
WORKER_PROCESSES ?= 2
WORKER_THREADS ?= 4
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
	&& { echo $$p; break; }; done)

.PHONY: install run serve worker test lint typecheck browser check-postgres \
	bench-assignment bench-settlement bench-aggregation bench-io lock

$(STAMP): pyproject.toml requirements.lock
	@test -n "$(PYTHON)" || { echo "Python 3.11 or newer is needed (python3.11 on PATH)."; exit 1; }
	@test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.lock
	$(BIN)/python -m pip install -q --no-deps -e . -e ./clients/python
	@touch $(STAMP)

install: $(STAMP)

# Pin what is installed now (after changing pyproject.toml's dependencies).
lock:
	$(BIN)/python -m pip install -q -e '.[dev]'
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^-e' > requirements.lock

# var/development.env makes this checkout a development platform for every `python3 manage.py ...` (see settings).
var/development.env:
	@mkdir -p var
	@printf 'DEBUG=1\nSECRET_KEY=dev-only-%s\n' "$$($(PYTHON) -c 'import secrets; print(secrets.token_hex(32))')" > $@

run: install var/development.env
	@$(BIN)/python manage.py migrate --noinput -v0
	@$(BIN)/python manage.py load_demo
	@$(BIN)/python manage.py runplatform 127.0.0.1:$(PORT)

serve: install
	$(BIN)/python manage.py collectstatic --noinput -v0
	$(BIN)/python manage.py migrate --noinput -v0
ifeq ($(WEB_SERVER),gunicorn)
	$(BIN)/gunicorn fairlabel.wsgi -k gthread -w $(WEB_WORKERS) --threads $(WEB_THREADS) \
		-b 0.0.0.0:$(PORT) --forwarded-allow-ips='*' --access-logfile -
else
	$(BIN)/granian --interface wsgi fairlabel.wsgi:application --workers $(WEB_WORKERS) \
		--blocking-threads $(WEB_THREADS) --host 0.0.0.0 --port $(PORT) --no-ws --access-log \
		--respawn-failed-workers
endif

worker: install
	@trap 'kill 0' EXIT; $(BIN)/python manage.py run_scheduler & \
	$(BIN)/python manage.py rundramatiq --processes $(WORKER_PROCESSES) --threads $(WORKER_THREADS)

check-postgres: install
	@$(BIN)/python .ci/check_postgres.py

browser:
	@command -v chromium >/dev/null 2>&1 || { \
		echo "Installing Debian's chromium for the browser tests…"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get install -y -q chromium >/dev/null 2>&1 || \
		{ $$SUDO apt-get update -q >/dev/null && $$SUDO apt-get install -y -q chromium >/dev/null; } || \
		{ echo "Could not install chromium (apt-get install chromium)"; exit 1; }; }
	@test -f node_modules/axe-core/axe.min.js || { \
		command -v npm >/dev/null 2>&1 || { echo "npm is needed for axe-core (apt-get install npm)"; exit 1; }; \
		npm ci --no-audit --no-fund --silent; }

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

typecheck: install
	FAIRLABEL_TESTING=1 $(BIN)/mypy .

test: install browser check-postgres lint typecheck
	$(BIN)/python -m pytest

bench-assignment: install check-postgres
	$(BIN)/python bench/assignment.py

bench-settlement: install check-postgres
	$(BIN)/python bench/settlement.py

bench-aggregation: install check-postgres
	$(BIN)/python bench/aggregation.py

bench-io: install check-postgres
	$(BIN)/python bench/io.py

.PHONY: bench-task-types
bench-task-types: install check-postgres
	$(BIN)/python bench/task_types.py
