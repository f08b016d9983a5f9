"""Questions answered, and requests refused, in words a person reads: nothing moves for either.

  'where is the elbow?'         -> 'elbow is at 45 deg (0.7854 rad)'   (from the live positions)
  'what poses do you know?'     -> 'poses: home, ready, stow (...)'
  'which joints do you have?'   -> each agent, its joint and limits
  'what can you do?'            -> the skills, agents and poses
  'pick up the cup'             -> PlanError: it asks for nothing this robot can do; what it can

A question is a sentence that asks (a question mark, or an opening 'what', 'where', 'which',
'how', 'is', 'tell me', ...) and is not a request put as one ('can you open the gripper?').
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

from ..errors import PlanError
from ..language.agent_language import normalize, quantity_text
from ..language.vocabulary import Vocabulary
from ..robot.model import AgentKind, RobotModel

_QUOTE_CHARS = 80
# Openings that ask; 'do' and 'show me' only as in 'do you know', 'show me where': 'do a wave'
# and 'show me a wave' are requests.
_ASKING_RE = re.compile(
    r"^(?:what|whats|where|wheres|which|how|who|when|why|is|are|does|tell me|list|describe|"
    r"report|(?:do|can|could) you (?:know|have|see|tell|remember)|"
    r"show me (?:where|what|which|how|the position|the positions|your))\b"
)
_REQUEST_RE = re.compile(r"^(?:please\s+)?(?:can|could|would|will) you\b(?! (?:tell|show|list))")
_REQUEST_WORDS = frozenset({"could", "can", "would", "will", "please", "kindly"})
_TOPICS = {  # topic -> words that ask about it, in the order they are tried
    "limits": {"limit", "limits", "range", "maximum", "minimum", "max", "min", "can far"},
    "poses": {"pose", "poses", "postures", "posture", "named"},
    "skills": {"skills", "skill", "commands", "command", "help", "able", "understand", "you do"},
    "agents": {"joints", "agents", "agent", "many", "have"},
    "positions": {"where", "position", "positions", "angle", "angles", "state", "open", "closed"},
}
_WHOLE_ROBOT = {"arm", "robot", "you", "joints", "everything", "all"}


def quoted(text: str) -> str:
    return repr(text if len(text) <= _QUOTE_CHARS else text[:_QUOTE_CHARS] + "...")


def capabilities(robot: RobotModel) -> str:
    """What the robot can do, in one sentence."""
    grippers = [a.name for a in robot.agents if a.kind is AgentKind.GRIPPER]
    joints = [a.name for a in robot.agents if a.kind is not AgentKind.GRIPPER]
    can = [f"move a joint ({', '.join(joints)}) to or by an angle"]
    can += [f"open or close the {', '.join(grippers)}"] if grippers else []
    can += [f"go to a pose ({', '.join(robot.poses)})"] if robot.poses else []
    can += ["wave", "hold", "wait", "go back", "say where each joint is"]
    return "it can " + ", ".join(can[:-1]) + " and " + can[-1]


def nothing_to_do(robot: RobotModel, instruction: str, names_nothing: bool = False) -> PlanError:
    """The error for an instruction that asks for nothing this robot can do (`names_nothing`:
    it does not even name an agent or pose of it)."""
    why = "names no agent or pose of this robot, so it " if names_nothing else ""
    return PlanError(
        f"{quoted(instruction)} {why}asks for nothing this robot can do; {capabilities(robot)}. "
        "Nothing was moved"
    )


def is_question(instruction: str) -> bool:
    text = normalize(instruction)
    if _REQUEST_RE.match(text):
        return False
    if _ASKING_RE.match(text):
        return True
    # 'could the wrist roll go to 15 degrees?' asks for a motion, politely
    return instruction.rstrip().endswith("?") and not set(text.split()) & _REQUEST_WORDS


class Answerer:
    """Answers questions about one robot from its model and the positions it is given."""

    def __init__(self, robot: RobotModel, vocabulary: Vocabulary | None = None) -> None:
        self.robot = robot
        self.vocabulary = vocabulary or Vocabulary(robot)

    def answer(self, question: str, positions: Mapping[str, float]) -> str:
        """The answer; PlanError naming what can be asked when it is none of that."""
        text = normalize(question)
        words = set(text.split())
        words |= {f"{a} {b}" for a, b in zip(text.split(), text.split()[1:], strict=False)}
        if "far" in words and words & {"can", "could"}:
            words.add("can far")  # 'how far can it move': its limits; 'how far has it': where
        agents = self._named(text)
        for topic, asking in _TOPICS.items():
            if words & asking and (topic != "agents" or not agents):
                return self._answers(topic, agents or self._everyone(words, topic), positions)
        if agents:
            return self._answers("positions", agents, positions)
        raise PlanError(
            f"cannot answer {quoted(question)}: ask where a joint is, its limits, which joints "
            "or poses there are, or what the robot can do. Nothing was moved"
        )

    def _named(self, text: str) -> list[str]:
        """Agents a question names (a direction word is no name: 'right now' is not the base)."""
        padded = f" {text} "
        return [
            agent
            for agent in self.robot.agent_names
            if any(f" {phrase} " in padded for phrase in self.vocabulary.names[agent])
            or (
                agent in self.vocabulary.referred(text).agents
                and not any(word in self.vocabulary.directions[agent] for word in text.split())
            )
        ]

    def _everyone(self, words: set[str], topic: str) -> list[str]:
        if topic == "positions" and not words & _WHOLE_ROBOT:
            return []
        return list(self.robot.agent_names)

    def _answers(self, topic: str, agents: list[str], positions: Mapping[str, float]) -> str:
        if topic == "poses":
            return self._poses()
        if topic == "skills":
            return capabilities(self.robot).capitalize()
        if topic == "agents":
            return "agents: " + "; ".join(self._limits(a) for a in self.robot.agent_names)
        if topic == "limits":
            return "; ".join(self._limits(agent) for agent in agents)
        if not agents:
            raise PlanError("which joint? ask e.g. 'where is the elbow?'. Nothing was moved")
        return "; ".join(self._position(agent, positions) for agent in agents)

    def _poses(self) -> str:
        def aliases(pose: str) -> str:
            names = self.robot.pose_aliases.get(pose, ())
            return f" (also {', '.join(names)})" if names else ""

        return "poses: " + "; ".join(f"{pose}{aliases(pose)}" for pose in self.robot.poses)

    def _limits(self, name: str) -> str:
        agent = self.robot.agent(name)
        joint = agent.joint
        low, high = quantity_text(joint.lower, agent), quantity_text(joint.upper, agent)
        return f"{name} ({joint.name}) moves from {low} to {high}"

    def _position(self, name: str, positions: Mapping[str, float]) -> str:
        agent = self.robot.agent(name)
        where = positions.get(name, math.nan)
        if not math.isfinite(where):
            return f"{name}: position not known (no /joint_states heard)"
        text = f"{name} is at {quantity_text(where, agent)}"
        if agent.kind is AgentKind.GRIPPER:
            span = agent.joint.upper - agent.joint.lower
            share = (where - agent.joint.lower) / span if span > 0 else 0.0
            state = "closed" if share < 0.02 else "open" if share > 0.98 else "partly open"
            return f"{text} ({state}, {share:.0%} of its range)"
        return f"{text} ({where:.4f} rad)"
