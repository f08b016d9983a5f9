"""Diagnostic key/values: what nodes publish is what the planner and the CLI read back."""

from llm_mas_ros.core.control.agent import AgentGroup, AgentState
from llm_mas_ros.core.planning.pipeline import PlanningPipeline
from llm_mas_ros.core.planning.status import (
    CLIP_CHARS,
    agent_report,
    agent_values,
    clip_text,
    plan_json,
    plan_values,
)

HOME = dict.fromkeys(
    ("shoulder_pan", "shoulder_lift", "elbow", "wrist_1", "wrist_2", "wrist_3", "gripper"), 0.0
)


def test_plan_json_survives_the_trip_through_diagnostic_values(arm):
    plan = PlanningPipeline(arm).plan(
        "go to ready then gripper open then elbow to 45 deg in 0.01 s then elbow to 400 deg", HOME
    )
    assert plan.rejected and plan.notes and len(plan.steps) == 3
    expected = plan.to_json()
    rebuilt = plan_json(plan.instruction, dict(plan_values(plan)))
    assert rebuilt["steps"] == expected["steps"]
    assert rebuilt["rejected"] == expected["rejected"] and rebuilt["notes"] == expected["notes"]
    assert rebuilt["planner"] == "fast-path:rules"
    assert set(rebuilt) >= {"instruction", "planner", "steps", "rejected", "latency_ms"}


def test_agent_status_round_trip(arm):
    group = AgentGroup(arm.agents, arm)
    core = group.core("elbow")
    core.observe(0.1, 0.0, 1.0)
    core.receive_goal("move to 10 deg", 1.0)
    group.step(1.01)
    values = dict(agent_values(core.status(1.01)))
    report = agent_report("elbow", values, received_at=2.0)
    assert report.state is AgentState.MOVING and report.goal == "move to 10 deg"
    assert report.goal_count == 1 and report.position == 0.1 and report.received_at == 2.0
    assert float(values["first_command_at"]) == 1.01


def test_values_that_are_not_an_agents_are_ignored():
    assert agent_report("elbow", {"state": "dancing", "goal_count": "1"}, 0.0) is None
    assert agent_report("elbow", {"state": "idle"}, 0.0) is None


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
    values = dict(agent_values(core.status(1.0)))
    assert values["goal"] == clip_text("x" * 1_000_000) and len(values["goal"]) < 250
    assert len(values["error"]) < 250  # the refusal names the length, not the text
