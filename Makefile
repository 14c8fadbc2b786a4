# The two commands of the README: `make run` and `make test`. Both bootstrap .venv.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test lint format system-deps bench docs clean

run: $(VENV)/.installed
	$(BIN)/kpiwatch run

test: $(VENV)/.installed-test system-deps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.installed-test
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(VENV)/.installed
	$(BIN)/python bench/bench_scrape.py
	$(BIN)/python bench/bench_polls.py

docs: $(VENV)/.installed
	$(BIN)/python -m kpiwatch.metrics_doc > docs/metrics.md

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(VENV)/.installed $@

# The end-to-end tests run the real Prometheus, promtool and Alertmanager (Debian packages).
system-deps:
	@if command -v prometheus >/dev/null && command -v promtool >/dev/null \
	    && command -v prometheus-alertmanager >/dev/null; then :; else \
	  echo "installing the Debian packages prometheus and prometheus-alertmanager"; \
	  $(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q \
	    --no-install-recommends prometheus prometheus-alertmanager; fi

clean:
	rm -rf $(VENV) build dist *.egg-info daemon/*.egg-info plugins/*.egg-info
