"""Node tests: real rclpy nodes in this process, on an EventsExecutor, over real DDS."""

from collections.abc import Callable, Iterator

import pytest
from rclpy.node import Node

from llm_mas_ros.ros.graph import spin_until
from llm_mas_ros.ros.runtime import make_executor


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
