"""The simulator node offers the topics of a ros2_control robot."""

import itertools
import math

import pytest
from diagnostic_msgs.msg import DiagnosticArray
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray

from llm_mas_ros.core.robot.model import load_robot
from llm_mas_ros.nodes.sim_node import MujocoSimNode
from llm_mas_ros.ros import qos
from llm_mas_ros.ros.messages import sim_status
from llm_mas_ros.ros.runtime import monotonic

ROBOT = load_robot()


@pytest.fixture()
def sim(harness):
    node = harness.add(MujocoSimNode())
    received: list[JointState] = []
    statuses: list = []
    harness.tester.create_subscription(
        JointState, "joint_states", received.append, qos.JOINT_STATES
    )
    harness.tester.create_subscription(
        DiagnosticArray,
        "/diagnostics",
        lambda m: statuses.extend(filter(None, [sim_status(m, "mujoco_sim")])),
        10,
    )
    commands = {
        a.name: harness.tester.create_publisher(Float64MultiArray, a.command_topic, qos.COMMANDS)
        for a in ROBOT.agents
    }
    assert harness.until(
        lambda: all(p.get_subscription_count() for p in commands.values()) and len(received) > 0
    )
    return node, received, commands, statuses


def test_joint_states_are_stamped_and_name_every_agent_joint(harness, sim):
    _, received, _, _ = sim
    assert harness.until(lambda: len(received) >= 50, timeout_s=5.0)
    message = received[-1]
    assert list(message.name) == list(ROBOT.joint_names)
    assert len(message.position) == len(message.velocity) == len(message.effort) == 7
    assert message.header.stamp.sec > 0


def test_joint_states_are_published_on_the_configured_period(harness, sim):
    """The rate a loaded machine achieves is measured by benchmarks/sim_rate_bench.py; here,
    what the node asks for, and stamps that only move forward."""
    node, received, _, _ = sim
    (timer, _) = sorted(node.timers, key=lambda t: t.timer_period_ns)
    assert timer.timer_period_ns == round(1e9 / node.sim.settings.publish_rate_hz)
    received.clear()
    assert harness.until(lambda: len(received) >= 20, timeout_s=5.0)
    stamps = [m.header.stamp.sec * 10**9 + m.header.stamp.nanosec for m in received]
    assert all(b > a for a, b in itertools.pairwise(stamps))


def test_the_simulation_never_runs_ahead_of_the_wall_clock(harness, sim):
    """Paced by the wall clock: never ahead of it, and a lag it cannot make up is skipped and
    counted (skipped_s), never replayed faster. How close to real time it keeps on a loaded
    machine is a benchmark's number (benchmarks/sim_rate_bench.py)."""
    node, received, _, _ = sim
    ahead: list[float] = []

    def check(_message):
        ahead.append(node.sim.time - (monotonic() - node.clock_origin))

    harness.tester.create_subscription(JointState, "joint_states", check, qos.JOINT_STATES)
    assert harness.until(lambda: len(ahead) >= 50, timeout_s=5.0)
    assert max(ahead) <= node.sim.timestep + 1e-9
    assert node.sim.time > 0 and len(received) > 50


def test_a_forward_command_moves_its_joint(harness, sim):
    _, received, commands, _ = sim
    commands["elbow"].publish(Float64MultiArray(data=[0.5]))
    index = ROBOT.joint_names.index("elbow_joint")
    # A step command jolts the neighbours (reaction torque); the servos settle them back.
    assert harness.until(
        lambda: (
            abs(received[-1].position[index] - 0.5) < 0.005
            and all(abs(p) < 0.005 for i, p in enumerate(received[-1].position) if i != index)
        )
    )


@pytest.mark.parametrize("data", [[], [0.1, 0.2], [math.nan]])
def test_malformed_commands_are_dropped_like_forward_command_controller_does(harness, sim, data):
    node, received, commands, statuses = sim
    commands["gripper"].publish(Float64MultiArray(data=data))
    assert harness.until(lambda: node.rejected_commands == 1)
    assert harness.until(lambda: statuses and statuses[-1].rejected_commands == 1, timeout_s=3.0)
    index = ROBOT.joint_names.index("gripper_finger_joint")
    assert received[-1].position[index] == pytest.approx(0.0, abs=1e-4)
