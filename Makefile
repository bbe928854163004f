# The two commands: `make run` (set up and serve) and `make test` (set up and test).
# The first interpreter that actually runs and is >= 3.11 (pyenv shims may exist but fail).
PYTHON ?= $(shell for p in python3 python3.13 python3.12 python3.11; do \
	$$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint check-layers bench clean lock env schema schema-breaking

# `make test` checks the layering (import-linter contracts, strict mypy) before pytest, so
# a new upward import, cycle or type error fails the run. LINT_LAYERS=0 skips it.
LINT_LAYERS ?= 1

# Installs exactly what uv.lock pins (pyproject keeps the ranges). uv is bootstrapped into
# the venv with pip, so a fresh clone needs nothing but python3; --inexact keeps uv itself;
# --locked stops when pyproject changed and uv.lock did not follow: run `make lock`.
UV_VERSION := 0.13.9
UV := $(BIN)/uv

$(UV):
	@test -n "$(PYTHON)" || { echo "PMS needs Python >= 3.11 (python3)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "uv==$(UV_VERSION)"

$(STAMP): pyproject.toml uv.lock | $(UV)
	$(UV) sync --locked --inexact --extra dev --extra embedded
	@touch $@

# After editing pyproject.toml: re-resolve uv.lock and commit it. Newest pins within the
# ranges: make lock LOCK_ARGS=--upgrade (or --upgrade-package NAME).
lock: | $(UV)
	$(UV) lock $(LOCK_ARGS)

# Random secrets for docker compose (.env; kept if it exists).
env:
	$(or $(PYTHON),python3) deploy/make_env.py

# The committed GraphQL SDL (schema.graphql); tests fail while it differs from the code.
schema: $(STAMP)
	$(BIN)/python -m pms.sdl

# Changes that break clients of the last release (schema.release.graphql); non-zero on any.
schema-breaking: $(STAMP)
	$(BIN)/python -m pms.sdl --breaking

# Debian's chromium drives the /admin browser tests (Playwright's own browser download
# cannot work on an air-gapped or registry-only host). Installed when missing; without it
# those tests skip, and fail under PMS_REQUIRE_SERVICES=1 (CI).
CHROMIUM ?= /usr/bin/chromium
SUDO := $(if $(filter 0,$(shell id -u)),,sudo -n)
$(CHROMIUM):
	@command -v apt-get >/dev/null && { $(SUDO) apt-get install -y -q chromium >/dev/null 2>&1 \
	  || { $(SUDO) apt-get update -q >/dev/null 2>&1 && $(SUDO) apt-get install -y -q chromium >/dev/null 2>&1; }; } \
	  || echo "chromium could not be installed: the /admin browser tests will skip"

run: $(STAMP)
	$(BIN)/pms serve --migrate

# pytest-xdist workers (tests/conftest.py gives each its own database and Redis db). Whole
# files go to a worker: a module-scoped server or replica fixture starts once, in one
# worker (the replicas' private primary has a fixed data directory). PYTEST_WORKERS=0 runs
# in one process.
PYTEST_WORKERS ?= 2

test: $(STAMP) $(CHROMIUM)
	$(BIN)/ruff check .
ifeq ($(LINT_LAYERS),1)
	$(MAKE) --no-print-directory check-layers
endif
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(MAKE) --no-print-directory check-layers

# One-way layers and cycles (pyproject [tool.importlinter]), then the type checker.
check-layers: $(STAMP)
	$(BIN)/lint-imports
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python bench/wallet.py

clean:
	rm -rf $(VENV) .pms .pytest_cache
