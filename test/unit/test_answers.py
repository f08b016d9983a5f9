"""Questions get answers, not motion: the answer travels in the planner's status, and a
question ends `done` at once without sending a goal or cutting short what runs."""

import dataclasses

import pytest
from agent_statuses import ELBOW_30, OPEN, status

from llm_mas_ros.core.control.agent import Level
from llm_mas_ros.core.planning import dispatcher as D
from llm_mas_ros.core.planning.answers import is_question
from llm_mas_ros.core.planning.execution import HOLD_GOAL, ExecutionState
from llm_mas_ros.core.planning.plan import Plan, Rejection
from llm_mas_ros.core.planning.status import (
    ANSWER_CHARS,
    Key,
    PlannerStatus,
    decode_plan,
    decode_planner,
    encode_plan,
    encode_planner,
)

QUESTION = "where is the elbow?"
# As long as an answer naming every joint and pose gets: it must pass whole.
LONG_ANSWER = "; ".join(
    f"joint_{n} is at {n * 1.5:.1f} deg (limits -180 to 180 deg)" for n in range(12)
)


def answered(text=QUESTION, answer="elbow is at 30 deg"):
    return Plan(text, "fast-path:answer", answer=answer)


def of(kind, effects):
    return [effect for effect in effects if isinstance(effect, kind)]


def goals(effects):
    return [(e.agent, e.goal) for e in of(D.SendGoal, effects)]


def outcomes(effects, number):
    return [r.status for r in of(D.Report, effects) if r.status.instruction_id == number]


@pytest.fixture()
def dispatcher(arm):
    d = D.Dispatcher(arm, "rules", step_timeout_margin_s=1.0, agent_timeout_s=2.0)
    d.agent_statuses([status(agent) for agent in arm.agent_names], 0.0)
    return d


def elbow_moving(dispatcher):
    """Instruction 1, 'elbow to 30 deg', planned and running."""
    dispatcher.instruction("elbow to 30 deg", 1.0)
    dispatcher.planned(1, ELBOW_30, 1.1)
    dispatcher.finished_planning(1, Plan("elbow to 30 deg", "rules", (ELBOW_30,)), 1.1)
    dispatcher.agent_statuses([status("elbow", "moving", "move to 30 deg", 1)], 1.2)


# -- the codec ------------------------------------------------------------------------------------
def test_an_answer_of_several_hundred_characters_survives_the_status():
    assert 500 < len(LONG_ANSWER) < ANSWER_CHARS
    plan = answered(answer=LONG_ANSWER)
    assert decode_plan(QUESTION, dict(encode_plan(plan))).to_json() == plan.to_json()
    status = PlannerStatus(
        Level.OK, "done", True, "ready", "rules", 1, 1, ExecutionState.DONE, QUESTION, plan=plan
    )
    rebuilt = decode_planner(0, "done", dict(encode_planner(status)))
    assert rebuilt is not None and rebuilt.plan is not None
    assert rebuilt.plan.answer == LONG_ANSWER and rebuilt.ok


def test_a_plan_without_answer_has_no_answer_key_and_a_huge_answer_is_bounded():
    values = dict(encode_plan(Plan("elbow to 30 deg", "rules", (ELBOW_30,))))
    assert Key.ANSWER not in values
    assert decode_plan("elbow to 30 deg", values).answer is None
    assert decode_plan(QUESTION, dict(encode_plan(answered(answer="")))).answer == ""
    huge = dict(encode_plan(answered(answer="x" * 1_000_000)))[Key.ANSWER]
    assert huge.startswith("x" * ANSWER_CHARS) and huge.endswith("(1000000 characters)")
    assert len(huge) < ANSWER_CHARS + 50


# -- the dispatcher -------------------------------------------------------------------------------
def test_a_question_ends_done_at_once_sending_nothing(dispatcher):
    effects = dispatcher.instruction(QUESTION, 1.0)
    assert of(D.StartPlanning, effects) == [D.StartPlanning(1, QUESTION)] and not goals(effects)
    plan = answered()
    effects = dispatcher.finished_planning(1, plan, 1.01)
    assert of(D.AnnouncePlan, effects) == [D.AnnouncePlan(plan)]
    assert goals(effects) == []  # no goal, and no hold either
    (outcome,) = outcomes(effects, 1)
    assert outcome.state is ExecutionState.DONE and outcome.ok and outcome.finished_at == 1.01
    assert outcome.plan is not None and outcome.plan.answer == "elbow is at 30 deg"
    assert not dispatcher.active


def test_a_question_while_an_instruction_runs_does_not_stop_it(dispatcher):
    elbow_moving(dispatcher)
    effects = dispatcher.instruction(QUESTION, 1.5)
    assert goals(effects) == [] and outcomes(effects, 1) == []  # no hold, not replaced
    assert dispatcher.is_current(1) and dispatcher.is_current(2)
    effects = dispatcher.finished_planning(2, answered(), 1.51)
    assert goals(effects) == [] and outcomes(effects, 1) == []
    assert [s.state for s in outcomes(effects, 2)] == [ExecutionState.DONE]
    effects = dispatcher.agent_statuses([status("elbow", "done", "move to 30 deg", 1)], 2.0)
    assert [s.state for s in outcomes(effects, 1)] == [ExecutionState.DONE]


@pytest.mark.parametrize(
    "ends",
    [
        lambda d: d.planning_failed(2, "no such skill", 1.6),
        lambda d: d.finished_planning(
            2, Plan("x", "rules", rejected=(Rejection("elbow", "to 400", "limits"),)), 1.6
        ),
    ],
    ids=["cannot plan", "rejected"],
)
def test_a_question_that_cannot_be_answered_leaves_the_running_instruction_alone(dispatcher, ends):
    elbow_moving(dispatcher)
    dispatcher.instruction("what is the weather like?", 1.5)
    effects = ends(dispatcher)
    assert goals(effects) == [] and outcomes(effects, 1) == []
    assert not outcomes(effects, 2)[-1].ok and dispatcher.is_current(1)


# The pipeline answers every question with no steps; were one ever planned with steps, the
# dispatcher still replaces what runs before its first goal goes out.
MOVING_QUESTION = "is the gripper open? if not, open it"


def test_a_question_that_moves_after_all_replaces_the_running_one_before_its_first_goal(
    dispatcher,
):
    assert is_question(MOVING_QUESTION)
    elbow_moving(dispatcher)
    assert goals(dispatcher.instruction(MOVING_QUESTION, 1.5)) == []
    effects = dispatcher.planned(2, OPEN, 1.6)
    assert goals(effects) == [("elbow", HOLD_GOAL), ("gripper", "open")]
    (replaced,) = outcomes(effects, 1)
    assert replaced.state is ExecutionState.PREEMPTED and "replaced by instruction 2" in (
        replaced.reason
    )
    assert not dispatcher.is_current(1)
    dispatcher.agent_statuses([status("gripper", "done", "open", 1)], 1.7)
    dispatcher.finished_planning(2, Plan(MOVING_QUESTION, "rules", (OPEN,)), 1.7)
    assert dispatcher.report(1.7).status.state is ExecutionState.DONE


def test_a_stops_holds_still_count_for_a_question_that_turns_out_to_move(dispatcher):
    """Holds of a stop and of the instruction a late 'question' replaces add up: the stop's
    late hold on the gripper is not taken for someone else's goal."""
    dispatcher.instruction("stop", 1.0)
    dispatcher.instruction("elbow to 30 deg", 1.1)  # planning: the stop's holds unseen
    dispatcher.instruction(MOVING_QUESTION, 1.2)
    assert goals(dispatcher.planned(3, OPEN, 1.3)) == [("gripper", "open")]
    effects = dispatcher.agent_statuses([status("gripper", "holding", HOLD_GOAL, 1)], 1.4)
    assert not [s for s in outcomes(effects, 3) if s.finished]
    dispatcher.agent_statuses([status("gripper", "done", "open", 2)], 1.5)
    dispatcher.finished_planning(3, Plan(MOVING_QUESTION, "rules", (OPEN,)), 1.5)
    assert dispatcher.report(1.5).status.state is ExecutionState.DONE


def test_under_queue_a_question_waits_its_turn(arm):
    d = D.Dispatcher(arm, "rules", 1.0, 2.0, arrival=D.Arrival.QUEUE)
    d.agent_statuses([status(agent) for agent in arm.agent_names], 0.0)
    elbow_moving(d)
    effects = d.instruction(QUESTION, 1.5)
    assert goals(effects) == [] and outcomes(effects, 1) == []
    assert outcomes(effects, 2)[-1].state is ExecutionState.QUEUED


def test_a_request_put_as_a_question_replaces_the_running_one_on_arrival(dispatcher):
    """'could you ...?' asks for motion (the pipeline's `is_question` says so): no delay."""
    elbow_moving(dispatcher)
    effects = dispatcher.instruction("could you open the gripper?", 1.5)
    assert goals(effects) == [("elbow", HOLD_GOAL)]
    assert [s.state for s in outcomes(effects, 1)] == [ExecutionState.PREEMPTED]


def test_a_question_plan_round_trips_with_its_status(dispatcher):
    dispatcher.instruction(QUESTION, 1.0)
    effects = dispatcher.finished_planning(1, answered(answer=LONG_ANSWER), 1.01)
    (outcome,) = outcomes(effects, 1)
    rebuilt = decode_planner(int(outcome.level), outcome.message, dict(encode_planner(outcome)))
    assert rebuilt is not None and dataclasses.replace(rebuilt, plan=outcome.plan) == outcome
    assert rebuilt.plan is not None and rebuilt.plan.answer == LONG_ANSWER
