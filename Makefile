# Two commands for a fresh machine: `make demo` and `make test` (see README.md).
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q
STAMP := $(VENV)/.installed
DEMO ?= could you open your hand and then swing the base round to ninety degrees

.PHONY: install demo test test-unit test-ros test-system lint clean

install: $(STAMP)

$(STAMP): setup.py setup.cfg requirements*.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip
	$(PIP) install torch==2.13.0
	$(PIP) install -r requirements.txt -r requirements-ros.txt -r requirements-dev.txt
	$(PIP) install --no-deps -r requirements-nodeps.txt
	$(PIP) install --no-deps --no-build-isolation -e .
	touch $@

demo: install
	$(VENV)/bin/llm-mas-ros run "$(DEMO)" --json

test: install
	$(PY) -m pytest -q test

test-unit: install
	$(PY) -m pytest -q test/unit

test-ros: install
	$(PY) -m pytest -q test/ros

test-system: install
	$(PY) -m pytest -q test/system

lint: install
	$(VENV)/bin/ruff check llm_mas_ros test benchmarks launch
	$(VENV)/bin/ruff format --check llm_mas_ros test benchmarks launch
	$(VENV)/bin/mypy llm_mas_ros/core --ignore-missing-imports

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
