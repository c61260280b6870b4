# The test command of the README: installs what the tests need, then runs every check.
PYTHON ?= python3
PIP := $(PYTHON) -m pip

.PHONY: install install-dev lint test bench

install:
	$(PIP) install -q -e .

install-dev:
	$(PIP) install -q -e '.[dev]'

lint:
	ruff check src tests bench
	mypy
	bandit -q -c pyproject.toml -r src --severity-level high
	bash .ci/secrets-check

test: install-dev lint
	$(PYTHON) -m pytest --cov=gristops --cov-report=term --cov-fail-under=80

bench: install-dev
	$(PYTHON) bench/gateway.py
