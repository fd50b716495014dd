# `make run` starts the dashboard; `make test` runs every test. Both set up
# what they need first (a .venv with the pinned packages and featlib itself,
# whose `featlib` command lands in .venv/bin; for the tests also Debian's
# Chromium and Fashion-MNIST), so they work on a fresh machine.
#
# `make run` serves on this machine only (127.0.0.1:8501). Options:
#   make run PORT=9000              another port
#   make run ADDRESS=0.0.0.0        every network interface: others can reach the
#                                   dashboard (and its workspace); see the README
#                                   on logins before doing so

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install --quiet --disable-pip-version-check
PORT ?= 8501
ADDRESS ?= 127.0.0.1

.PHONY: run test lint format setup setup-test system-deps bench clean

# Before the server starts, `featlib prepare` makes what its first visitor sees (the seed MLP trained on the digits
# when the workspace has no model, its default layer mapped; a second when it is stored already; off with
# FEATLIB_FIRST_LOOK=0). Should it fail, the server starts all the same and prepares it itself.
run: setup
	-$(VENV)/bin/featlib prepare
	$(VENV)/bin/streamlit run app.py --server.port $(PORT) --server.address $(ADDRESS)

test: setup-test system-deps
	$(PY) -m pytest

# The linter and the formatter's check (CI runs this before the tests); `make format` rewrites the files.
lint: setup-test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: setup-test
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# The bench (`featlib bench`, whose harness is this checkout's bench/, never installed with the package); options
# in BENCH_ARGS, e.g. make bench BENCH_ARGS="--points 70000 --out bench-results". Its peers: Embedding Atlas's vector
# projection with only the light dependencies it imports (requirements-bench.txt), then the package itself without
# its declared ones (torch, litellm, fastapi).
bench: setup-test $(VENV)/.installed-bench
	$(PY) -m featlib bench $(BENCH_ARGS)

$(VENV)/.installed-bench: requirements-bench.txt | $(VENV)/bin/python
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-bench.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps embedding-atlas==0.26.0
	touch $@

setup: $(VENV)/.installed-app
setup-test: $(VENV)/.installed-test

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

# featlib is installed editable (the working tree's code) without its dependencies (the pinned ones
# come from the requirements files) and without build isolation, so offline too: the venv's own
# setuptools builds it (installed from the index only where the venv has none or one older than 64).
$(VENV)/.installed-app: requirements.txt pyproject.toml | $(VENV)/bin/python
	$(PIP) -r requirements.txt
	$(PIP) "setuptools>=64"
	$(PIP) --no-deps --no-build-isolation -e .
	touch $@

$(VENV)/.installed-test: requirements.txt requirements-test.txt pyproject.toml | $(VENV)/bin/python
	$(PIP) -r requirements-test.txt
	$(PIP) "setuptools>=64"
	$(PIP) --no-deps --no-build-isolation -e .
	touch $@ $(VENV)/.installed-app

# Debian packages the tests use: Chromium for the browser tests (Playwright
# drives /usr/bin/chromium; it never downloads a browser) and Fashion-MNIST's
# IDX files for the offline keras.datasets test.
system-deps:
	@bash .ci/system-deps

clean:
	rm -rf $(VENV) .pytest_cache test-artifacts
