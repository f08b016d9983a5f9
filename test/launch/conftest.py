"""test/launch: tests of the launch files under launch_pytest (a ROS 2 install).

The suite's pytest config keeps the launch_pytest plugin disabled (setup.cfg); without it, a
launch test cannot run, so it is skipped with the command that runs it.
"""

import pytest

NEEDS_PLUGIN = (
    "needs the launch_pytest plugin: make test-launch (pytest -p launch_pytest test/launch)"
)


def pytest_collection_modifyitems(config, items):
    if config.pluginmanager.has_plugin("launch_pytest"):
        return
    for item in items:
        if item.get_closest_marker("launch") is not None:
            item.add_marker(pytest.mark.skip(reason=NEEDS_PLUGIN))
