import math

import pytest

from llm_mas_ros.core.errors import PlanError
from llm_mas_ros.core.language.agent_language import normalize
from llm_mas_ros.core.planning.pipeline import PlanningPipeline, is_stop
from llm_mas_ros.core.planning.plan import Proposal
from llm_mas_ros.core.planning.rules import RulePlanner

HOME = {
    "shoulder_pan": 0.0,
    "shoulder_lift": 0.0,
    "elbow": 0.0,
    "wrist_1": 0.0,
    "wrist_2": 0.0,
    "wrist_3": 0.0,
    "gripper": 0.0,
}


def structure(plan):
    return [
        [(goal.agent, None if goal.target is None else round(goal.target, 4)) for goal in step]
        for step in plan.steps
    ]


@pytest.mark.parametrize(
    "instruction, expected",
    [
        ("elbow to 45 degrees", [[("elbow", 0.7854)]]),
        (
            "shoulder_pan to -30 degrees and open the gripper",
            [[("shoulder_pan", -0.5236), ("gripper", 0.04)]],
        ),
        ("elbow to 45 degrees; open the gripper", [[("elbow", 0.7854)], [("gripper", 0.04)]]),
        (
            "go to ready, then close the gripper",
            [
                [
                    ("shoulder_pan", 0.0),
                    ("shoulder_lift", -0.6),
                    ("elbow", 1.2),
                    ("wrist_1", 0.9),
                    ("wrist_2", 0.0),
                    ("wrist_3", 0.0),
                ],
                [("gripper", 0.0)],
            ],
        ),
        (
            "Open the hand, then bend the forearm to 30°.",
            [[("gripper", 0.04)], [("elbow", 0.5236)]],
        ),
        ("elbow and wrist 1 to 30 degrees", [[("elbow", 0.5236), ("wrist_1", 0.5236)]]),
        (
            "wrist_3 by 10 deg then wrist_3 by 10 deg",
            [[("wrist_3", 0.1745)], [("wrist_3", 0.3491)]],
        ),
        ("please rotate the base to 0.5 rad slowly", [[("shoulder_pan", 0.5)]]),
        ("elbow hold", [[("elbow", None)]]),
        ("wrist_1 to .3 rad", [[("wrist_1", 0.3)]]),  # not 3 rad
        ("wrist_1 to -.3 rad.", [[("wrist_1", -0.3)]]),
        ("elbow to 5. Please!", [[("elbow", 0.0873)]]),
        (
            "elbow to 30 deg. then open the gripper",
            [[("elbow", 0.5236)], [("gripper", 0.04)]],
        ),
        ("stop the gripper then open it", [[("gripper", None)], [("gripper", 0.04)]]),
    ],
)
def test_agent_language_instructions_plan_without_a_model(arm, instruction, expected):
    plan = PlanningPipeline(arm).plan(instruction, HOME)
    assert plan.planner == "fast-path:rules" and not plan.rejected
    assert structure(plan) == expected


@pytest.mark.parametrize(
    "instruction, message",
    [
        ("", "empty instruction"),
        ("x" * 1_000_000, "characters long"),
        ("make me a sandwich", "names no agent or pose"),
        ("tentacle to 10 degrees", "names no agent or pose"),
        ("stop at 30 degrees", "names no agent or pose"),
        ("move the elbow a bit", "which way"),
        ("elbow to nan degrees", "'nan' is not a number"),
        ("wrist_1 to -inf deg", "'-inf' is not a number"),
        ("elbow and wrist 1", "no goal given"),
        ("\x07\x00", "control characters"),
    ],
)
def test_unplannable_instructions_raise_plan_error_with_a_reason(arm, instruction, message):
    with pytest.raises(PlanError, match=message):
        PlanningPipeline(arm).plan(instruction, HOME)


def test_non_text_instruction_is_a_plan_error(arm):
    with pytest.raises(PlanError, match="must be text"):
        PlanningPipeline(arm).plan(None, HOME)


@pytest.mark.parametrize(
    "text",
    [
        "stop",
        "STOP!",
        "halt",
        "freeze",
        "please stop now",
        "Stop everything.",
        "emergency stop",
        "stop please",
        "halt, please",
        "STOP STOP",
        "stop it",
        "everybody stop",
        "e-stop",
        "E-STOP!",
        "estop",
        "stop!!",
        "freeze everything please",
        "stop the robot now",
        "hey, stop",
        "ok stop right now",
        "Abort!",
        "stop all motion immediately",
        "stop - now",
        "hold",
        "hold on",
        "hold still",
        "hold position",
        "Hold it right there!",
        "stay",
        "stay put",
        "stay where you are",
        "keep still, please",
        "hold everything in place",
    ],
)
def test_stop_words_take_the_fast_path(arm, text):
    assert is_stop(text)
    plan = PlanningPipeline(arm).plan(text, HOME)
    assert plan.stop and plan.planner == "fast-path:stop" and not plan.steps


@pytest.mark.parametrize(
    "text",
    [
        "stop the elbow at 10 degrees",
        "stop at 30 degrees",
        "move the elbow until you stop at 45 degrees",
        "stop the gripper then open it",
        "stop the elbow",  # one agent holds; the rest go on
        "don't stop",
        "do not stop",
        "never stop moving",
        "elbow hold",
        "hold the elbow",
        "keep moving",
        "stay at 30 degrees",
        "please",
        "now, everything",
        "!!",
    ],
)
def test_sentences_that_merely_contain_stop_are_not_the_global_stop(text):
    assert not is_stop(text)


def test_an_out_of_limit_step_stops_the_plan_there(arm):
    plan = PlanningPipeline(arm).plan(
        "gripper open then elbow to 400 degrees then elbow to 0 deg", HOME
    )
    assert structure(plan) == [[("gripper", 0.04)]]
    assert plan.rejected[0].agent == "elbow" and "limits" in plan.rejected[0].reason
    assert not plan.executable


def test_steps_stream_to_the_callback_in_order(arm):
    seen = []
    PlanningPipeline(arm).plan("elbow to 10 deg then elbow to 20 deg", HOME, on_step=seen.append)
    assert [step[0].target for step in seen] == pytest.approx([math.radians(10), math.radians(20)])


class CountingBackend:
    name = "counting"

    def __init__(self):
        self.calls = 0

    def propose(self, instruction):
        self.calls += 1
        yield (Proposal("elbow", "to 15 deg"),)


def test_backend_is_used_only_when_rules_fail_and_the_cache_answers_repeats(arm):
    backend = CountingBackend()
    pipeline = PlanningPipeline(arm, backend)
    assert pipeline.plan("elbow to 10 deg", HOME).planner == "fast-path:rules"
    assert backend.calls == 0
    first = pipeline.plan("Could you do the elbow thing?", HOME)
    again = pipeline.plan("  could you DO the elbow thing  ", HOME)
    assert (first.planner, again.planner) == ("counting", "cache:counting")
    assert backend.calls == 1 and structure(first) == structure(again)


def test_cached_relative_moves_are_rechecked_from_the_current_position(arm):
    class Relative(CountingBackend):
        def propose(self, instruction):
            yield (Proposal("elbow", "by 100 deg"),)

    pipeline = PlanningPipeline(arm, Relative())
    assert pipeline.plan("bend a lot", HOME).steps
    later = pipeline.plan("bend a lot", {**HOME, "elbow": 1.5})  # 1.5 rad + 100 deg > limit
    assert later.planner.startswith("cache") and later.rejected and not later.steps


def test_a_decode_cut_short_by_a_rejection_is_closed_before_plan_returns(arm):
    """Its statistics are final when the plan is (the benchmark reads them), not whenever the
    garbage collector finds the paused generator."""
    events = []

    class Decoding(CountingBackend):
        def propose(self, instruction):
            try:
                yield (Proposal("elbow", "to 400 deg"),)
                events.append("decoded past the rejected step")
                yield (Proposal("elbow", "to 10 deg"),)
            finally:
                events.append("closed")

    plan = PlanningPipeline(arm, Decoding()).plan("bend a lot", HOME)
    assert plan.rejected and events == ["closed"]


def test_cache_is_bounded(arm):
    backend = CountingBackend()
    pipeline = PlanningPipeline(arm, backend, cache_size=2)
    for text in ("elbow a b", "elbow d e", "elbow g h", "elbow a b"):
        pipeline.plan(text, HOME)
    assert backend.calls == 4  # 'a b c' was evicted by the two after it


def test_normalisation_ignores_case_space_and_punctuation():
    assert normalize("  Elbow, to 45.5 DEGREES!! ") == "elbow to 45.5 degrees"


def test_normalisation_keeps_decimal_points_and_drops_full_stops():
    assert normalize("To .5, -.5, +0.50 and 5. Then 30 deg.") == (
        "to .5 -.5 +0.50 and 5 then 30 deg"
    )


def test_rule_planner_vocabulary_comes_from_config(arm):
    planner = RulePlanner(arm)
    assert planner.parse_step("turret to 10 deg") == (Proposal("shoulder_pan", "to 10 deg"),)


def test_instructions_the_rules_could_misread_are_left_to_a_model(arm):
    with pytest.raises(PlanError, match="several agents"):  # one clause, two agents: ambiguous
        PlanningPipeline(arm).plan("elbow wrist_1 to 10 deg", HOME)


@pytest.mark.parametrize(
    "instruction, degrees",
    [
        ("lift the forearm up by 45 degrees", -45),  # direction words are not filler
        ("move the elbow back by 10 degrees", -10),  # with a number, 'back' is a way
    ],
)
def test_direction_words_give_the_sign_of_a_relative_move(arm, instruction, degrees):
    ((goal,),) = PlanningPipeline(arm).plan(instruction, HOME).steps
    assert goal.agent == "elbow" and goal.target == pytest.approx(math.radians(degrees))
