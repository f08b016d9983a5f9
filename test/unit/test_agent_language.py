import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llm_mas_ros.core.errors import SubgoalError
from llm_mas_ros.core.language.agent_language import (
    Skill,
    normalize,
    parse_subgoal,
    render_subgoal,
)
from llm_mas_ros.core.language.quantities import number_words_values, stated_numbers
from llm_mas_ros.core.planning.pipeline import PlanningPipeline


@pytest.mark.parametrize(
    "text, skill, value, duration, style",
    [
        ("move to 45 degrees", Skill.MOVE_TO, math.radians(45), None, None),
        ("bend to 45°", Skill.MOVE_TO, math.radians(45), None, None),
        ("to -0.5 rad in 2 s, gently", Skill.MOVE_TO, -0.5, 2.0, "gently"),
        ("45 deg", Skill.MOVE_TO, math.radians(45), None, None),
        ("30", Skill.MOVE_TO, math.radians(30), None, None),  # bare number: degrees
        ("move by -10 degrees quickly", Skill.MOVE_BY, math.radians(-10), None, "quickly"),
        ("rotate by +5 deg over 1.5 seconds", Skill.MOVE_BY, math.radians(5), 1.5, None),
        ("hold", Skill.HOLD, None, None, None),
        ("stop", Skill.HOLD, None, None, None),
        ("go to ready slowly", Skill.POSE, None, None, "slowly"),
        ("home", Skill.POSE, None, None, None),
        ("wave 3 times", Skill.WAVE, None, None, None),
        ("move to -.3 rad", Skill.MOVE_TO, -0.3, None, None),  # not 3 rad: the dot is a point
        ("to .3 rad", Skill.MOVE_TO, 0.3, None, None),
        ("to +.5 rad in .5 s", Skill.MOVE_TO, 0.5, 0.5, None),
        ("by -.25 rad", Skill.MOVE_BY, -0.25, None, None),
        ("to 5.", Skill.MOVE_TO, math.radians(5), None, None),  # a full stop after the number
        ("to 0.50 rad.", Skill.MOVE_TO, 0.5, None, None),
        ("okay, move to 10 deg please", Skill.MOVE_TO, math.radians(10), None, None),
    ],
)
def test_elbow_goals_parse(arm, text, skill, value, duration, style):
    goal = parse_subgoal(text, arm.agent("elbow"), arm.poses)
    assert goal.skill is skill
    assert goal.value == pytest.approx(value) if value is not None else goal.value is None
    assert (goal.duration_s, goal.style) == (duration, style)


@pytest.mark.parametrize(
    "text, skill, value",
    [
        ("open", Skill.OPEN, None),
        ("close slowly", Skill.CLOSE, None),
        ("open to 20 mm", Skill.MOVE_TO, 0.020),
        ("to 2 cm", Skill.MOVE_TO, 0.020),
        ("to 0.01 m", Skill.MOVE_TO, 0.010),
        ("to 15", Skill.MOVE_TO, 0.015),  # bare number on a prismatic joint: millimetres
        ("50%", Skill.MOVE_TO, 0.020),  # half of the 0..40 mm range
    ],
)
def test_gripper_goals_parse(arm, text, skill, value):
    goal = parse_subgoal(text, arm.agent("gripper"), arm.poses)
    assert goal.skill is skill
    assert goal.value == pytest.approx(value) if value is not None else goal.value is None


@pytest.mark.parametrize(
    "agent, text, message",
    [
        ("elbow", "", "empty goal"),
        ("elbow", "   ", "empty goal"),
        ("elbow", "x" * 1_000_000, "characters long"),
        ("elbow", "move to nan degrees", "does not understand 'nan'"),
        ("elbow", "move to inf deg", "does not understand 'inf'"),
        ("elbow", "dance", "does not understand 'dance'"),
        ("elbow", "open", "not a gripper"),
        ("elbow", "move to 20 mm", "moves by angle"),
        ("gripper", "move to 20 degrees", "moves by length"),
        ("elbow", "move to 10 deg and 20 deg", "more than one target"),
        ("elbow", "move to", "needs a number"),
        ("elbow", "slowly and quickly to 10 deg", "conflicting style"),
        ("elbow", "to 10 deg in 500 s", "duration must be"),
        ("elbow", "hold 10 deg", "takes no number"),
        ("elbow", "go to ready then stow", "several poses"),
        ("elbow", "to 10 deg\x00", "control characters"),
        ("elbow", "wave 50 times", "1 to 10 times"),
    ],
)
def test_bad_goals_are_refused_with_a_reason(arm, agent, text, message):
    with pytest.raises(SubgoalError, match=message):
        parse_subgoal(text, arm.agent(agent), arm.poses)


def test_non_text_goal_is_refused(arm):
    with pytest.raises(SubgoalError, match="must be text"):
        parse_subgoal(None, arm.agent("elbow"), arm.poses)


@given(
    degrees=st.floats(-170, 170, allow_nan=False),
    duration=st.one_of(st.none(), st.floats(0.1, 60)),
    style=st.sampled_from([None, "slowly", "gently", "quickly"]),
)
def test_rendered_goals_parse_back_to_the_same_goal(arm, degrees, duration, style):
    agent = arm.agent("elbow")
    goal = parse_subgoal(f"move to {degrees:.4f} deg", agent)
    goal = type(goal)(
        goal.skill, goal.value, duration_s=duration and round(duration, 2), style=style
    )
    again = parse_subgoal(render_subgoal(goal, agent), agent, arm.poses)
    assert again.skill is goal.skill and again.style == style
    assert again.value == pytest.approx(goal.value, abs=1e-4)
    assert again.duration_s == goal.duration_s


@pytest.mark.parametrize(
    "text, expected",
    [
        ("to .5 rad", "to .5 rad"),
        ("to -.5 rad", "to -.5 rad"),
        ("to +0.50 rad", "to +0.50 rad"),
        ("to 5.", "to 5"),
        ("elbow to 30 deg. then open the gripper.", "elbow to 30 deg then open the gripper"),
    ],
)
def test_normalize_drops_full_stops_and_keeps_decimal_points(text, expected):
    assert normalize(text) == expected


# Degrees per unit word as a person means it; a bare number on a revolute joint is degrees.
RAD_PER_UNIT = {
    "deg": math.pi / 180.0,
    "degrees": math.pi / 180.0,
    "rad": 1.0,
    "": math.pi / 180.0,
}
MAX_WHOLE = {"deg": 150, "degrees": 150, "rad": 1, "": 150}  # < 151 deg, 2 rad: inside +-2.8 rad


@st.composite
def written_angles(draw):
    """A number as people write it, '.5', '-.5', '+0.50', '5.', '12', '-3.25', with a unit."""
    unit = draw(st.sampled_from(sorted(RAD_PER_UNIT)))
    sign = draw(st.sampled_from(["", "-", "+"]))
    whole = draw(st.one_of(st.just(""), st.integers(0, MAX_WHOLE[unit]).map(str)))
    fraction = draw(st.text("0123456789", min_size=0 if whole else 1, max_size=4))
    # '5.' only ends a sentence: '5. deg' is two sentences, as in the rule planner
    point = "." if fraction or not whole else draw(st.sampled_from(["", "." if not unit else ""]))
    return f"{sign}{whole}{point}{fraction}", unit


@given(
    angle=written_angles(),
    end=st.sampled_from(["", ".", "!", "...", " please."]),
    then=st.sampled_from(["", " then open the gripper."]),
)
def test_written_numbers_parse_to_their_value_in_every_form(arm, angle, end, then):
    number, unit = angle
    expected = float(number) * RAD_PER_UNIT[unit]
    phrase = f"to {number} {unit}".rstrip()
    goal = parse_subgoal(f"move {phrase}{end}", arm.agent("elbow"))
    assert goal.value == pytest.approx(expected, abs=1e-9)
    plan = PlanningPipeline(arm).plan(f"elbow {phrase}{end}{then}", {})  # what `plan` dispatches
    assert plan.steps[0][0].target == pytest.approx(expected, abs=1e-9)
    assert len(plan.steps) == (2 if then else 1)


def test_numbers_stated_in_words_and_digits():
    assert number_words_values("swing to ninety degrees, then forty-five") == [90, 45]
    assert number_words_values("one hundred and twenty") == [120]
    assert number_words_values("half a radian") == [0.5]
    assert number_words_values("one and a half turns") == [1.5]
    assert stated_numbers("elbow to -30.5 deg in 2 s and twenty mm") == {30.5, 2.0, 20.0}
