"""A test's own view of a graph on a DDS domain of its own: an rclpy context on that domain and
a GraphClient living in it (the fault drills, the flood and the hostile-topic tests use them)."""

import contextlib
from collections.abc import Iterator

import rclpy
import rclpy.utilities
from rclpy.context import Context
from rclpy.signals import SignalHandlerOptions

from llm_mas_ros.core.robot.model import RobotModel
from llm_mas_ros.ros.client import GraphClient

NO_SIGNALS = SignalHandlerOptions.NO  # the session's rclpy.init installed them already


@contextlib.contextmanager
def rclpy_on_domain(domain: int) -> Iterator[Context]:
    """An rclpy context of its own on DDS `domain`: this process's view of one test's graph,
    apart from the session's domain and from every other test's."""
    context = Context()
    rclpy.init(args=[], context=context, domain_id=domain, signal_handler_options=NO_SIGNALS)
    try:
        yield context
    finally:
        rclpy.shutdown(context=context)


def client_in(context: Context, robot: RobotModel, node_name: str) -> GraphClient:
    """A GraphClient whose node and executor live in `context`. GraphClient builds both on
    rclpy's default context (it takes no context); rclpy reads the default at construction
    only, so it is swapped in for that moment."""
    saved = rclpy.utilities.g_default_context
    rclpy.utilities.g_default_context = context
    try:
        return GraphClient(robot, node_name=node_name)
    finally:
        rclpy.utilities.g_default_context = saved
