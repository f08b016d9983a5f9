# Two commands for a fresh machine: `make demo` and `make test` (see README.md).
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q
STAMP := $(VENV)/.installed
DEMO ?= could you open your hand and then swing the base round to ninety degrees

.PHONY: install demo test test-unit test-ros test-system test-launch colcon-test lint clean

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

# The launch tier with its plugin (a ROS 2 install with launch_pytest; skips without it).
test-launch: install
	$(PY) -m pytest -q -p launch_pytest test/launch

# colcon build + colcon test of this package in a temporary workspace, with the colcon from
# requirements-dev.txt (PyPI only), as a ROS user builds it; a fast subset of the tests.
COLCON_WS ?= $(or $(TMPDIR),/tmp)/llm_mas_ros-colcon-$(shell id -u)
COLCON_TESTS ?= test/unit/test_bringup.py test/unit/test_robot_model.py test/unit/test_shield.py \
  test/launch
COLCON := $(abspath $(VENV))/bin/colcon
colcon-test: install
	rm -rf "$(COLCON_WS)" && mkdir -p "$(COLCON_WS)/src"
	ln -s "$(CURDIR)" "$(COLCON_WS)/src/llm_mas_ros"
	cd "$(COLCON_WS)" && $(COLCON) --log-base log build --packages-select llm_mas_ros
	test -x "$(COLCON_WS)/install/llm_mas_ros/lib/llm_mas_ros/llm_mas_planner"
	cd "$(COLCON_WS)" && . install/setup.sh && $(abspath $(PY)) -c "from pathlib import Path; \
	from ament_index_python.packages import get_package_share_directory as share; \
	assert (Path(share('llm_mas_ros')) / 'launch' / 'bringup.launch.py').is_file()"
	cd "$(COLCON_WS)" && $(COLCON) --log-base log test \
	  --packages-select llm_mas_ros --return-code-on-test-failure --pytest-args $(COLCON_TESTS)
	cd "$(COLCON_WS)" && $(COLCON) test-result --verbose --all

lint: install
	$(VENV)/bin/ruff check llm_mas_ros test benchmarks launch
	$(VENV)/bin/ruff format --check llm_mas_ros test benchmarks launch
	$(VENV)/bin/mypy --strict llm_mas_ros/core llm_mas_ros/eval --ignore-missing-imports

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
