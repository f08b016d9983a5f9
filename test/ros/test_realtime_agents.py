"""The agents process's runtime behaviour over real DDS: what a (re)joining agent does with its
standing goal (robot.yaml `on_rejoin`), and a stalled /joint_states (state_timeout_periods)."""

from collections.abc import Iterator

import pytest
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.parameter import Parameter
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray, String

from llm_mas_ros.core.control.agent import AgentState, Level
from llm_mas_ros.core.robot.model import load_robot
from llm_mas_ros.nodes.agents_node import AgentHost
from llm_mas_ros.ros import qos
from llm_mas_ros.ros.messages import agent_statuses

ROBOT = load_robot()
STANDING = "move to 20 degrees"


class Rig:
    """A tester's side of one agents process: a latched goal publisher for wrist_2, joint
    states on demand, wrist_2's commands and every agent's latest status."""

    def __init__(self, harness) -> None:
        node = harness.tester
        self.harness = harness
        self.goal = node.create_publisher(String, "/wrist_2/goal", qos.GOALS)
        self.states = node.create_publisher(JointState, "/joint_states", qos.JOINT_STATES)
        self.commands: list[float] = []
        self.statuses: dict = {}
        node.create_subscription(
            Float64MultiArray,
            "/wrist_2_position_controller/commands",
            lambda m: self.commands.append(m.data[0]),
            qos.COMMANDS,
        )
        node.create_subscription(DiagnosticArray, "/diagnostics", self._on_status, 10)

    def _on_status(self, message) -> None:
        for status in agent_statuses(message):
            self.statuses[status.name] = status

    def start(self, **parameters) -> AgentHost:
        overrides = [Parameter(name, value=value) for name, value in parameters.items()]
        host = AgentHost(parameter_overrides=overrides)
        for node in host.nodes:
            self.harness.add(node)
        assert self.harness.until(lambda: self.states.get_subscription_count() > 0)
        return host

    def publish_state(self, position: float = 0.1) -> None:
        names = [agent.joint.name for agent in ROBOT.agents]
        self.states.publish(JointState(name=names, position=[position] * len(names)))


@pytest.fixture()
def rig(harness) -> Iterator[Rig]:
    rig = Rig(harness)
    yield rig
    harness.tester.destroy_publisher(rig.goal)  # its latched history ends with it


def test_on_rejoin_standing_goal_takes_the_latched_goal(harness, rig):
    rig.goal.publish(String(data=STANDING))  # before the agents exist: their history
    host = rig.start(on_rejoin="standing_goal")
    wrist = host.group.core("wrist_2")
    assert harness.until(lambda: wrist.goal == STANDING)
    assert harness.until(lambda: (rig.publish_state(), wrist.state is AgentState.MOVING)[1])


def test_on_rejoin_hold_ignores_the_latched_goal_and_holds(harness, rig):
    rig.goal.publish(String(data=STANDING))
    host = rig.start(on_rejoin="hold")
    (node,) = [n for n in host.agent_nodes if n.agent.name == "wrist_2"]
    assert harness.until(lambda: node.inbox.ignored == STANDING)  # heard, not taken
    wrist = host.group.core("wrist_2")
    assert harness.until(lambda: (rig.publish_state(0.1), wrist.has_state)[1])
    assert (wrist.goal_count, wrist.state) == (0, AgentState.IDLE)
    assert harness.until(lambda: (rig.publish_state(0.1), len(rig.commands) > 3)[1])
    assert rig.commands[-1] == pytest.approx(0.1)  # holds where the joint is
    rig.goal.publish(String(data="move to 5 degrees"))  # a new goal still arrives, once
    assert harness.until(lambda: (rig.publish_state(0.1), wrist.goal_count == 1)[1])
    assert wrist.goal == "move to 5 degrees" and wrist.state is AgentState.MOVING


def test_a_stalled_state_stream_makes_every_agent_hold_and_report_warn(harness, rig):
    rig.start()
    assert harness.until(
        lambda: (
            (rig.publish_state(), len(rig.statuses) == len(ROBOT.agents))[1]
            and all(s.state is not AgentState.WAITING for s in rig.statuses.values())
        )
    )
    sent = len(rig.commands)
    assert harness.until(  # no state from now on
        lambda: all(
            s.level is Level.WARN and s.message.startswith("stalled: no joint state for")
            for s in rig.statuses.values()
        ),
        timeout_s=ROBOT.control.state_timeout_s,  # before the loss: the stall is its own
    )
    assert len(rig.commands) <= sent + 1  # at most the one in flight


def test_an_agent_is_ready_once_it_has_a_state_and_its_command_topic_a_subscriber(harness, rig):
    host = rig.start()
    assert harness.until(
        lambda: (
            (rig.publish_state(), {"wrist_2", "elbow"} <= rig.statuses.keys())[1]
            and all(s.state is not AgentState.WAITING for s in rig.statuses.values())
        )
    )
    # The rig subscribes to wrist_2's commands only: the elbow has no controller to command.
    assert harness.until(lambda: rig.statuses["wrist_2"].ready)
    assert rig.statuses["wrist_2"].readiness == "ready"
    elbow = rig.statuses["elbow"]
    assert not elbow.ready
    assert elbow.readiness == "no subscriber on /elbow_position_controller/commands"
    assert not host.loop.ready
