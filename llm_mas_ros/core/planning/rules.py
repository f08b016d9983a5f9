"""The LLM-free planner: instructions already written in the agent language, addressed to agents.

  "elbow to 45 degrees; open the gripper"          -> two steps
  "shoulder_pan to -30 degrees and open the gripper" -> one step, two goals run together
  "go to ready, then close the gripper"            -> pose step (every joint of the pose), then one

Steps are separated by ';', 'then', 'after that', 'next', 'finally' or a full stop; goals within
a step by ',', 'and', 'while', 'at the same time'. Each goal names its agent (name, name with
spaces, or an alias from config); open/close without an agent mean the robot's only gripper; a
named pose without an agent means every joint of that pose. Anything else is a PlanError, and
the planner hands the instruction to its language model instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from ..errors import PlanError, SubgoalError
from ..language.agent_language import (
    CLOSE_WORDS,
    COURTESY_WORDS,
    FILLER_WORDS,
    OPEN_WORDS,
    STYLE_WORDS,
    Subgoal,
    normalize,
    parse_subgoal,
)
from ..language.clauses import split_goals, split_steps
from ..language.vocabulary import Vocabulary
from ..robot.model import AgentKind, RobotModel
from .plan import Proposal, ProposedStep

LEADING_RE = re.compile(r"^(?:(?:please|first|now|also|could you|can you|would you)\s+)+")
MAX_STEPS = 8


class RulePlanner:
    """Plans agent-language instructions by pattern alone (microseconds, no model)."""

    name = "rules"

    def __init__(self, robot: RobotModel) -> None:
        self.robot = robot
        self._mentions = Vocabulary(robot).name_phrases()  # exact names and aliases only
        self._grippers = [a.name for a in robot.agents if a.kind is AgentKind.GRIPPER]

    def propose(self, instruction: str) -> Iterator[ProposedStep]:
        """Yield the steps of `instruction`; PlanError if any part is not agent language."""
        steps = [self.parse_step(text) for text in self._split_steps(instruction)]
        if not steps:
            raise PlanError("the instruction holds no goal")
        if len(steps) > MAX_STEPS:
            raise PlanError(f"at most {MAX_STEPS} steps per instruction, got {len(steps)}")
        yield from steps

    def _split_steps(self, instruction: str) -> list[str]:
        parts = (LEADING_RE.sub("", part) for part in split_steps(instruction.replace("_", " ")))
        # A sentence of nothing but courtesy ('elbow to 5. Please!') holds no goal of its own.
        return [part for part in parts if set(normalize(part).split()) - COURTESY_WORDS]

    def parse_step(self, text: str) -> ProposedStep:
        """One step: goals separated by commas or 'and'; PlanError if any is not understood."""
        proposals: list[Proposal] = []
        waiting: list[str] = []  # agents named without a goal: 'elbow and wrist 1 to 30 deg'
        for clause in split_goals(text):
            agents, rest = self._agents_in(clause)
            if agents and _is_empty(rest):
                waiting.extend(agents)
                continue
            if len(agents) > 1:  # 'lift the forearm': one clause, two readings; let a model judge
                raise PlanError(f"{clause!r} names several agents ({', '.join(agents)})")
            if not agents:
                agents = self._implied_agents(rest)
            for agent in [*waiting, *agents]:
                proposals.append(Proposal(agent, rest, self._parsed(agent, rest)))
            waiting = []
        if waiting:
            raise PlanError(f"no goal given for {', '.join(waiting)}")
        return tuple(proposals)

    def _agents_in(self, clause: str) -> tuple[list[str], str]:
        text = f" {normalize(clause)} "
        found: list[str] = []
        for phrase, agent in self._mentions:
            pattern = f" {phrase} "
            while pattern in text:
                text = text.replace(pattern, " ", 1)
                if agent not in found:
                    found.append(agent)
        return found, " ".join(text.split())

    def _implied_agents(self, rest: str) -> list[str]:
        words = set(rest.split())
        poses = words & set(self.robot.poses)
        if len(poses) == 1:
            pose = self.robot.pose(poses.pop())
            return [a.name for a in self.robot.agents if a.joint.name in pose]
        if words & (OPEN_WORDS | CLOSE_WORDS) and len(self._grippers) == 1:
            return list(self._grippers)
        raise PlanError(f"cannot tell which agent {rest!r} is for")

    def _parsed(self, agent: str, text: str) -> Subgoal:
        try:
            return parse_subgoal(text, self.robot.agent(agent), self.robot.poses)
        except SubgoalError as error:
            raise PlanError(f"{agent}: {error}") from error


def _is_empty(rest: str) -> bool:
    return all(word in FILLER_WORDS or word in STYLE_WORDS for word in rest.split())
