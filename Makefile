# todo-eda: every entry point a user or CI needs. `make up` and `make test` are the two that matter.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat setup.cfg | sha1sum | cut -c1-12)

.PHONY: install up down status clean test check bench psql token rotate-key

$(STAMP): setup.cfg
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev,bench]'
	rm -f $(VENV)/.installed-* && touch $@

## install: Python environment plus the stack's own binaries (Debian packages, Kafka and Debezium jars, FerretDB)
install: $(STAMP)
	$(PY) -m compose install

## up: install what is missing, start the whole stack in the background, wait until every service is ready
up: install
	$(PY) -m compose up

## down: stop everything `make up` started; keep the data
down:
	@test -x $(PY) && $(PY) -m compose down || echo "nothing to stop: no environment installed"

## status: each service's state, pid and port; each consumer group's lag; the connector's state
status: $(STAMP)
	$(PY) -m compose status

## clean: stop the stack and remove its state folder
clean: $(STAMP)
	$(PY) -m compose clean

## token: a fresh access token for the demo user, alone on stdout: TOKEN=$(make -s token)
token: $(STAMP)
	@$(PY) -m compose token

## rotate-key: a new active token signing key; tokens signed with the old ones stay valid
rotate-key: $(STAMP)
	$(PY) -m compose rotate-key

## psql: a psql shell into the project's database
psql: $(STAMP)
	$(PY) -m compose psql

## check: lint, format and types
check: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

## test: install, check, then unit and integration tests against an isolated stack the tests start and stop
test: install check
	$(PY) -m pytest

## bench: the benchmark suite (figures and how to read them: bench/RESULTS.md)
bench: install
	$(PY) -m bench
