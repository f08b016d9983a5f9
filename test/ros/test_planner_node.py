"""Planner + agents + simulator nodes in one process: instruction in, motion and status out."""

import math
import threading

import pytest
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.parameter import Parameter
from sensor_msgs.msg import JointState
from std_msgs.msg import String

from llm_mas_ros.core.control.agent import Level
from llm_mas_ros.core.planning.plan import Proposal
from llm_mas_ros.core.robot.model import load_robot
from llm_mas_ros.nodes.agents_node import AgentHost
from llm_mas_ros.nodes.planner_node import PlannerNode
from llm_mas_ros.nodes.sim_node import MujocoSimNode
from llm_mas_ros.ros import qos
from llm_mas_ros.ros.messages import agent_statuses, planner_status

ROBOT = load_robot()


class Operator:
    def __init__(self, harness):
        self.node = harness.tester
        self.planner = None  # the latest PlannerStatus
        self.by_id = {}  # instruction id -> its latest PlannerStatus
        self.agents: dict[str, dict] = {}
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
        planner = planner_status(message)
        if planner is not None:
            self.planner = planner
            self.by_id[planner.instruction_id] = planner
            self.messages.append(planner.message)
        for status in agent_statuses(message):
            self.agents[status.name] = status

    def agent_state(self, agent):
        return self.agents[agent].state if agent in self.agents else None

    def say(self, harness, text):
        count = self.count()
        self.instructions.publish(String(data=text))
        return self.finished(harness, count)

    def count(self):
        return self.planner.instruction_count if self.planner else 0

    def finished(self, harness, count):
        """The outcome of the instruction after the `count`th (the planner numbers them)."""
        mine = count + 1
        assert harness.until(
            lambda: mine in self.by_id and self.by_id[mine].finished, timeout_s=20.0
        ), self.messages[-3:]
        return self.by_id[mine]


def bring_up(harness, backend):
    operator = Operator(harness)
    harness.add(MujocoSimNode())
    for node in AgentHost().nodes:
        harness.add(node)
    harness.add(PlannerNode(parameter_overrides=[Parameter("backend", value=backend)]))
    assert harness.until(
        lambda: (
            operator.planner is not None
            and operator.planner.ready
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
    assert status.state == "done" and status.level == Level.OK
    assert [[(g.agent, g.goal) for g in step] for step in status.plan.steps] == [
        [("elbow", "move to 30 deg")],
        [("gripper", "open")],
    ]
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
        ("tentacle to 10 degrees", "names no agent or pose"),
    ],
)
def test_garbage_instructions_fail_with_a_reason_and_move_nothing(
    harness, system, garbage, reason
):
    status = system.say(harness, garbage)
    assert status.state == "failed" and status.level == Level.ERROR and reason in status.reason
    assert len(status.instruction) < 300
    assert all(not goals for goals in system.goals.values())
    assert system.say(harness, "wrist_3 to 5 deg").state == "done"  # still working


def test_an_out_of_limit_goal_is_rejected_and_nothing_moves(harness, system):
    before = dict(system.positions)
    status = system.say(harness, "elbow to 400 degrees")
    assert status.state == "rejected" and "limits [-160.4, 160.4] deg" in status.reason
    assert status.plan.rejected[0].agent == "elbow"
    assert all(not goals for goals in system.goals.values())
    assert all(abs(system.positions[j] - before[j]) < 1e-3 for j in before)


def test_stop_holds_every_agent_without_planning(harness, system):
    system.instructions.publish(String(data="shoulder_pan to 90 degrees slowly"))
    assert harness.until(lambda: system.positions.get("shoulder_pan_joint", 0) > 0.05)
    status = system.say(harness, "stop")
    assert status.state == "stopped" and "stop requested" in status.reason
    assert status.plan.planner == "fast-path:stop" and status.plan.steps == ()
    assert all(goals[-1] == "hold" for goals in system.goals.values())
    assert system.goals["shoulder_pan"].count("hold") == 1  # the replaced step's hold: once
    stopped_at = system.positions["shoulder_pan_joint"]
    assert stopped_at < 1.2  # far from the 1.57 rad it was heading to
    assert harness.until(lambda: any("fast-path:stop" in plan for plan in system.plans))
    assert "\n" not in system.plans[-1]


def test_a_replaced_plan_holds_its_agents_and_the_new_plan_runs_undisturbed(harness, system):
    system.instructions.publish(
        String(data="shoulder_pan to 90 deg slowly, wrist_1 to 60 deg slowly")
    )
    assert harness.until(lambda: system.positions.get("shoulder_pan_joint", 0) > 0.05)
    status = system.say(harness, "shoulder_pan to 10 degrees")
    assert status.state == "done", status.reason
    assert system.goals["shoulder_pan"][-2:] == ["hold", "move to 10 deg"]
    assert system.goals["wrist_1"][-1] == "hold"  # not in the new plan: stopped where it was
    assert harness.until(lambda: abs(system.positions["shoulder_pan_joint"] - 0.1745) < 0.01)
    held_at = system.positions["wrist_1_joint"]
    assert held_at < math.radians(50)
    assert harness.until(lambda: system.agent_state("wrist_1") == "holding")
    assert system.positions["wrist_1_joint"] == pytest.approx(held_at, abs=0.01)


def test_a_failed_step_holds_its_other_agents(harness, system):
    count = system.count()
    system.instructions.publish(
        String(data="elbow to 60 degrees slowly, wrist_2 to 60 deg slowly")
    )
    assert harness.until(lambda: system.agent_state("wrist_2") == "moving")
    # Someone else takes over the elbow: the step fails and wrist_2 must not go on alone.
    system.node.create_publisher(String, ROBOT.agent("elbow").goal_topic, qos.GOALS).publish(
        String(data="move to 5 deg")
    )
    status = system.finished(harness, count)
    assert status.state == "failed" and "another goal" in status.reason
    assert system.goals["wrist_2"][-1] == "hold"
    assert system.goals["elbow"][-1] == "move to 5 deg"  # the person's goal stands
    assert harness.until(lambda: abs(system.positions["elbow_joint"] - 0.0873) < 0.01)
    assert system.positions["wrist_2_joint"] < math.radians(50)


class SlowPlanner:
    """A planner backend that streams step 1, then waits for the test before step 2."""

    name = "slow-fake"

    def __init__(self):
        self.release = threading.Event()

    def propose(self, instruction):
        yield (Proposal("elbow", "move to 20 deg"),)
        if not self.release.wait(timeout=30.0):
            raise RuntimeError("the test never released step 2")
        yield (Proposal("gripper", "open"),)


def test_step_1_runs_while_later_steps_are_still_being_planned(harness, system):
    planner = next(node for node in harness.nodes if isinstance(node, PlannerNode))
    backend = SlowPlanner()
    planner.pipeline.backend = backend  # the rules cannot plan the instruction: it is used
    planner.dispatcher.backend = backend.name
    try:
        system.instructions.publish(String(data="do the slow elbow demo"))
        assert harness.until(lambda: system.goals["elbow"] == ["move to 20 deg"])
        assert harness.until(lambda: system.agent_state("elbow") == "done")
        assert system.positions["elbow_joint"] == pytest.approx(math.radians(20), abs=0.01)
        assert harness.until(
            lambda: system.planner.state == "running" and system.planner.first_step_at is not None
        )
        assert system.goals["gripper"] == []  # step 2 is not planned yet
    finally:
        backend.release.set()
    assert harness.until(lambda: system.planner.state == "done")
    assert system.goals["gripper"] == ["open"] and system.planner.backend == "slow-fake"
    assert system.planner.first_step_at < system.planner.finished_at


@pytest.mark.smollm2
def test_the_embedded_model_plans_free_form_instructions_in_the_node(harness):
    operator = bring_up(harness, "smollm2")
    status = operator.say(harness, "could you swing the base round to ninety degrees")
    assert status.state == "done" and status.plan.planner == "smollm2"
    assert status.plan.steps[0][0].target == pytest.approx(1.570796, abs=1e-6)
    assert harness.until(lambda: abs(operator.positions["shoulder_pan_joint"] - 1.5708) < 0.02)
