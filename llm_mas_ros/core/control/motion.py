"""From a parsed subgoal and the joint's current position to a checked, timed motion.

This is where the URDF limits are enforced for every goal, whoever sent it: the agent runs it on
each goal it receives and the planner's safety shield runs the very same function before
dispatch. Durations follow a minimum-jerk profile, whose peak speed is 15/8 of its mean speed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import SubgoalError
from ..language.agent_language import Skill, Subgoal, quantity_text
from ..robot.model import Agent, RobotModel

MIN_JERK_PEAK_RATIO = 15.0 / 8.0  # peak / mean speed of a minimum-jerk move
MIN_SEGMENT_S = 0.3  # shortest move (s): shorter ones only excite the controller
DEFAULT_WAVE_DEG = 15.0
LIMIT_SLACK = 1e-5  # rad or m: unit conversions and rounding of rendered targets stay inside


@dataclass(frozen=True)
class Segment:
    """Move to `target` (rad or m) in `duration_s` seconds along a minimum-jerk profile."""

    target: float
    duration_s: float


@dataclass(frozen=True)
class Motion:
    """A checked motion of one joint: segments run one after another; none means hold."""

    start: float
    segments: tuple[Segment, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def target(self) -> float:
        return self.segments[-1].target if self.segments else self.start

    @property
    def duration_s(self) -> float:
        return sum(segment.duration_s for segment in self.segments)


def minimum_duration(distance: float, velocity_limit: float) -> float:
    """Shortest minimum-jerk duration (s) that keeps the peak speed within the limit."""
    if velocity_limit <= 0 or not math.isfinite(velocity_limit):
        return 0.0
    return MIN_JERK_PEAK_RATIO * abs(distance) / velocity_limit


def nominal_duration(
    distance: float,
    agent: Agent,
    style: str | None,
    robot: RobotModel,
    speed_fraction: float | None = None,
) -> float:
    """Duration (s) at `speed_fraction` of the velocity limit (default: the style's share, from
    `robot.control.speed_fraction`), at least MIN_SEGMENT_S."""
    speeds = robot.control.speed_fraction
    fraction = speed_fraction or speeds.get(style or "default", speeds["default"])
    limit = agent.joint.velocity if math.isfinite(agent.joint.velocity) else 1.0
    return max(MIN_SEGMENT_S, minimum_duration(distance, fraction * limit))


def _absolute_target(goal: Subgoal, agent: Agent, start: float, robot: RobotModel) -> float:
    if goal.skill is Skill.MOVE_TO:
        return float(goal.value)  # type: ignore[arg-type]
    if goal.skill is Skill.MOVE_BY:
        return start + float(goal.value)  # type: ignore[arg-type]
    if goal.skill is Skill.OPEN:
        return float(agent.open_position)  # type: ignore[arg-type]
    if goal.skill is Skill.CLOSE:
        return float(agent.closed_position)  # type: ignore[arg-type]
    if goal.skill is Skill.POSE:
        pose = robot.pose(goal.pose or "")
        if agent.joint.name not in pose:
            raise SubgoalError(f"pose {goal.pose!r} does not include {agent.joint.name}")
        return pose[agent.joint.name]
    raise AssertionError(f"no single target for {goal.skill}")


def _checked(target: float, agent: Agent, clamp: bool, notes: list[str]) -> float:
    joint = agent.joint
    if joint.lower - LIMIT_SLACK <= target <= joint.upper + LIMIT_SLACK:
        return joint.clamp(target)  # within rounding of a limit: on it
    if not math.isfinite(target):
        raise SubgoalError("target is not a finite number")
    wanted = quantity_text(target, agent)
    if not clamp:
        raise SubgoalError(
            f"target {wanted} is outside the {joint.name} limits {joint.describe_limits()}"
        )
    clamped = joint.clamp(target)
    notes.append(
        f"{agent.name}: target {wanted} clamped to {quantity_text(clamped, agent)} "
        f"(limits {joint.describe_limits()})"
    )
    return clamped


def _timed(
    start: float,
    target: float,
    goal: Subgoal,
    agent: Agent,
    robot: RobotModel,
    notes: list[str],
    speed_fraction: float | None,
) -> Segment:
    distance = target - start
    shortest = minimum_duration(distance, agent.joint.velocity)
    if goal.duration_s is None:
        nominal = nominal_duration(distance, agent, goal.style, robot, speed_fraction)
        return Segment(target, max(shortest, nominal))
    if goal.duration_s + 1e-9 < shortest:
        notes.append(
            f"{agent.name}: duration stretched from {goal.duration_s:g} s to {shortest:.2f} s "
            f"(velocity limit {agent.joint.velocity:g} {agent.joint.unit}/s)"
        )
        return Segment(target, shortest)
    return Segment(target, goal.duration_s)


def _wave(
    goal: Subgoal,
    agent: Agent,
    start: float,
    robot: RobotModel,
    notes: list[str],
    speed_fraction: float | None,
) -> tuple[Segment, ...]:
    joint = agent.joint
    amplitude = goal.value
    if amplitude is None:
        span = joint.upper - joint.lower
        amplitude = (
            min(math.radians(DEFAULT_WAVE_DEG), 0.1 * span)
            if math.isfinite(span)
            else math.radians(DEFAULT_WAVE_DEG)
        )
    swing = [start + amplitude, start - amplitude] * goal.repetitions + [start]
    # A clamped wave is no wave: out-of-range swings are refused even in clamp mode.
    targets = [_checked(t, agent, False, notes) for t in swing]
    total = goal.duration_s
    segments, previous = [], start
    for target in targets:
        segment_goal = Subgoal(
            Skill.MOVE_TO,
            target,
            style=goal.style,
            duration_s=None if total is None else total / len(targets),
        )
        segment = _timed(previous, target, segment_goal, agent, robot, notes, speed_fraction)
        segments.append(segment)
        previous = target
    return tuple(segments)


def plan_motion(
    goal: Subgoal,
    agent: Agent,
    start: float,
    robot: RobotModel,
    clamp: bool = False,
    speed_fraction: float | None = None,
) -> Motion:
    """The motion that executes `goal` from `start` (rad or m), within the URDF limits.
    `speed_fraction` (of the velocity limit) times a goal that names no duration, in place of
    its style's (a learned policy's tempo, read from the goal's words).

    Raises SubgoalError when a target lies outside the position limits (or, with `clamp`,
    clamps it and says so in `notes`); stretches durations that would exceed the velocity limit.
    """
    if not math.isfinite(start):
        raise SubgoalError("current position is unknown")
    notes: list[str] = []
    if goal.skill is Skill.HOLD:  # with a duration, a wait: still for that long, then done
        waiting = goal.duration_s is not None
        return Motion(start, (Segment(start, goal.duration_s or 0.0),) if waiting else ())
    if goal.skill is Skill.RETURN:
        raise SubgoalError("'return' needs the planner, which knows where the joint was")
    if goal.skill is Skill.WAVE:
        segments = _wave(goal, agent, start, robot, notes, speed_fraction)
        return Motion(start, segments, tuple(notes))
    target = _checked(_absolute_target(goal, agent, start, robot), agent, clamp, notes)
    segment = _timed(start, target, goal, agent, robot, notes, speed_fraction)
    return Motion(start, (segment,), tuple(notes))
