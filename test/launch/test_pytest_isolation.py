"""The ROS launch plugins stay out of the suite, and a swapped logger class does no harm.

The last two tests run in file order: the first does what `import launch` does (and leaves it
so), the second sees test/conftest.py's plain_logging fixture undo it.
"""

import logging

SWAPPED = "llm_mas_ros.test_pytest_isolation.swapped"


def test_the_launch_testing_plugins_are_disabled_by_the_pytest_config(request):
    plugins = request.config.pluginmanager
    assert plugins.is_blocked("launch_testing")  # pytest 9 refuses its hooks
    enabled = request.config.option.plugins or []  # `make test-launch` adds -p launch_pytest
    assert plugins.is_blocked("launch_pytest") == ("launch_pytest" not in enabled)


class LaunchLogger(logging.Logger):  # launch.logging's: it does not propagate
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.propagate = False


def test_importing_launch_swaps_the_logger_class():
    logging.setLoggerClass(LaunchLogger)  # as launch/logging/__init__.py does on import
    assert not logging.getLogger(SWAPPED).propagate


def test_the_next_test_has_the_standard_logger_class_and_propagating_loggers(caplog):
    assert logging.getLoggerClass() is logging.Logger
    swapped, fresh = logging.getLogger(SWAPPED), logging.getLogger(f"{SWAPPED}.fresh")
    assert type(fresh) is logging.Logger
    with caplog.at_level(logging.INFO, logger="llm_mas_ros"):
        swapped.info("made under launch's class")
        fresh.info("made after")
    assert [r.getMessage() for r in caplog.records] == ["made under launch's class", "made after"]
