"""Nodes control and time out on CLOCK_MONOTONIC, or on /clock under use_sim_time (Gazebo)."""

import time

from rclpy.node import Node
from rclpy.parameter import Parameter
from rosgraph_msgs.msg import Clock

from llm_mas_ros.ros.runtime import control_clock, monotonic


def test_wall_nodes_use_the_host_monotonic_clock(harness):
    node = harness.add(Node("wall_clock_probe"))
    now = control_clock(node)
    assert now is monotonic and abs(now() - time.monotonic()) < 1.0


def test_sim_time_nodes_follow_the_clock_topic(harness):
    node = harness.add(
        Node("sim_clock_probe", parameter_overrides=[Parameter("use_sim_time", value=True)])
    )
    now = control_clock(node)
    clock = harness.tester.create_publisher(Clock, "/clock", 10)
    assert harness.until(lambda: clock.get_subscription_count() > 0)
    message = Clock()
    message.clock.sec = 42
    clock.publish(message)
    assert harness.until(lambda: now() == 42.0)
