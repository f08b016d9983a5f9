"""Node tests: real rclpy nodes in this process, on an EventsExecutor, over real DDS.

rclpy is initialised once with the package's parameter files (each section applies to the node
of its name), exactly as `--params-file` does for a launched node.
"""

from collections.abc import Callable, Iterator

import pytest
import rclpy
from rclpy.node import Node

from llm_mas_ros.core.bringup import config_files
from llm_mas_ros.ros.graph import spin_until
from llm_mas_ros.ros.runtime import make_executor


@pytest.fixture(scope="session")
def ros() -> Iterator[None]:
    files = config_files()
    args = ["--ros-args", *(a for f in files.values() for a in ("--params-file", str(f)))]
    rclpy.init(args=args)
    yield
    rclpy.shutdown()


class Harness:
    """The nodes under test plus a tester node, on one executor."""

    def __init__(self) -> None:
        self.executor = make_executor()
        self.nodes: list[Node] = []
        self.tester = self.add(Node("tester"))

    def add(self, node: Node) -> Node:
        self.executor.add_node(node)
        self.nodes.append(node)
        return node

    def until(self, condition: Callable[[], bool], timeout_s: float = 10.0) -> bool:
        return spin_until(self.executor, condition, timeout_s)

    def close(self) -> None:
        for node in self.nodes:
            self.executor.remove_node(node)
            node.destroy_node()


@pytest.fixture()
def harness(ros) -> Iterator[Harness]:
    h = Harness()
    yield h
    h.close()
