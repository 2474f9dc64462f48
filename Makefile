# Everything installs itself into .venv on first use; only Python 3.11 is needed.
VENV   ?= .venv
PYTHON ?= python3
BIN    := $(VENV)/bin
ROLE   ?= relationship_manager
SUB    ?=

# pytest rewrites each test module on import (for its assertion messages) and caches the result
# beside it, unless bytecode writing is switched off (some environments switch it off for
# everything): what make runs writes bytecode, so a second test run does not rewrite them again.
unexport PYTHONDONTWRITEBYTECODE

.PHONY: install lock run test test-fast lint typecheck bench token clean

# Dependencies come from requirements.lock (every package pinned, with hashes); the pins are
# kept in pyproject.toml, and `make lock` writes the lock file from them.
$(BIN)/.installed: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r requirements.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	# The project's own modules compiled once, as pip compiles the packages it installs (an
	# editable install leaves them to the first import: every process of the first test run).
	$(BIN)/python -m compileall -q -j 0 gateway services events tests
	touch $@

install: $(BIN)/.installed

## lock: write requirements.lock (with hashes) from the pins in pyproject.toml
lock:
	$(BIN)/uv pip compile pyproject.toml --extra test --generate-hashes --python-version 3.11 \
		--no-header --quiet -o requirements.lock

## run: the whole system on the embedded default (SQLite per component, local broker)
run: install
	$(BIN)/crm migrate all
	@echo ""
	@echo "  Gateway:  http://127.0.0.1:8000   (API docs: http://127.0.0.1:8000/docs)"
	@echo "  Token:    make token ROLE=relationship_manager   (or ROLE=customer SUB=<customer id>)"
	@echo "  Use:      curl -H \"Authorization: Bearer \$$(make -s token)\" http://127.0.0.1:8000/api/v1/products"
	@echo "  Stop:     Ctrl-C"
	@echo ""
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/honcho --procfile Procfile start

# The unit and service tiers run on two pytest-xdist workers (each worker has databases of its
# own); WORKERS=0 runs them in one process. The system tier always runs on one worker: its
# session starts the whole system once. `make test` runs the three tiers in one session: one
# worker takes the tests on the session's system, the others the system modules with systems of
# their own and the fast tiers meanwhile (tests/conftest.py schedules them); with WORKERS=0, the
# fast tiers and then the system tier.
WORKERS ?= 2
PARALLEL := $(filter-out 0,$(WORKERS))
FAST     := tests/unit tests/service $(if $(PARALLEL),-n $(WORKERS))

## test: every test, against PostgreSQL on 127.0.0.1:5432 and a real broker
test: install
ifneq ($(PARALLEL),)
	$(BIN)/python -m pytest tests/system tests/unit tests/service -n $(WORKERS) --dist loadgroup
else
	$(BIN)/python -m pytest tests/unit tests/service
	$(BIN)/python -m pytest tests/system
endif

## test-fast: the unit and service tiers only (no broker, no server processes)
test-fast: install
	$(BIN)/python -m pytest $(FAST)

## lint: formatting and lint rules on the whole tree (CI runs it)
lint: install
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

## typecheck: mypy on the whole tree (CI runs it)
typecheck: install
	$(BIN)/mypy

## bench: throughput and latency, direct vs through the gateway, in one run
bench: install
	$(BIN)/python -m tests.bench

## token: a bearer token signed with the local development key
token: install
	@$(BIN)/crm token --role $(ROLE) $(if $(SUB),--sub $(SUB))

clean:
	rm -rf .dev
