# `make run` starts the dashboard; `make test` runs every test. Both set up
# what they need first (a .venv with the pinned packages; for the tests also
# Debian's Chromium and Fashion-MNIST), so they work on a fresh machine.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8501

.PHONY: run test setup setup-test system-deps bench clean

run: setup
	$(VENV)/bin/streamlit run app.py --server.port $(PORT)

test: setup-test system-deps
	$(PY) -m pytest

bench: setup-test
	$(PY) -m featlib bench

setup: $(VENV)/.installed-app
setup-test: $(VENV)/.installed-test

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed-app: requirements.txt | $(VENV)/bin/python
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.installed-test: requirements.txt requirements-test.txt | $(VENV)/bin/python
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-test.txt
	touch $@ $(VENV)/.installed-app

# Debian packages the tests use: Chromium for the browser tests (Playwright
# drives /usr/bin/chromium; it never downloads a browser) and Fashion-MNIST's
# IDX files for the offline keras.datasets test.
system-deps:
	@bash .ci/system-deps

clean:
	rm -rf $(VENV) .pytest_cache test-artifacts
