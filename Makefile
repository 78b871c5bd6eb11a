# Every target sets up .venv itself; tool settings live in pyproject.toml.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: test lint typecheck demo bench bench-quick bench-sender clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

lint: $(STAMP)
	$(PY) -m ruff check eventbus tests benchmarks examples

typecheck: $(STAMP)
	$(PY) -m mypy --strict eventbus examples/typed_usage.py

test: lint typecheck
	$(PY) -m coverage erase
	$(PY) -m coverage run -m pytest
	$(PY) -m coverage combine --quiet
	$(PY) -m coverage report

demo: $(STAMP)
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
