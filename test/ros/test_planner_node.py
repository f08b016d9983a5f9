"""Planner + agents + simulator nodes in one process: instruction in, motion and status out."""

import pytest
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.parameter import Parameter
from sensor_msgs.msg import JointState
from std_msgs.msg import String

from llm_mas_ros.core.robot import load_robot
from llm_mas_ros.nodes.agents_node import AgentHost
from llm_mas_ros.nodes.planner_node import PlannerNode
from llm_mas_ros.nodes.sim_node import MujocoSimNode
from llm_mas_ros.ros import qos
from llm_mas_ros.ros.messages import values_of

ROBOT = load_robot()


class Operator:
    def __init__(self, harness):
        self.node = harness.tester
        self.planner: dict = {}
        self.messages: list[str] = []
        self.plans: list[str] = []
        self.positions: dict[str, float] = {}
        self.goals: dict[str, list[str]] = {a.name: [] for a in ROBOT.agents}
        self.instructions = self.node.create_publisher(String, "instruction", qos.INSTRUCTIONS)
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self._on_status, 10)
        self.node.create_subscription(
            String, "plan", lambda m: self.plans.append(m.data), qos.PLAN
        )
        self.node.create_subscription(
            JointState,
            "joint_states",
            lambda m: self.positions.update(zip(m.name, m.position, strict=True)),
            qos.JOINT_STATES,
        )
        for agent in ROBOT.agents:
            self.node.create_subscription(
                String,
                agent.goal_topic,
                lambda m, a=agent.name: self.goals[a].append(m.data),
                qos.GOALS,
            )

    def _on_status(self, message):
        for status in message.status:
            if status.name == "planner":
                self.planner = {**values_of(status), "_level": status.level[0]}
                self.messages.append(status.message)

    def say(self, harness, text):
        count = int(self.planner.get("instruction_count", "0"))
        self.instructions.publish(String(data=text))
        assert harness.until(
            lambda: (
                int(self.planner.get("instruction_count", "0")) > count
                and self.planner.get("state") in ("done", "failed", "stopped")
            ),
            timeout_s=20.0,
        ), self.messages[-3:]
        return self.planner


def bring_up(harness, backend):
    operator = Operator(harness)
    harness.add(MujocoSimNode())
    for node in AgentHost().nodes:
        harness.add(node)
    harness.add(PlannerNode(parameter_overrides=[Parameter("backend", value=backend)]))
    assert harness.until(
        lambda: (
            operator.planner.get("ready") == "true"
            and operator.instructions.get_subscription_count() > 0
        )
    )
    return operator


@pytest.fixture()
def system(harness):
    """The ROS wiring, with the model-free planner backend (fast to start)."""
    return bring_up(harness, "rules")


def test_an_instruction_is_planned_dispatched_and_finished(harness, system):
    status = system.say(harness, "elbow to 30 degrees, then open the gripper")
    assert status["state"] == "done" and status["_level"] == 0
    assert status["step.1.elbow.goal"] == "move to 30 deg"
    assert status["step.2.gripper.goal"] == "open"
    assert system.goals["elbow"] == ["move to 30 deg"] and system.goals["gripper"] == ["open"]
    assert harness.until(lambda: abs(system.positions["elbow_joint"] - 0.5236) < 0.01)
    assert system.positions["gripper_finger_joint"] == pytest.approx(0.04, abs=0.002)
    assert "step 2: gripper: open" in system.plans[-1]


@pytest.mark.parametrize(
    "garbage, reason",
    [
        ("", "empty instruction"),
        ("x" * 1_000_000, "characters long"),
        ("elbow to nan degrees", "'nan' is not a number"),
        ("tentacle to 10 degrees", "cannot tell which agent"),
    ],
)
def test_garbage_instructions_fail_with_a_reason_and_move_nothing(
    harness, system, garbage, reason
):
    status = system.say(harness, garbage)
    assert status["state"] == "failed" and status["_level"] == 2 and reason in status["reason"]
    assert len(status["instruction"]) < 300
    assert all(not goals for goals in system.goals.values())
    assert system.say(harness, "wrist_3 to 5 deg")["state"] == "done"  # still working


def test_an_out_of_limit_goal_is_rejected_and_nothing_moves(harness, system):
    before = dict(system.positions)
    status = system.say(harness, "elbow to 400 degrees")
    assert status["state"] == "failed" and "limits [-160.4, 160.4] deg" in status["reason"]
    assert status["rejected.1.agent"] == "elbow"
    assert all(not goals for goals in system.goals.values())
    assert all(abs(system.positions[j] - before[j]) < 1e-3 for j in before)


def test_stop_holds_every_agent_without_planning(harness, system):
    system.instructions.publish(String(data="shoulder_pan to 90 degrees slowly"))
    assert harness.until(lambda: system.positions.get("shoulder_pan_joint", 0) > 0.05)
    status = system.say(harness, "stop")
    assert status["state"] == "stopped" and "stop requested" in status["reason"]
    assert all(goals[-1] == "hold" for goals in system.goals.values())
    stopped_at = system.positions["shoulder_pan_joint"]
    assert stopped_at < 1.2  # far from the 1.57 rad it was heading to


@pytest.mark.smollm2
def test_the_embedded_model_plans_free_form_instructions_in_the_node(harness):
    operator = bring_up(harness, "smollm2")
    status = operator.say(harness, "could you swing the base round to ninety degrees")
    assert status["state"] == "done" and status["planner"] == "smollm2"
    assert status["step.1.shoulder_pan.target"] == "1.570796"
    assert harness.until(lambda: abs(operator.positions["shoulder_pan_joint"] - 1.5708) < 0.02)
