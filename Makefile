# Track My Events — two commands: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test setup web lint fmt audit bench bench-ingest bench-queries bench-gateway bench-lifecycle bench-smoke dashboard-previews clean help

help:
	@echo "make run    - set up and start the whole stack on http://localhost:8000"
	@echo "make test   - set up and run the whole test suite"
	@echo "make lint   - ruff and mypy"
	@echo "make audit  - known vulnerabilities in the pinned Python and npm dependencies"
	@echo "make bench  - benchmarks under bench/ (not part of the tests; bench-ingest, bench-queries, bench-gateway)"
	@echo "make dashboard-previews - PNGs of the Grafana dashboards from a real stack + Prometheus"

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

setup: $(STAMP)

# The dashboard and browser SDK (npm ci + vite/esbuild); skips parts that are up to date.
web:
	scripts/build_web.sh

run: setup web
	$(BIN)/tme dev

test: setup web
	$(BIN)/ruff check services tests bench scripts
	$(BIN)/mypy
	$(BIN)/pytest

lint: setup
	$(BIN)/ruff check services tests bench scripts
	$(BIN)/mypy

fmt: setup
	$(BIN)/ruff format services tests bench scripts

# known vulnerabilities in the pinned dependencies (needs the registries' advisory services:
# PyPI's per-version JSON for pip-audit, npm's bulk advisories; docs/security.md)
audit: setup
	$(BIN)/python -m pip install --quiet 'pip-audit>=2.7'
	$(BIN)/pip-audit --strict --disable-pip --no-deps -r requirements.lock
	cd services/gateway/dashboard && npm audit --omit=dev
	cd services/gateway/sdk && npm audit --omit=dev

bench: bench-ingest bench-queries bench-gateway bench-lifecycle

bench-ingest: setup
	$(BIN)/python -m bench.ingest

bench-queries: setup
	$(BIN)/python -m bench.queries

bench-gateway: setup
	$(BIN)/python -m bench.gateway_cpu

bench-lifecycle: setup
	$(BIN)/python -m bench.lifecycle

# every benchmark at a small size (checks they run, figures are rough)
bench-smoke: setup
	$(BIN)/python -m bench.ingest --smoke
	$(BIN)/python -m bench.queries --smoke
	$(BIN)/python -m bench.gateway_cpu --requests 100
	$(BIN)/python -m bench.lifecycle --smoke

# docs/screenshots/grafana-*.png: a private stack, Debian's prometheus scraping it, a few minutes of traffic
dashboard-previews: setup
	$(BIN)/python -m scripts.dashboard_previews

clean:
	rm -rf $(VENV) .tme tests/.logs services/gateway/static
