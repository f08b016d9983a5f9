"""Node tests: real rclpy nodes in this process, on an EventsExecutor, over real DDS."""

from collections.abc import Callable, Iterator

import pytest
from rclpy.node import Node

from llm_mas_ros.ros.graph import spin_until
from llm_mas_ros.ros.runtime import close_executor, make_executor


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

    def others(self) -> list[str]:
        """The nodes on this test's domain other than the tester."""
        return sorted(set(self.tester.get_node_names()) - {"tester"})

    def close(self) -> None:
        close_executor(self.executor, self.nodes)


@pytest.fixture()
def harness(ros) -> Iterator[Harness]:
    h = Harness()
    # A node of an earlier test still on the graph would feed this one its latched goals.
    assert h.until(lambda: h.others() == [], timeout_s=5.0), f"left on the graph: {h.others()}"
    yield h
    h.close()
