"""Hostile and broken messages on the topics of the real graph (issue 13, item 4): the sim,
the agents and the planner run as processes, as `llm-mas-ros up` starts them, on a DDS domain
of their own, and this process publishes beside them. test/ros/test_hostile_topics.py drives
the same messages into nodes in this process; here they cross DDS into the processes, beside
the real publishers of those topics (the agents' commands, the sim's joint states).

- `<controller>/commands` of the wrong size, NaN, inf, huge: the sim counts the rejects on
  /diagnostics, no joint leaves its limits, nothing crashes.
- /joint_states with missing, extra, duplicated, reordered names, too few positions, NaN and
  inf, while an instruction runs: it still runs to done, every command stays within the
  limits, nothing crashes; and (not yet) the agents say on /diagnostics that they drop them.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
import rclpy
import rclpy.utilities
from diagnostic_msgs.msg import DiagnosticArray
from graph_context import client_in, rclpy_on_domain
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray, MultiArrayDimension, MultiArrayLayout

from llm_mas_ros.core.planning.execution import ExecutionState
from llm_mas_ros.core.robot.model import load_robot
from llm_mas_ros.launcher.bringup import HOST_NODE, node_list
from llm_mas_ros.launcher.processes import ProcessGroup, claim_free_domain
from llm_mas_ros.ros import qos, topics
from llm_mas_ros.ros.client import GraphClient
from llm_mas_ros.ros.graph import spin_until
from llm_mas_ros.ros.messages import sim_status, values_of

ROBOT = load_robot()
JOINTS = {agent.joint.name: agent.joint for agent in ROBOT.agents}
NAMES = list(JOINTS)
SIM_NODE = "mujoco_sim"
SLACK = 0.01  # rad or m: a servo's overshoot at a limit
# frame_id of the joint states, label of the commands this test publishes: its checks skip them
HOSTILE = "hostile"
NON_FINITE = st.sampled_from([math.nan, math.inf, -math.inf])


@dataclass
class Watch:
    """What this process heard from the graph, checked as it arrives."""

    outside: list[str] = field(default_factory=list)  # states or commands outside the limits
    states: int = 0
    latest: dict[str, float] = field(default_factory=dict)  # joint -> the sim's latest position
    commands: int = 0
    sim_rejected: int | None = None  # the sim's count of dropped commands, latest heard
    agent_reports: list[str] = field(default_factory=list)  # agents' texts about joint states


class HostileGraph:
    def __init__(self, group: ProcessGroup, client: GraphClient) -> None:
        self.group, self.client = group, client
        self.watch = Watch()
        node = client.node
        node.create_subscription(JointState, topics.JOINT_STATES, self._state, qos.JOINT_STATES)
        for agent in ROBOT.agents:
            node.create_subscription(
                Float64MultiArray,
                agent.command_topic,
                lambda m, joint=agent.joint: self._command(joint, m),
                qos.COMMANDS,
            )
        node.create_subscription(
            DiagnosticArray, topics.DIAGNOSTICS, self._diagnostics, qos.DIAGNOSTICS
        )
        # Broken joint states go out of one publisher at 500 Hz (twice the sim's rate) while
        # `garbage` holds any; publisher and timer live as long as the graph (a timer event
        # queued when one was destroyed would fire on a destroyed publisher).
        self.garbage: list[JointState] = []
        self.garbage_sent = 0
        self.states_out = node.create_publisher(JointState, topics.JOINT_STATES, qos.JOINT_STATES)
        self._garbage_timer = node.create_timer(0.002, self._publish_garbage)
        self._garbage_timer.cancel()

    def mangle(self, garbage: list[JointState]) -> contextlib.AbstractContextManager[None]:
        """Publish `garbage` round and round while the with-block runs."""

        @contextlib.contextmanager
        def publishing() -> Iterator[None]:
            self.garbage, self.garbage_sent = list(garbage), 0
            self._garbage_timer.reset()
            try:
                self.until(lambda: self.states_out.get_subscription_count() >= 2, 10.0, "match")
                yield
            finally:
                self._garbage_timer.cancel()
                self.garbage = []

        return publishing()

    def _publish_garbage(self) -> None:
        if self.garbage:
            self.states_out.publish(self.garbage[self.garbage_sent % len(self.garbage)])
            self.garbage_sent += 1

    def alive(self) -> str | None:
        dead = self.group.failed()
        return self.group.describe_exit(dead) if dead else None

    def until(self, condition, timeout_s: float, what: str) -> None:
        assert spin_until(self.client.executor, condition, timeout_s), (
            f"not in {timeout_s} s: {what}"
        )

    def _state(self, message: JointState) -> None:
        if message.header.frame_id == HOSTILE:
            return
        self.watch.states += 1
        self.watch.latest.update(zip(message.name, message.position, strict=False))
        for name, value in zip(message.name, message.position, strict=False):
            joint = JOINTS.get(name)
            if joint is None or not joint.lower - SLACK <= value <= joint.upper + SLACK:
                self.watch.outside.append(f"state {name}={value}")

    def _command(self, joint, message: Float64MultiArray) -> None:
        if any(dim.label == HOSTILE for dim in message.layout.dim):
            return
        self.watch.commands += 1
        values = list(message.data)
        if len(values) != 1 or not (
            math.isfinite(values[0]) and joint.lower <= values[0] <= joint.upper
        ):
            self.watch.outside.append(f"command {joint.name}={values[:4]}")

    def _diagnostics(self, message: DiagnosticArray) -> None:
        if (sim := sim_status(message, SIM_NODE)) is not None:
            self.watch.sim_rejected = sim.rejected_commands
        for status in message.status:
            if (
                status.name in JOINTS
                or status.name in ROBOT.agent_names
                or status.name == HOST_NODE
            ):
                texts = [status.message, *(f"{k}={v}" for k, v in values_of(status).items())]
                self.watch.agent_reports += [t for t in texts if STATE_REPORT.search(t)]


# What an agent's report of a dropped joint state would say: a key or message naming joint
# states together with dropping, rejecting or malformation (joint_states_dropped_why).
STATE_REPORT = re.compile(
    r"(joint.?states?.*(drop|reject|malformed|invalid|ignor|bad))|"
    r"((drop|reject|malformed|invalid|ignor|bad).*joint.?states?)",
    re.IGNORECASE,
)


@pytest.fixture(scope="module")
def graph(ros, tmp_path_factory) -> Iterator[HostileGraph]:
    """The whole graph (rules planner) on a domain no one else here uses, once ready."""
    with contextlib.ExitStack() as stack:
        claim = stack.enter_context(claim_free_domain())
        env = {**os.environ, "ROS_DOMAIN_ID": str(claim.domain)}
        logs = tmp_path_factory.mktemp("hostile-logs")
        group = ProcessGroup(node_list(planner_backend="rules"), log_dir=logs, env=env)
        stack.callback(_stopped, group)
        group.start()
        context = stack.enter_context(rclpy_on_domain(claim.domain))
        client = client_in(context, ROBOT, f"hostile_test_{claim.domain}")
        stack.callback(client.close)
        graph = HostileGraph(group, client)
        client.wait_ready(120.0, graph.alive)
        yield graph
        assert graph.alive() is None, graph.alive()


def _stopped(group: ProcessGroup) -> None:
    group.stop()
    assert not group.running, "processes survived stop()"


# -- into the sim: commands of the wrong size, NaN, inf, huge -----------------------------------
LABELLED = MultiArrayLayout(dim=[MultiArrayDimension(label=HOSTILE)])  # the sim ignores layouts
BROKEN_COMMANDS = [
    [],
    [0.1, 0.2],
    [math.nan],
    [math.inf],
    [-math.inf],
    [math.nan, 1.0],
    [1.0] * 100,
]


def test_broken_commands_are_counted_by_the_sim_and_move_nothing_outside_limits(graph):
    elbow = ROBOT.agent("elbow")
    publisher = graph.client.node.create_publisher(
        Float64MultiArray, elbow.command_topic, qos.COMMANDS
    )
    try:
        graph.until(lambda: publisher.get_subscription_count() >= 2, 10.0, "sim + us matched")
        graph.until(lambda: graph.watch.sim_rejected is not None, 5.0, "a sim status")
        before = graph.watch.sim_rejected
        # Finite but absurd ones are clipped into the limits by the sim (the elbow's agent
        # commands it back at once); the broken ones are dropped and counted.
        for data in [*BROKEN_COMMANDS, [1e308], [-1e308]]:
            publisher.publish(Float64MultiArray(layout=LABELLED, data=data))
            assert publisher.wait_for_all_acked(rclpy.duration.Duration(seconds=2))
        graph.until(
            lambda: graph.watch.sim_rejected is not None and graph.watch.sim_rejected > before,
            5.0,
            f"the sim counting a rejected command (still {graph.watch.sim_rejected})",
        )
        assert graph.watch.sim_rejected - before <= len(BROKEN_COMMANDS)
        states = graph.watch.states
        graph.until(lambda: graph.watch.states >= states + 50, 5.0, "50 more joint states")
        assert not graph.watch.outside, graph.watch.outside[:10]
        assert graph.alive() is None, graph.alive()
    finally:
        graph.client.node.destroy_publisher(publisher)


# -- into the agents: JointStates with missing, extra, duplicated, reordered names, NaN ----------
MANGLED_NAMES = st.one_of(
    st.permutations(NAMES),  # reordered
    st.lists(st.sampled_from(NAMES), max_size=10),  # missing and duplicated
    st.lists(st.sampled_from([*NAMES, "ghost_joint", "", "ELBOW_JOINT"]), max_size=10),  # extra
)


@st.composite
def joint_states(draw) -> JointState:
    """A broken JointState whose real joints never carry a finite position (a finite one is
    a believable state, not a broken message); extra names carry anything."""
    names = draw(MANGLED_NAMES)
    count = draw(st.sampled_from([len(names), 0, max(len(names) - 1, 0), len(names) + 2]))
    positions = [
        draw(NON_FINITE if index < len(names) and names[index] in JOINTS else st.floats())
        for index in range(count)
    ]
    velocities = draw(st.lists(st.floats(), max_size=len(names) + 1))
    message = JointState(name=names, position=positions, velocity=velocities)
    message.header.frame_id = HOSTILE
    return message


@settings(  # each example runs an instruction on the graph: a few, and no shrinking on failure
    max_examples=3,
    phases=[Phase.generate],
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(garbage=st.lists(joint_states(), min_size=10, max_size=30), degrees=st.integers(-40, 40))
def test_an_instruction_runs_to_done_while_mangled_joint_states_keep_arriving(
    graph, garbage, degrees
):
    with graph.mangle(garbage):
        outcome = graph.client.execute(f"elbow to {degrees} degrees", 30.0, alive=graph.alive)
        sent = graph.garbage_sent
    assert outcome.ok and outcome.state == ExecutionState.DONE, outcome.to_json()
    # Not outcome.final_positions: the client hears this test's broken joint states too.
    final = graph.watch.latest["elbow_joint"]
    assert final == pytest.approx(math.radians(degrees), abs=0.02), outcome.to_json()
    assert sent > 100, f"only {sent} mangled joint states sent"
    assert not graph.watch.outside, graph.watch.outside[:10]
    assert graph.watch.commands > 0
    assert graph.alive() is None, graph.alive()


def test_the_agents_say_on_diagnostics_that_they_drop_broken_joint_states(graph):
    broken = JointState(name=[*reversed(NAMES), "elbow_joint"], position=[math.nan] * 3)
    broken.header.frame_id = HOSTILE
    with graph.mangle([broken]):
        # The agents publish their statuses every 0.2 s: a report would come within 2 s.
        heard = spin_until(graph.client.executor, lambda: bool(graph.watch.agent_reports), 2.0)
    assert heard, "no agent status mentions the broken joint states it dropped"
