"""The safety shield between any planner and the agents.

Every proposed subgoal is parsed in the agent language (once: a planner that parsed it already
hands its parse along), resolved to a numeric target from the position the joint will have when
its step starts, and checked against the URDF position and velocity limits with the same
`plan_motion` the agents run. Out-of-range targets are rejected (or clamped, per config) with
the reason; what passes is re-written in canonical form with an absolute target, so the agent
executes exactly what was checked. Nothing in an instruction can change the limits: they come
from the URDF alone.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass, replace

from ..control.motion import Motion, nominal_duration, plan_motion
from ..errors import SubgoalError
from ..language.agent_language import Skill, Subgoal, parse_subgoal, render_subgoal
from ..robot.model import Agent, RobotModel
from .plan import Goal, Proposal, Rejection, Step


@dataclass(frozen=True)
class CheckedStep:
    goals: Step
    rejected: tuple[Rejection, ...]
    notes: tuple[str, ...]


def _dispatch_form(goal: Subgoal, motion: Motion) -> Subgoal:
    """Moves are sent with the checked absolute target (relative ones resolved, clamped ones
    clamped); a stated duration the velocity limit stretched is written out stretched, so the
    agent executes exactly what was checked."""
    if goal.duration_s is not None:
        goal = replace(goal, duration_s=round(max(goal.duration_s, motion.duration_s), 2))
    if goal.skill in (Skill.MOVE_TO, Skill.MOVE_BY):  # absolute, and clamped if it was
        return replace(goal, skill=Skill.MOVE_TO, value=motion.target)
    return goal


class SafetyShield:
    """Checks proposed steps against the robot's limits. Positions in rad or m."""

    def __init__(self, robot: RobotModel, clamp: bool = False) -> None:
        self.robot = robot
        self.clamp = clamp

    def check_step(
        self,
        proposals: Sequence[Proposal],
        positions: MutableMapping[str, float],
        origin: Mapping[str, float] | None = None,
    ) -> CheckedStep:
        """Check one step. `positions` (agent -> expected position) is advanced to the targets
        of the accepted goals, so the next step's relative moves start from there; `origin`
        holds where the agents were when the instruction arrived ('move it back' goes there).
        A rejected goal is named in canonical form when it parsed: the reason is about what
        would have run, not about a planner's wording."""
        resolved: list[tuple[Proposal, Subgoal, Motion]] = []
        rejected: list[Rejection] = []
        notes: list[str] = []
        seen: set[str] = set()
        for proposal in proposals:
            try:
                goal, motion = self._resolve(proposal, positions, origin or {}, seen)
            except SubgoalError as error:
                rejected.append(Rejection(proposal.agent, self._named(proposal), str(error)))
                continue
            seen.add(proposal.agent)
            resolved.append((proposal, goal, motion))
            notes.extend([proposal.note] if proposal.note else [])
            notes.extend(motion.notes)
        checked = self._synchronise_poses(resolved)
        if not rejected:
            for sent in checked:
                if sent.target is not None:
                    positions[sent.agent] = sent.target
        return CheckedStep(tuple(checked), tuple(rejected), tuple(notes))

    def _named(self, proposal: Proposal) -> str:
        if not self.robot.has_agent(proposal.agent):
            return proposal.goal
        agent = self.robot.agent(proposal.agent)
        try:
            goal = proposal.subgoal or parse_subgoal(proposal.goal, agent, self.robot.poses)
        except SubgoalError:
            return proposal.goal
        return render_subgoal(goal, agent)

    def _resolve(
        self,
        proposal: Proposal,
        positions: Mapping[str, float],
        origin: Mapping[str, float],
        seen: set[str],
    ) -> tuple[Subgoal, Motion]:
        if not self.robot.has_agent(proposal.agent):
            raise SubgoalError(
                f"unknown agent {proposal.agent!r} (known: {', '.join(self.robot.agent_names)})"
            )
        if proposal.agent in seen:
            raise SubgoalError(f"{proposal.agent} has two goals in one step")
        agent = self.robot.agent(proposal.agent)
        goal = proposal.subgoal or parse_subgoal(proposal.goal, agent, self.robot.poses)
        if goal.skill is Skill.RETURN:
            goal = replace(goal, skill=Skill.MOVE_TO, value=self._origin(proposal.agent, origin))
        start = positions.get(proposal.agent, math.nan)
        if math.isnan(start) and goal.skill in (
            Skill.MOVE_TO,
            Skill.OPEN,
            Skill.CLOSE,
            Skill.POSE,
        ):
            # The agent re-times from where it really is; limits only need the target here.
            start = self.robot.agent(proposal.agent).joint.clamp(0.0)
        return goal, plan_motion(goal, agent, start, self.robot, clamp=self.clamp)

    @staticmethod
    def _origin(agent: str, origin: Mapping[str, float]) -> float:
        where = origin.get(agent, math.nan)
        if math.isnan(where):
            raise SubgoalError(f"where {agent} was when the instruction arrived is not known")
        return where

    def _slowest(self, goal: Subgoal, agent: Agent, motion: Motion) -> float | None:
        """How long `goal` may take (s) when a learned agent times it by its manner words:
        at most at the slowest configured speed (the tempo head's lower bound); None when it
        has none (the style's duration stands)."""
        if not goal.manner or not motion.segments:
            return None
        slowest = min(self.robot.control.speed_fraction.values())
        planned = plan_motion(goal, agent, motion.start, self.robot, speed_fraction=slowest)
        return max(motion.duration_s, planned.duration_s)

    def _synchronise_poses(self, resolved: list[tuple[Proposal, Subgoal, Motion]]) -> list[Goal]:
        """Joints going to a named pose together arrive together: they share the longest
        nominal duration of the group (unless a duration was stated)."""
        pose_time = 0.0
        for proposal, goal, motion in resolved:
            if goal.skill is Skill.POSE and goal.duration_s is None:
                agent = self.robot.agent(proposal.agent)
                pose_time = max(
                    pose_time,
                    motion.duration_s,
                    nominal_duration(motion.target - motion.start, agent, goal.style, self.robot),
                )
        goals = []
        for proposal, goal, motion in resolved:
            agent = self.robot.agent(proposal.agent)
            if goal.skill is Skill.POSE and goal.duration_s is None:
                goal = replace(goal, duration_s=round(pose_time, 2))
            sent = _dispatch_form(goal, motion)
            target = None if goal.skill is Skill.HOLD else motion.target
            duration = sent.duration_s if sent.duration_s is not None else motion.duration_s
            longest = self._slowest(sent, agent, motion) if sent.duration_s is None else None
            text = render_subgoal(sent, agent)
            goals.append(Goal(proposal.agent, text, target, duration or None, longest))
        return goals
