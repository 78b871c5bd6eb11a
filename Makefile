# Every target sets up .venv itself; tool settings live in pyproject.toml.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup test lint typecheck demo bench bench-quick bench-stores bench-http bench-streams clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

# System packages the tests run for real (never skipped): a redis-server started per test session.
setup: $(STAMP)
	command -v redis-server >/dev/null || (apt-get update && apt-get install -y redis-server)

lint: $(STAMP)
	$(PY) -m ruff check eventbus tests benchmarks examples

typecheck: $(STAMP)
	$(PY) -m mypy --strict eventbus examples/typed_usage.py

test: setup lint typecheck
	$(PY) -m coverage erase
	$(PY) -m coverage run -m pytest
	$(PY) -m coverage combine --quiet
	$(PY) -m coverage report

demo: $(STAMP)
	$(PY) examples/demo.py

bench: setup
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev,bench]'
	$(PY) -m benchmarks
	$(PY) -m benchmarks.stores
	$(PY) -m benchmarks.http
	$(PY) -m benchmarks.streams

bench-quick: setup
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev,bench]'
	$(PY) -m benchmarks --quick
	$(PY) -m benchmarks.stores --quick
	$(PY) -m benchmarks.http --quick
	$(PY) -m benchmarks.streams --quick

bench-stores: setup
	$(PY) -m benchmarks.stores

# Deliveries per second over real HTTP (uvicorn servers, a separate httpx client process).
bench-http: $(STAMP)
	$(PY) -m benchmarks.http

# Redis Streams: events/s publish -> handled vs a raw redis client loop, and latency.
bench-streams: setup
	$(PY) -m benchmarks.streams

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .coverage
