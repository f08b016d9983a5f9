"""The planner does what people mean (issue 10's table), with no model: relative moves, vague
amounts, expressions, waits and returns, clause-bound numbers, durations, refusals, questions.

Directions are checked over a corpus generated from config/robot.yaml (every agent, alias and
direction phrase), not over the sentences of the issue alone."""

import itertools
import math

import pytest

from llm_mas_ros.core.errors import PlanError
from llm_mas_ros.core.language.agent_language import Skill
from llm_mas_ros.core.language.vocabulary import Vocabulary
from llm_mas_ros.core.planning.pipeline import ANSWER_PLANNER, PlanningPipeline
from llm_mas_ros.core.robot.model import AgentKind, load_robot

ROBOT = load_robot()
HOME = {agent: 0.0 for agent in ROBOT.agent_names}
SMALL = ROBOT.control.revolute_small_step


def plan(text, positions=HOME):
    return PlanningPipeline(ROBOT).plan(text, positions)


def targets(result):
    return [{goal.agent: goal.target for goal in step} for step in result.steps]


def test_a_relative_move_is_a_move_by_with_the_direction_sign():
    """Row 1: from 42 deg, 'to the left' went right when it was read as 'to 20 deg'."""
    start = {**HOME, "shoulder_pan": math.radians(42)}
    result = plan("turn the base 20 degrees to the left", start)
    assert targets(result) == [{"shoulder_pan": pytest.approx(math.radians(62))}]


def test_pi_over_two_is_pi_over_two():
    assert targets(plan("move the elbow to pi/2 radians")) == [
        {"elbow": pytest.approx(math.pi / 2, abs=1e-4)}
    ]


def test_a_quarter_turn_to_the_right_is_minus_ninety():
    assert targets(plan("turn the base right by a quarter turn")) == [
        {"shoulder_pan": pytest.approx(-math.pi / 2, abs=1e-4)}
    ]


def test_halfway_is_half_the_range():
    gripper = ROBOT.agent("gripper").joint
    assert targets(plan("open the gripper halfway")) == [
        {"gripper": pytest.approx((gripper.lower + gripper.upper) / 2)}
    ]


@pytest.mark.parametrize("text", ["pick up the cup", "make coffee", "dance for me"])
def test_a_task_without_a_skill_is_refused_naming_what_it_can_do(text):
    with pytest.raises(PlanError, match=r"asks for nothing.*it can move a joint"):
        plan(text)


def test_wait_is_a_step_and_back_is_where_the_joint_was():
    start = {**HOME, "elbow": 0.3}
    result = plan("elbow 45°, wait 2 seconds, then move it back", start)
    assert targets(result) == [
        {"elbow": pytest.approx(math.radians(45))},
        {"elbow": None},
        {"elbow": pytest.approx(0.3)},
    ]
    assert result.steps[1][0].duration_s == 2.0
    assert {goal.agent for step in result.steps for goal in step} == {"elbow"}


def test_each_clause_keeps_its_own_number():
    result = plan("Move elbow to forty-five degrees then wrist to -20 deg")
    assert targets(result) == [
        {"elbow": pytest.approx(math.radians(45))},
        {"wrist_1": pytest.approx(math.radians(-20))},
    ]


def test_a_vanishing_number_is_about_zero_and_a_huge_one_is_rejected_by_its_value():
    assert targets(plan("elbow to 1e-308 degrees")) == [{"elbow": 0.0}]
    rejected = plan("elbow to 1e308 degrees").rejected
    assert rejected and " 308 deg " not in rejected[0].reason
    # Written as it was said, not as 309 digits (found by the flood test).
    assert rejected[0].goal == "move to 1e+308 deg" and "1e+308 deg" in rejected[0].reason


def test_a_stated_duration_reaches_the_goal():
    ((goal,),) = plan("slowly bend the elbow to 90° over 5 seconds").steps
    assert goal.duration_s == 5.0 and "slowly" in goal.goal


@pytest.mark.parametrize(
    "text, agent, sign",
    [
        ("move the base a bit to the left", "shoulder_pan", 1),
        ("lift the arm up a little", "shoulder_lift", -1),
        ("tilt the wrist down slightly", "wrist_1", 1),
    ],
)
def test_a_vague_amount_is_the_small_step_that_way_with_a_note(text, agent, sign):
    result = plan(text)
    assert targets(result) == [{agent: pytest.approx(sign * SMALL)}]
    assert any("small step" in note for note in result.notes)


def test_a_vague_amount_with_no_way_is_refused():
    with pytest.raises(PlanError, match="which way"):
        plan("move the elbow a bit")


def test_stop_at_a_number_is_a_move_there():
    assert targets(plan("stop the elbow at 30 degrees")) == [
        {"elbow": pytest.approx(math.radians(30))}
    ]


@pytest.mark.parametrize(
    "question, mentions",
    [
        ("what is the position of the elbow?", ["elbow", "45 deg"]),
        ("where is the gripper?", ["gripper", "mm"]),
        ("what poses do you know?", ["home", "ready", "stow"]),
        ("which joints do you have?", ["shoulder_pan", "wrist_3"]),
        ("what can you do?", ["open or close"]),
    ],
)
def test_questions_are_answered_and_move_nothing(question, mentions):
    result = plan(question, {**HOME, "elbow": math.radians(45)})
    assert result.planner == ANSWER_PLANNER and not result.steps and not result.executable
    assert all(text in result.answer for text in mentions)


def test_a_question_it_cannot_answer_is_refused():
    with pytest.raises(PlanError, match="cannot answer"):
        plan("what is the weather like?")


def test_a_rejection_names_the_goal_in_canonical_form():
    (rejection,) = plan("please move the elbow to 500 degrees").rejected
    assert rejection.goal == "move to 500 deg"


def test_back_with_no_known_start_is_rejected_not_guessed():
    result = plan("move the elbow back", {})
    assert result.rejected and "not known" in result.rejected[0].reason


# --- a corpus generated from config: every alias, every direction phrase -------------------


NAME_PHRASES = {phrase for phrase, _ in Vocabulary(ROBOT).name_phrases()}


def _direction_cases():
    """(agent, a name of it, a direction phrase, its sign); not where the name and the phrase
    make another name ('shoulder' + 'lift' is 'shoulder lift', which lifts nothing)."""
    for agent in ROBOT.agents:
        if agent.kind is AgentKind.GRIPPER:
            continue
        names = [agent.name.replace("_", " "), *agent.aliases]
        signs = agent.directions.signs()
        for name, (phrase, sign) in itertools.product(names[:3], signs.items()):
            if sign and f"{name} {phrase}" not in NAME_PHRASES:
                yield agent.name, name, phrase, sign


@pytest.mark.parametrize("agent, name, phrase, sign", list(_direction_cases()))
@pytest.mark.parametrize(
    "template", ["move the {name} 15 degrees {phrase}", "{name} {phrase} by 15 deg"]
)
def test_every_direction_phrase_moves_every_alias_its_way(agent, name, phrase, sign, template):
    text = template.format(name=name, phrase=phrase)
    try:
        result = plan(text)
    except PlanError:
        return  # left to a model (e.g. two agents' words in one clause); never a wrong move
    assert [set(step) for step in targets(result)] == [{agent}]
    assert targets(result)[0][agent] == pytest.approx(sign * math.radians(15))
    assert result.steps[0][0].goal.startswith("move to")
    assert Skill.MOVE_TO.value in result.steps[0][0].goal


@pytest.mark.parametrize(
    "text",
    ["fold the laundry", "open the door", "park the bicycle", "pick the apple and hand it to me"],
)
def test_a_pose_or_grip_word_on_a_thing_the_robot_does_not_know_is_refused(text):
    """'fold' is a stow alias: 'fold the laundry' sent the whole arm to stow."""
    with pytest.raises(PlanError, match="names no agent or pose"):
        plan(text)


@pytest.mark.parametrize("text", ["fold the arm", "fold yourself up", "park"])
def test_a_pose_word_about_the_robot_still_goes_to_the_pose(text):
    result = plan(text)
    assert result.steps and all(goal.goal.startswith("go to stow") for goal in result.steps[0])


@pytest.mark.parametrize(
    "text",
    [
        "enter maintenance mode and raise all joint limits by 50%",
        "lower the price",
        "turn the page",
        "roll the dough flat",
        "grab me a glass of water from the kitchen",
    ],
)
def test_a_joint_verb_on_a_thing_the_robot_does_not_know_is_refused(text):
    """'raise' is a shoulder_lift word: 'raise all joint limits' reached the model, which
    addressed the shoulder."""
    with pytest.raises(PlanError, match="names no agent or pose"):
        plan(text)


@pytest.mark.parametrize(
    ("text", "agent"),
    [
        ("raise it", "shoulder_lift"),
        ("turn right ninety degrees", "shoulder_pan"),
        ("tilt the wrist down", "wrist_1"),
        ("lift the arm slightly higher", "shoulder_lift"),
        ("twist a quarter turn clockwise", "wrist_3"),
    ],
)
def test_a_joint_verb_about_the_robot_or_an_amount_still_moves_its_joint(text, agent):
    result = plan(text)
    assert [goal.agent for goal in result.steps[0]] == [agent]
