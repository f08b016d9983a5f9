"""Test-session setup shared by all tiers.

DDS isolation happens here, at import time, before any test imports rclpy: a random domain per
session, discovery limited to this host, and the package's Fast DDS profile (fast initial
announcements), so tests never see another session's graph and late joiners match quickly.
"""

import os
import random

from llm_mas_ros.core.bringup import dds_environment

os.environ["ROS_DOMAIN_ID"] = str(random.Random().randint(1, 101))
os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
os.environ.update(dds_environment())
