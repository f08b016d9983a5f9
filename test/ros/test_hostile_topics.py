"""Hostile and broken messages on the graph's topics, into real nodes in this process: wrong
array sizes and non-finite values on `<controller>/commands` into the simulator, mangled
JointStates into the agents. Always: no crash, the node keeps answering, no motion outside the
URDF limits."""

from __future__ import annotations

import math

import pytest
from diagnostic_msgs.msg import DiagnosticArray
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray, String
from test_agents_node import FakeArm

from llm_mas_ros.core.control.agent import AgentState
from llm_mas_ros.core.robot.model import load_robot
from llm_mas_ros.nodes.agents_node import AgentHost
from llm_mas_ros.nodes.sim_node import MujocoSimNode
from llm_mas_ros.ros import qos
from llm_mas_ros.ros.messages import sim_status

ROBOT = load_robot()
JOINTS = {agent.joint.name: agent.joint for agent in ROBOT.agents}
SLACK = 0.01  # rad or m: a servo's overshoot at a limit
ON_FIXTURES = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
ODD = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([math.nan, math.inf, -math.inf, 1e308, -1e308, 5e-324, 0.0]),
)


def within_limits(names, positions) -> bool:
    return all(
        JOINTS[n].lower - SLACK <= p <= JOINTS[n].upper + SLACK
        for n, p in zip(names, positions, strict=True)
        if n in JOINTS
    )


# -- the simulator: commands of the wrong size, NaN, inf, huge ------------------------------------
@pytest.fixture()
def sim(harness):
    harness.add(MujocoSimNode())
    states: list[JointState] = []
    rejected: list[int] = []
    harness.tester.create_subscription(JointState, "joint_states", states.append, qos.JOINT_STATES)
    harness.tester.create_subscription(
        DiagnosticArray,
        "/diagnostics",
        lambda m: rejected.extend(s.rejected_commands for s in [sim_status(m, "mujoco_sim")] if s),
        qos.DIAGNOSTICS,
    )
    elbow = ROBOT.agent("elbow")
    publisher = harness.tester.create_publisher(
        Float64MultiArray, elbow.command_topic, qos.COMMANDS
    )
    assert harness.until(lambda: publisher.get_subscription_count() > 0 and states)
    return publisher, states, rejected


@ON_FIXTURES
@given(data=st.lists(ODD, max_size=5))
def test_broken_commands_never_move_the_sim_outside_limits(harness, sim, data):
    publisher, states, _ = sim
    publisher.publish(Float64MultiArray(data=data))
    states.clear()
    assert harness.until(lambda: len(states) >= 3, timeout_s=5.0)  # still publishing
    assert all(within_limits(s.name, s.position) for s in states), states[-1].position


def test_broken_commands_are_counted_and_a_good_one_still_moves_the_joint(harness, sim):
    publisher, states, rejected = sim
    for data in ([], [0.1, 0.2], [math.nan], [math.inf], [-math.inf]):
        publisher.publish(Float64MultiArray(data=data))
    assert harness.until(lambda: rejected and rejected[-1] >= 1, timeout_s=5.0)  # reported
    target = math.radians(20)
    publisher.publish(Float64MultiArray(data=[target]))
    index = list(ROBOT.joint_names).index("elbow_joint")
    assert harness.until(lambda: abs(states[-1].position[index] - target) < 0.01, timeout_s=5.0)


# -- the agents: JointStates with missing, extra, duplicated, reordered names, NaN --------------
NAMES = list(JOINTS)
MANGLED_NAMES = st.one_of(
    st.permutations(NAMES),  # reordered
    st.lists(st.sampled_from(NAMES), max_size=10),  # missing and duplicated
    st.lists(st.sampled_from([*NAMES, "ghost_joint", "", "elbow_joint\x00"]), max_size=10),
)


@st.composite
def joint_states(draw) -> JointState:
    names = draw(MANGLED_NAMES)
    count = draw(st.sampled_from([len(names), 0, max(len(names) - 1, 0), len(names) + 2]))
    positions = draw(st.lists(ODD, min_size=count, max_size=count))
    velocities = draw(st.lists(ODD, max_size=len(names) + 1))
    return JointState(name=names, position=positions, velocity=velocities)


@pytest.fixture()
def agents(harness):
    arm = FakeArm(harness)
    for node in AgentHost().nodes:
        harness.add(node)
    assert harness.until(
        lambda: arm.states.get_subscription_count() > 0 and arm.state("elbow") == "idle"
    )
    return arm


def commands_within_limits(arm: FakeArm) -> bool:
    return all(
        math.isfinite(value)
        and ROBOT.agent(name).joint.lower <= value <= ROBOT.agent(name).joint.upper
        for name, values in arm.commands.items()
        for value in values
    )


@ON_FIXTURES
@given(message=joint_states())
def test_mangled_joint_states_never_crash_the_agents_or_command_outside_limits(
    harness, agents, message
):
    agents.states.publish(message)
    count = len(agents.statuses["elbow"])
    assert harness.until(lambda: len(agents.statuses["elbow"]) > count, timeout_s=5.0)
    assert commands_within_limits(agents)


@settings(max_examples=1, deadline=None, suppress_health_check=list(HealthCheck))
@given(garbage=st.lists(joint_states(), min_size=5, max_size=20))
def test_a_goal_runs_to_its_end_while_mangled_joint_states_keep_arriving(harness, agents, garbage):
    tick = iter(range(10**9))
    timer = harness.tester.create_timer(
        0.002, lambda: agents.states.publish(garbage[next(tick) % len(garbage)])
    )
    agents.goals["elbow"].publish(String(data="move to 30 degrees quickly"))
    assert harness.until(lambda: agents.state("elbow") == AgentState.DONE, timeout_s=15.0), (
        agents.last("elbow")
    )
    harness.tester.destroy_timer(timer)
    assert agents.positions["elbow_joint"] == pytest.approx(math.radians(30), abs=0.01)
    assert commands_within_limits(agents)
