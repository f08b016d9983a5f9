"""Test-session setup shared by all tiers.

DDS isolation happens here, at import time, before any test imports rclpy: a random domain per
session, discovery limited to this host, and the package's Fast DDS profile (fast initial
announcements), so tests never see another session's graph and late joiners match quickly.
"""

import logging
import os
import random
from collections.abc import Iterator

import pytest

from llm_mas_ros.launcher.bringup import config_files, dds_environment

os.environ["ROS_DOMAIN_ID"] = str(random.Random().randint(1, 101))
os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
os.environ.update(dds_environment())


@pytest.fixture(scope="session")
def ros() -> Iterator[None]:
    """rclpy, once per session, with the package's parameter files: each section applies to
    the node of its name, exactly as `--params-file` does for a launched node."""
    import rclpy

    files = config_files()
    args = ["--ros-args", *(a for f in files.values() for a in ("--params-file", str(f)))]
    rclpy.init(args=args)
    yield
    rclpy.shutdown()


@pytest.fixture(autouse=True)
def plain_logging() -> Iterator[None]:
    """Importing `launch` (launch_pytest, launch_ros, or a test that checks the launch files on
    a ROS machine) makes every logger created afterwards a LaunchLogger that does not
    propagate, so caplog and the root handlers miss it. Each test starts with the standard
    logger class, and this package's loggers propagating."""
    _plain_loggers()
    yield
    _plain_loggers()


def _plain_loggers() -> None:
    if logging.getLoggerClass() is not logging.Logger:
        logging.setLoggerClass(logging.Logger)
    for name, logger in list(logging.Logger.manager.loggerDict.items()):
        if name.startswith("llm_mas_ros") and type(logger).__name__ == "LaunchLogger":
            logger.propagate = True
