"""The whole system as processes: instructions move the simulated arm, and only as asked."""

import math

import pytest
from rclpy.duration import Duration
from std_msgs.msg import Bool, String

from llm_mas_ros.core.robot.model import load_robot
from llm_mas_ros.ros import qos, topics
from llm_mas_ros.ros.graph import spin_until
from llm_mas_ros.ros.soak import SOAK_INSTRUCTIONS, soak

ROBOT = load_robot()
TOLERANCE = 0.02  # rad, the acceptance tolerance


def unchanged(before, after, except_joints=()):
    return {
        j: (before[j], after[j])
        for j in before
        if j not in except_joints and abs(after[j] - before[j]) > TOLERANCE
    }


def test_elbow_to_45_degrees_moves_only_the_elbow(graph):
    before = graph.positions()
    outcome = graph.run("elbow to 45 degrees")
    assert outcome.ok, outcome.reason
    assert outcome.final_positions["elbow_joint"] == pytest.approx(math.radians(45), abs=TOLERANCE)
    assert unchanged(before, graph.positions(), ["elbow_joint"]) == {}
    timings = outcome.timings_ms
    assert 0 < timings["first_step"] <= timings["first_command"] <= timings["done"]


def test_go_to_ready_then_open_the_gripper(graph):
    outcome = graph.run("go to ready, then open the gripper")
    assert outcome.ok, outcome.reason
    result = outcome.to_json()
    assert len(result["steps"]) == 2 and result["steps"][1][0]["agent"] == "gripper"
    for joint, value in ROBOT.pose("ready").items():
        assert outcome.final_positions[joint] == pytest.approx(value, abs=TOLERANCE), joint
    assert outcome.final_positions["gripper_finger_joint"] == pytest.approx(0.04, abs=0.002)


def test_out_of_limit_instruction_is_rejected_and_nothing_moves(graph):
    before = graph.positions()
    outcome = graph.run("elbow to 400 degrees")
    assert not outcome.ok and outcome.state == "rejected"
    (rejection,) = outcome.to_json()["rejected"]
    assert rejection["agent"] == "elbow" and "[-160.4, 160.4] deg" in rejection["reason"]
    assert unchanged(before, graph.positions()) == {}


@pytest.mark.parametrize(
    "garbage", ["", "x" * 1_000_000, "elbow to nan degrees", "kindly levitate the tentacle"]
)
def test_garbage_instructions_fail_with_a_reason_and_the_system_stays_up(graph, garbage):
    before = graph.positions()
    outcome = graph.run(garbage)
    assert outcome.state == "failed" and outcome.reason
    assert unchanged(before, graph.positions()) == {}
    assert graph.alive() is None


def test_estop_freezes_motion(graph):
    client = graph.client
    estop = client.node.create_publisher(Bool, topics.ESTOP, qos.ESTOP)
    start = graph.positions()["shoulder_pan_joint"]
    client.instructions.publish(String(data="shoulder_pan to 90 degrees slowly"))
    assert spin_until(
        client.executor,
        lambda: client.seen.positions.get("shoulder_pan_joint", start) > start + 0.1,
        timeout_s=10.0,
    )
    estop.publish(Bool(data=True))
    reason = graph.wait_planner("failed", timeout_s=5.0).reason
    assert "emergency stop" in reason or "estop" in reason
    frozen = graph.positions()["shoulder_pan_joint"]
    later = graph.joint_samples("shoulder_pan_joint", 250)  # a second of sim steps
    assert max(abs(position - frozen) for position in later) < 2e-3
    assert frozen < math.radians(90) - 0.2
    estop.publish(Bool(data=False))
    # Destroyed before the agents acknowledged it, the release may never reach them.
    assert estop.wait_for_all_acked(Duration(seconds=5))
    client.node.destroy_publisher(estop)
    assert graph.run("shoulder_pan to 0 degrees").ok  # released: works again


def test_stop_fast_path_holds_a_running_plan(graph):
    client = graph.client
    client.instructions.publish(String(data="wrist_1 to 120 degrees slowly"))
    graph.wait_planner("running", timeout_s=10.0)
    outcome = graph.run("halt")
    # No model, no planning: the stop fast path. How fast it is: benchmarks/stop_bench.py.
    assert outcome.state == "stopped" and outcome.to_json()["planner"] == "fast-path:stop"
    held = outcome.final_positions["wrist_1_joint"]
    later = graph.joint_samples("wrist_1_joint", 125)  # half a second of sim steps
    assert later == pytest.approx([held] * len(later), abs=0.01)
    assert held < math.radians(120) - 0.2


@pytest.mark.smollm2
def test_free_form_instruction_planned_by_the_embedded_model(graph):
    outcome = graph.run("could you open your hand and then swing the base round to ninety degrees")
    assert outcome.ok, outcome.reason
    result = outcome.to_json()
    assert result["planner"] == "smollm2" and len(result["steps"]) == 2
    assert outcome.final_positions["gripper_finger_joint"] == pytest.approx(0.04, abs=0.002)
    assert outcome.final_positions["shoulder_pan_joint"] == pytest.approx(
        math.pi / 2, abs=TOLERANCE
    )
    # Streaming: the first step left the planner before the plan was complete.
    assert result["latency_ms"]["first_step"] < result["latency_ms"]["total"]
    assert outcome.timings_ms["first_command"] < outcome.timings_ms["done"]
    graph.run("shoulder_pan to 0 degrees")


SOAK_CYCLES = 3  # 21 instructions after the warm-up: every outcome path, a few times


def test_consecutive_instructions_are_all_accounted_for_and_nothing_grows(graph):
    pids = [running.process.pid for running in graph.group.running]
    count = SOAK_CYCLES * len(SOAK_INSTRUCTIONS)
    report = soak(graph.client, pids, count, alive=graph.alive)
    assert graph.alive() is None  # no node crashed
    assert report.count == count and report.unaccounted == []
    assert sum(report.outcomes.values()) == count
    assert {"done", "rejected", "failed", "stopped"} <= set(report.outcomes)
    assert report.rss_growth() < 0.10, (report.before, report.after)
    assert report.growth("fds") <= 0, (report.before, report.after)
    assert report.growth("threads") <= 0, (report.before, report.after)
