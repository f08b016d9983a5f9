"""The one status codec: what nodes publish on /diagnostics is what the planner and CLI read."""

import dataclasses
import re
from pathlib import Path

import pytest

from llm_mas_ros.core.control.agent import AgentGroup, AgentState, Level
from llm_mas_ros.core.planning.execution import ExecutionState
from llm_mas_ros.core.planning.pipeline import PlanningPipeline
from llm_mas_ros.core.planning.status import (
    CLIP_CHARS,
    Key,
    PlannerStatus,
    clip_text,
    decode_agent,
    decode_plan,
    decode_planner,
    encode_agent,
    encode_plan,
    encode_planner,
)

HOME = dict.fromkeys(
    ("shoulder_pan", "shoulder_lift", "elbow", "wrist_1", "wrist_2", "wrist_3", "gripper"), 0.0
)
PACKAGE = Path(__file__).resolve().parents[2] / "llm_mas_ros"


def a_plan(arm):
    plan = PlanningPipeline(arm).plan(
        "go to ready then gripper open then elbow to 45 deg in 0.01 s then elbow to 400 deg", HOME
    )
    assert plan.rejected and plan.notes and len(plan.steps) == 3
    return plan


def test_a_plan_survives_the_trip_through_diagnostic_values(arm):
    plan = a_plan(arm)
    rebuilt = decode_plan(plan.instruction, dict(encode_plan(plan)))
    assert rebuilt.to_json() == plan.to_json()
    assert rebuilt.planner == "fast-path:rules"


def test_a_planner_status_round_trip(arm):
    plan = a_plan(arm)
    status = PlannerStatus(
        level=Level.ERROR,
        message="failed: rejected",
        ready=True,
        readiness="ready",
        backend="rules",
        instruction_count=3,
        state=ExecutionState.FAILED,
        instruction=plan.instruction,
        reason="rejected: elbow: too far",
        step=3,
        received_at=10.5,
        first_step_at=10.501,
        finished_at=14.0,
        plan=plan,
    )
    rebuilt = decode_planner(2, status.message, dict(encode_planner(status)))
    assert rebuilt is not None and rebuilt.plan is not None
    assert rebuilt.plan.to_json() == plan.to_json()
    assert dataclasses.replace(rebuilt, plan=plan) == status
    assert rebuilt.finished and not rebuilt.ok  # failed, and something was rejected


def test_a_planner_before_any_instruction():
    status = PlannerStatus(Level.WARN, "waiting", False, "waiting for agents: elbow", "rules", 0)
    assert decode_planner(1, "waiting", dict(encode_planner(status))) == status


def test_agent_status_round_trip(arm):
    group = AgentGroup(arm.agents, arm)
    core = group.core("elbow")
    core.observe(0.1, 0.0, 1.0)
    core.receive_goal("move to 10 deg", 1.0)
    group.step(1.01)
    status = core.status(1.01)
    rebuilt = decode_agent("elbow", int(status.level), status.message, dict(encode_agent(status)))
    assert rebuilt is not None and rebuilt.state is AgentState.MOVING
    assert rebuilt.goal_count == 1 and rebuilt.goal_digest == status.goal_digest
    assert rebuilt.position == 0.1 and rebuilt.first_command_at == 1.01
    assert rebuilt.target == pytest.approx(status.target, abs=1e-6)
    assert (rebuilt.states_dropped, rebuilt.drop_reason) == (0, "")


def test_dropped_joint_states_travel_with_the_agent_status(arm):
    core = AgentGroup(arm.agents, arm).core("elbow")
    core.observe(0.1, 0.0, 1.0)
    why = "joint state dropped: elbow_joint has position nan"
    status = dataclasses.replace(core.status(1.0), states_dropped=3, drop_reason=why)
    values = dict(encode_agent(status))
    rebuilt = decode_agent("elbow", int(status.level), status.message, values)
    assert rebuilt is not None and (rebuilt.states_dropped, rebuilt.drop_reason) == (3, why)
    values[Key.STATES_DROPPED] = "lots"  # a hostile publisher's value does not crash a reader
    assert decode_agent("elbow", int(status.level), "", values).states_dropped == 0


@pytest.mark.parametrize(
    "level, values",
    [
        (0, {Key.STATE: "dancing", Key.GOAL_COUNT: "1"}),
        (0, {"state": "idle"}),
        (9, {Key.STATE: "idle", Key.GOAL_COUNT: "1"}),
    ],
)
def test_values_that_are_not_an_agents_are_ignored(level, values):
    assert decode_agent("elbow", level, "", values) is None


def test_values_that_are_not_a_planners_are_ignored():
    assert decode_planner(0, "", {Key.STATE: "idle", Key.GOAL_COUNT: "1"}) is None
    assert decode_planner(0, "", {Key.INSTRUCTION_COUNT: "1", Key.STATE: "dancing"}) is None


def test_long_text_is_clipped_to_its_start_and_length():
    assert clip_text("elbow to 10 deg") == "elbow to 10 deg"
    assert clip_text("x" * CLIP_CHARS) == "x" * CLIP_CHARS
    clipped = clip_text("y" * 1_000_000)
    assert clipped == "y" * CLIP_CHARS + "... (1000000 characters)"


def test_an_agent_status_carries_a_huge_goal_clipped(arm):
    group = AgentGroup(arm.agents, arm)
    core = group.core("elbow")
    core.observe(0.1, 0.0, 1.0)
    core.receive_goal("x" * 1_000_000, 1.0)
    values = dict(encode_agent(core.status(1.0)))
    assert values[Key.GOAL] == clip_text("x" * 1_000_000) and len(values[Key.GOAL]) < 250
    assert len(values[Key.ERROR]) < 250  # the refusal names the length, not the text


# Keys that only a diagnostic status has (others, like 'goal' or 'steps', are JSON fields too).
STATUS_ONLY_KEYS = (
    Key.READINESS,
    Key.INSTRUCTION_COUNT,
    Key.GOAL_COUNT,
    Key.GOAL_DIGEST,
    Key.GOAL_RECEIVED_AT,
    Key.FIRST_COMMAND_AT,
    Key.RECEIVED_AT,
    Key.FIRST_STEP_AT,
    Key.FINISHED_AT,
    Key.PROGRESS,
    Key.STATE_AGE_P50_MS,
    Key.STATE_AGE_P99_MS,
    Key.STEP_TIME_P50_MS,
    Key.STEP_TIME_P99_MS,
    Key.STATE_TO_COMMAND_P50_MS,
    Key.STATE_TO_COMMAND_P99_MS,
    Key.COMMAND_PUBLISH_P50_MS,
    Key.COMMAND_PUBLISH_P99_MS,
)


def test_no_diagnostic_key_is_spelt_outside_the_codec():
    """Writer and reader share the codec's keys: a key literal elsewhere would drift."""
    keys = "|".join(re.escape(str(k)) for k in STATUS_ONLY_KEYS)
    pattern = re.compile(rf"""["']({keys})["']""")
    codec = PACKAGE / "core" / "planning" / "status.py"
    sources = [*PACKAGE.rglob("*.py"), *(PACKAGE.parent / "test").rglob("*.py")]
    offenders = [
        f"{path.relative_to(PACKAGE.parent)}:{number}"
        for path in sources
        if path != codec
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert offenders == []


def test_an_agent_status_carries_its_process_latencies_and_real_time_outcomes(arm):
    from llm_mas_ros.core.control.latency import HopLatency, LatencyReport

    group = AgentGroup(arm.agents, arm)
    report = LatencyReport(
        state_age=HopLatency(0.21, 0.9), state_to_command=HopLatency(0.3125, 1.5)
    )
    realtime = ("timer_slack_ns 1: applied", "thread_priority 80: not applied: not permitted")
    status = group.core("elbow").status(0.0, report, realtime)
    values = dict(encode_agent(status))
    assert values[Key.STATE_TO_COMMAND_P99_MS] == "1.5"
    assert Key.STEP_TIME_P50_MS not in values  # a hop without samples is left out
    back = decode_agent(status.name, status.level, status.message, values)
    assert back.latency == report and back.realtime == realtime
    plain = group.core("elbow").status(0.0)
    back = decode_agent(plain.name, plain.level, plain.message, dict(encode_agent(plain)))
    assert back.latency is None and back.realtime == ()
