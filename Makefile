# Every target sets up .venv itself; tool settings live in pyproject.toml.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEMO_STAMP := $(VENV)/.installed-demo
# The npm reference signers the interop tests run with node; outside the repo, installed
# once and reused (tests/webhook_node.py finds the same folder).
NPM_DIR := $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/eventbus/npm
NPM_PACKAGES := standardwebhooks@1.1.1 svix@1.99.1 stripe@23.1.0 @blocklet/sdk@1.17.12 express@4.22.3
NPM_STAMP := $(NPM_DIR)/.installed-$(shell echo '$(NPM_PACKAGES)' | cksum | cut -d' ' -f1)

.PHONY: test lint typecheck demo bench bench-quick bench-sender clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

# The demo needs only the demo extra (the commands' uvicorn and httpx, and trio), not the
# test tools and frameworks of the dev extra.
$(DEMO_STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[demo]'
	touch $(DEMO_STAMP)

$(NPM_STAMP):
	mkdir -p $(NPM_DIR)
	cd $(NPM_DIR) && npm install --no-audit --no-fund --loglevel=error $(NPM_PACKAGES)
	touch $@

lint: $(STAMP)
	$(PY) -m ruff check eventbus tests benchmarks examples

typecheck: $(STAMP)
	$(PY) -m mypy --strict eventbus examples/typed_usage.py

test: lint typecheck $(NPM_STAMP)
	$(PY) -m coverage erase
	$(PY) -m coverage run -m pytest
	$(PY) -m coverage combine --quiet
	$(PY) -m coverage report

demo: $(DEMO_STAMP)
	$(PY) examples/demo.py

bench: $(STAMP)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev,bench]'
	$(PY) -m benchmarks

bench-quick: $(STAMP)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev,bench]'
	$(PY) -m benchmarks --quick

bench-sender: $(STAMP)
	$(PY) -m benchmarks.sender

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .coverage
