"""System tests: the whole graph as separate processes, as `llm-mas-ros up` starts it."""

from collections.abc import Iterator

import pytest

from llm_mas_ros.core.robot.model import load_robot
from llm_mas_ros.launcher.bringup import node_list
from llm_mas_ros.launcher.processes import ProcessGroup
from llm_mas_ros.ros.client import GraphClient


class Graph:
    def __init__(self, group: ProcessGroup, client: GraphClient) -> None:
        self.group, self.client = group, client

    def alive(self) -> str | None:
        dead = self.group.failed()
        return self.group.describe_exit(dead) if dead else None

    def run(self, text: str, timeout_s: float = 60.0):
        return self.client.execute(text, timeout_s, alive=self.alive)

    def positions(self) -> dict[str, float]:
        return self.client.fresh_positions()


@pytest.fixture(scope="module")
def graph(ros, tmp_path_factory) -> Iterator[Graph]:
    group = ProcessGroup(node_list(), log_dir=tmp_path_factory.mktemp("logs"))
    group.start()
    client = GraphClient(load_robot(), node_name="system_test")
    try:
        graph = Graph(group, client)
        client.wait_ready(180.0, graph.alive)
        yield graph
    finally:
        client.close()
        group.stop()
    assert not group.running, "processes survived stop()"
