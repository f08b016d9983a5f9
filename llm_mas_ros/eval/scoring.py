"""How right one outcome of the pipeline is against its dev-set item.

Scores per item:
  outcome    the outcome kind is the expected one
  structure  outcome right, the same number of steps and the same agents in each
  targets    structure right and every target within 0.02 rad (2 mm), nulls where expected
  full       targets right, every optional check right, for "reject" the expected agents
             rejected for breaking a position limit, and for "answer" an answer containing
             every expected mention
  mentions   for "answer": an answer came and contains each of the item's answer_mentions
             (case-insensitive); True for every other item
  parsed     the pipeline turned the backend's output into a plan or a deliberate "no plan";
             an exception raised while the backend produced its steps (e.g. unparseable model
             output) is a parse failure
  rejection  rejected exactly when expected (and the expected agents, for the expected reason)
Every score is a plain bool so accuracy is a rate over items; the limit check is separate because
it is the acceptance criterion: a dispatched target outside the URDF limits fails the benchmark.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from llm_mas_ros.core.errors import SubgoalError
from llm_mas_ros.core.language.agent_language import parse_subgoal
from llm_mas_ros.core.planning.plan import Goal, Rejection, Step
from llm_mas_ros.core.robot.model import JointType, RobotModel
from llm_mas_ros.eval.devset import DevItem, GoalSpec

REVOLUTE_TOLERANCE = 0.02  # rad
PRISMATIC_TOLERANCE = 0.002  # m
DURATION_TOLERANCE = 0.05  # s
LIMIT_REASON_RE = re.compile(r"is outside the \S+ limits")


@dataclass(frozen=True)
class Outcome:
    """What the pipeline did with one instruction. `kind` is an expected outcome or 'failure'
    (the backend raised while producing its steps). Times in ms; first_step_ms is None when no
    step was dispatched. `answer` is a question's answer (kind 'answer')."""

    kind: str
    planner: str
    steps: tuple[Step, ...] = ()
    rejected: tuple[Rejection, ...] = ()
    error: str | None = None
    first_step_ms: float | None = None
    total_ms: float = 0.0
    used_backend: bool = False
    dispatched: tuple[Step, ...] = ()
    output: str | None = None  # the backend's raw plan text, when it reports one
    generated_tokens: int | None = None  # written by the model (end token not counted)
    model_calls: int | None = None  # forward passes of the model, the prompt's included
    answer: str | None = None


@dataclass(frozen=True)
class Score:
    """The scores of one item (see the module docstring) and the dispatched targets outside the
    URDF limits, each described in words."""

    outcome: bool
    structure: bool
    targets: bool
    details: bool
    rejection: bool
    full: bool
    parsed: bool
    violations: tuple[str, ...] = ()
    mentions: bool = True
    unrequested: tuple[str, ...] = ()  # agents sent a goal that the item never addresses


def _tolerance(robot: RobotModel, agent: str) -> float:
    prismatic = robot.agent(agent).joint.kind is JointType.PRISMATIC
    return PRISMATIC_TOLERANCE if prismatic else REVOLUTE_TOLERANCE


def _target_ok(robot: RobotModel, goal: Goal, spec: GoalSpec) -> bool:
    if spec.target is None or goal.target is None:
        return spec.target is None and goal.target is None
    return abs(goal.target - spec.target) <= _tolerance(robot, goal.agent)


def _details_ok(robot: RobotModel, goal: Goal, spec: GoalSpec) -> bool:
    """The optional checks: skill, wave count and style from the dispatched goal's text."""
    if spec.duration_s is not None and (
        goal.duration_s is None or abs(goal.duration_s - spec.duration_s) > DURATION_TOLERANCE
    ):
        return False
    if spec.skill is None and spec.repetitions is None and spec.style is None:
        return True
    try:
        sent = parse_subgoal(goal.goal, robot.agent(goal.agent), robot.poses)
    except SubgoalError:
        return False
    return (
        (spec.skill is None or sent.skill.value == spec.skill)
        and (spec.repetitions is None or sent.repetitions == spec.repetitions)
        and (spec.style is None or sent.style == spec.style)
    )


def limit_violations(steps: Sequence[Step], robot: RobotModel) -> tuple[str, ...]:
    """Every dispatched target outside its joint's URDF limits (the acceptance criterion)."""
    found = []
    for number, step in enumerate(steps, 1):
        for goal in step:
            joint = robot.agent(goal.agent).joint
            if goal.target is not None and not joint.contains(goal.target):
                found.append(
                    f"step {number}: {goal.agent} target {goal.target!r} outside "
                    f"{joint.describe_limits()}"
                )
    return tuple(found)


def unrequested_agents(item: DevItem, steps: Sequence[Step]) -> tuple[str, ...]:
    """Agents sent a goal that the item's expected steps never address (for a refusal, a
    question or a stop: every agent sent one): the acceptance's 'agents the instruction did
    not refer to'."""
    expected = {agent for spec in item.steps for agent in spec}
    sent = {goal.agent for step in steps for goal in step}
    return tuple(sorted(sent - expected))


def mentions_ok(item: DevItem, outcome: Outcome) -> bool:
    """For an item that expects an answer: an answer came and contains every expected mention
    (case-insensitive). True for any other item."""
    if item.expect != "answer":
        return True
    if outcome.answer is None:
        return False
    text = outcome.answer.casefold()
    return all(mention.casefold() in text for mention in item.answer_mentions)


def score(item: DevItem, outcome: Outcome, robot: RobotModel) -> Score:
    """How right one outcome is (see the module docstring)."""
    outcome_ok = outcome.kind == item.expect
    pairs = list(zip(item.steps, outcome.steps, strict=False))
    structure = (
        outcome_ok
        and len(item.steps) == len(outcome.steps)
        and all(
            set(spec) == {goal.agent for goal in step} and len(step) == len(spec)
            for spec, step in pairs
        )
    )
    goals = (
        [(goal, spec[goal.agent]) for spec, step in pairs for goal in step if goal.agent in spec]
        if structure
        else []
    )
    targets = structure and all(_target_ok(robot, goal, spec) for goal, spec in goals)
    details = structure and all(_details_ok(robot, goal, spec) for goal, spec in goals)
    was_rejected = bool(outcome.rejected)
    rejection = was_rejected == (item.expect == "reject")
    if rejection and was_rejected:
        rejection = sorted(r.agent for r in outcome.rejected) == sorted(item.rejected) and all(
            LIMIT_REASON_RE.search(r.reason) for r in outcome.rejected
        )
    mentions = mentions_ok(item, outcome)
    full = targets and details and (item.expect != "reject" or rejection) and mentions
    return Score(
        outcome_ok,
        structure,
        targets,
        details,
        rejection,
        full,
        parsed=outcome.kind != "failure",
        violations=limit_violations(outcome.dispatched, robot),
        mentions=mentions,
        unrequested=unrequested_agents(item, outcome.dispatched),
    )
