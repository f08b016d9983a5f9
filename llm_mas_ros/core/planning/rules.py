"""The LLM-free planner: the agent language and its everyday phrasings, addressed to agents.

  "elbow to 45 degrees; open the gripper"          -> two steps
  "shoulder_pan to -30 degrees and open the gripper" -> one step, two goals run together
  "go to ready, then close the gripper"            -> pose step (every joint of the pose), then one
  "turn the base 20 degrees to the left"           -> shoulder_pan by +20 deg (core.everyday)
  "elbow to 45 deg, wait 2 s, then move it back"   -> elbow 45; a 2 s wait; elbow back

Steps are separated by ';', 'then', 'after that', 'next', 'finally' or a full stop; goals within
a step by ',', 'and', 'while', 'at the same time'; 'wait N s' is a step of its own, holding the
agents of the step before it (or after it, when it comes first). A goal's agent is the one it
names (name, name with spaces, or an alias from config); else the pose it names (every joint of
the pose) or open/close (the robot's only gripper); else the one agent its referring words
point at ('lift the arm', 'turn left'); else, for 'it' or a clause that names nothing ('then a
further 20 degrees'), the agents of the clause before. Anything else is a PlanError, and the
planner hands the instruction to its language model instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from ..errors import PlanError, Refused, SubgoalError
from ..language.agent_language import (
    CLOSE_WORDS,
    COURTESY_WORDS,
    DURATION_RE,
    FILLER_WORDS,
    MAX_DURATION_S,
    OPEN_WORDS,
    STYLE_WORDS,
    Skill,
    Subgoal,
    normalize,
    parse_subgoal,
)
from ..language.clauses import split_goals, split_steps
from ..language.everyday import Ambiguous, read_goal
from ..language.quantities import NUMBER_PATTERN
from ..language.vocabulary import Vocabulary
from ..robot.model import AgentKind, RobotModel
from .plan import Proposal, ProposedStep

LEADING_RE = re.compile(r"^(?:(?:please|first|now|also|could you|can you|would you)\s+)+")
MAX_STEPS = 8
WAIT_RE = re.compile(
    rf"^(?:(?:and|then|now|please)\s+)*(?:wait|pause|sleep|hold on|hold still|stay still|stay)"
    rf"\s+(?:for\s+)?(?P<seconds>{NUMBER_PATTERN})\s*(?:seconds|second|secs|sec|s)"
    r"(?:\s+(?:please|then))*$"
)
# 'over 3 seconds, rotate the tool to 90 degrees': a duration said first belongs to the goal.
LEADING_DURATION_RE = re.compile(
    rf"^(?P<duration>(?:in|over|within|taking)\s+{NUMBER_PATTERN}\s*"
    r"(?:seconds|second|secs|sec|s))\s*,\s*(?P<rest>.+)$"
)
PRONOUNS = frozenset({"it", "its", "them", "they", "that", "this", "same"})


@dataclass(frozen=True)
class Wait:
    """A step that only waits: its agents are the neighbouring step's."""

    seconds: float


class RulePlanner:
    """Plans agent-language instructions by pattern alone (microseconds, no model)."""

    name = "rules"

    def __init__(self, robot: RobotModel) -> None:
        self.robot = robot
        self.vocabulary = Vocabulary(robot)
        self._mentions = self.vocabulary.name_phrases()  # exact names and aliases only
        self._grippers = [a.name for a in robot.agents if a.kind is AgentKind.GRIPPER]

    def propose(self, instruction: str) -> Iterator[ProposedStep]:
        """Yield the steps of `instruction`; PlanError if any part is not understood."""
        parts: list[ProposedStep | Wait] = []
        context: list[str] = []  # the agents of the clause before: 'then move it back'
        for text in self._split_steps(instruction):
            parts.extend(self._parts(_duration_last(text), context))
        steps = _filled_waits(parts)
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
        """One step of goals (a model's output); PlanError if it is not one step."""
        parts = self._parts(text, [])
        if len(parts) != 1 or isinstance(parts[0], Wait):
            raise PlanError(f"{text!r} is not one step of goals")
        return parts[0]

    def _parts(self, text: str, context: list[str]) -> list[ProposedStep | Wait]:
        """One step, goals separated by commas or 'and' (a wait splits it in two); PlanError
        if any goal is not understood. `context` holds the agents of the clause before, and
        is updated to this step's last clause."""
        parts: list[ProposedStep | Wait] = []
        proposals: list[Proposal] = []
        waiting: list[str] = []  # agents named without a goal: 'elbow and wrist 1 to 30 deg'
        for clause in _modifiers_merged(split_goals(text)):
            if wait := WAIT_RE.match(normalize(clause)):
                parts += [tuple(proposals)] if proposals else []
                parts.append(Wait(_seconds(wait.group("seconds"))))
                proposals = []
                continue
            agents, rest = self._agents_in(clause)
            if agents and _is_empty(rest):
                waiting.extend(agents)
                continue
            if len(agents) > 1:  # 'lift the forearm': one clause, two readings; let a model judge
                raise PlanError(f"{clause!r} names several agents ({', '.join(agents)})")
            if not agents:
                agents = self._implied_agents(rest, context)
            for agent in [*waiting, *agents]:
                if any(p.agent == agent for p in proposals):
                    raise PlanError(f"{agent} has two goals in one step")
                proposals.append(self._proposal(agent, rest))
            context[:] = [*waiting, *agents]
            waiting = []
        if waiting:
            raise PlanError(f"no goal given for {', '.join(waiting)}")
        return [*parts, tuple(proposals)] if proposals else parts

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

    def _implied_agents(self, rest: str, context: list[str]) -> list[str]:
        words = set(rest.split())
        if words & (OPEN_WORDS | CLOSE_WORDS) and len(self._grippers) == 1:
            return list(self._grippers)  # 'go home, then open it': 'it' is the hand
        if context and words & PRONOUNS:
            return list(context)
        poses = self.vocabulary.referred(rest).poses
        if len(poses) == 1:  # 'take the arm to ready': the whole arm, not the 'arm' joint
            pose = self.robot.pose(next(iter(poses)))
            return [a.name for a in self.robot.agents if a.joint.name in pose]
        if pointed := self.vocabulary.pointed(rest):
            return pointed
        if context:
            return list(context)
        raise PlanError(f"cannot tell which agent {rest!r} is for")

    def _proposal(self, agent: str, text: str) -> Proposal:
        model = self.robot.agent(agent)
        try:
            reading = read_goal(text, model, self.vocabulary, self.robot.control)
            goal = parse_subgoal(reading.goal, model, self.robot.poses)
        except Ambiguous as error:
            raise Refused(f"{agent}: {error}. Nothing was moved") from error
        except SubgoalError as error:
            raise PlanError(f"{agent}: {error}") from error
        return Proposal(agent, reading.goal, goal, reading.note)


def _modifiers_merged(clauses: list[str]) -> list[str]:
    """A clause of only style, timing or courtesy words ('wave once, slowly', 'thanks')
    belongs to the clause before it (or after it, when it comes first)."""
    merged: list[str] = []
    pending = ""
    for clause in clauses:
        text = DURATION_RE.sub(" ", normalize(clause))
        if _is_empty(text) and not WAIT_RE.match(normalize(clause)):
            if merged:
                merged[-1] = f"{merged[-1]} {clause}"
            else:
                pending = f"{pending} {clause}"
            continue
        merged.append(f"{clause} {pending}".strip())
        pending = ""
    return merged if merged or not pending else [pending.strip()]


def _duration_last(text: str) -> str:
    match = LEADING_DURATION_RE.match(text)
    return f"{match.group('rest')} {match.group('duration')}" if match else text


def _seconds(text: str) -> float:
    seconds = float(text)
    if not 0.0 < seconds <= MAX_DURATION_S:
        raise PlanError(f"a wait must be in (0, {MAX_DURATION_S:g}] s, got {seconds:g} s")
    return seconds


def _filled_waits(parts: list[ProposedStep | Wait]) -> list[ProposedStep]:
    """Each wait as a step that holds, for its seconds, the agents of the step before it (or
    after it, when it comes first): a wait addresses only agents the instruction moves."""
    steps: list[ProposedStep] = []
    for index, part in enumerate(parts):
        if not isinstance(part, Wait):
            steps.append(part)
            continue
        neighbours = [
            p for p in (*parts[:index][::-1], *parts[index + 1 :]) if not isinstance(p, Wait)
        ]
        if not neighbours:
            raise PlanError("a wait needs a motion before or after it")
        hold = Subgoal(Skill.HOLD, duration_s=part.seconds)
        goal = f"hold for {part.seconds:g} s"
        steps.append(tuple(Proposal(p.agent, goal, hold) for p in neighbours[0]))
    return steps


def _is_empty(rest: str) -> bool:
    return all(word in FILLER_WORDS or word in STYLE_WORDS for word in rest.split())
