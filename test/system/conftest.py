"""System tests: the whole graph as separate processes, as `llm-mas-ros up` starts it."""

from collections.abc import Iterator

import pytest
from sensor_msgs.msg import JointState

from llm_mas_ros.core.planning.status import PlannerStatus
from llm_mas_ros.core.robot.model import load_robot
from llm_mas_ros.launcher.bringup import node_list
from llm_mas_ros.launcher.processes import ProcessGroup
from llm_mas_ros.ros import qos, topics
from llm_mas_ros.ros.client import GraphClient
from llm_mas_ros.ros.graph import spin_until


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

    def wait_planner(self, state: str, timeout_s: float) -> PlannerStatus:
        """The planner's status once it reports `state` (an ExecutionState value)."""

        def reached() -> bool:
            planner = self.client.seen.planner
            return planner is not None and planner.state == state

        assert spin_until(self.client.executor, reached, timeout_s), (
            f"the planner never reported {state!r}: {self.client.seen.planner}"
        )
        assert self.client.seen.planner is not None
        return self.client.seen.planner

    def joint_samples(self, joint: str, count: int, timeout_s: float = 10.0) -> list[float]:
        """The positions of `joint` in the next `count` /joint_states messages: 'for a while'
        measured in the sim's own steps (250 Hz), a wait on messages rather than on a clock."""
        samples: list[float] = []

        def store(message: JointState) -> None:
            if joint in message.name:
                samples.append(message.position[list(message.name).index(joint)])

        node = self.client.node
        subscription = node.create_subscription(
            JointState, topics.JOINT_STATES, store, qos.JOINT_STATES
        )
        try:
            heard = spin_until(self.client.executor, lambda: len(samples) >= count, timeout_s)
        finally:
            node.destroy_subscription(subscription)
        assert heard, f"{len(samples)} of {count} joint states in {timeout_s} s"
        return samples


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
