"""What an instruction can refer to: the robot's agents and poses, by the words in config.

Two uses, one vocabulary:
  * the rule planner finds the agent a clause names (exact names and aliases only: it must
    never guess);
  * the language-model planner may only address what the instruction refers to, the way it
    may only write numbers the instruction states: names, aliases and `words` of agents, names
    and `pose_aliases` of poses, and open/close words for grippers, each also matched with one
    typo ('elbwo', 'hnad'). An instruction that refers to nothing of this robot ('levitate the
    tentacle') leaves the model nothing to plan but 'none'.
"""

from __future__ import annotations

from dataclasses import dataclass

from .language import CLOSE_WORDS, OPEN_WORDS, normalize
from .robot import RobotModel

FUZZY_MIN_LENGTH = 4  # shorter words are matched exactly: one edit turns 'arm' into 'art'


@dataclass(frozen=True)
class Referred:
    """Agents and poses an instruction refers to."""

    agents: frozenset[str]
    poses: frozenset[str]

    @property
    def nothing(self) -> bool:
        return not self.agents and not self.poses


def _phrases(*groups: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(normalize(p) for group in groups for p in group if p.strip()))


def within_one_edit(a: str, b: str) -> bool:
    """True when `a` becomes `b` by at most one insertion, deletion, substitution or swap of
    neighbours (Damerau-Levenshtein distance <= 1)."""
    if a == b:
        return True
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) > len(b):
        a, b = b, a
    start = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), len(a))
    if len(a) < len(b):
        return a[start:] == b[start + 1 :]
    swapped = start + 1 < len(a) and a[start] == b[start + 1] and a[start + 1] == b[start]
    return a[start + 1 :] == b[start + 1 :] or (swapped and a[start + 2 :] == b[start + 2 :])


class Vocabulary:
    """The robot's referring words, built once from its model (config/robot.yaml)."""

    def __init__(self, robot: RobotModel) -> None:
        self.robot = robot
        self.names = {
            agent.name: _phrases((agent.name, agent.name.replace("_", " ")), agent.aliases)
            for agent in robot.agents
        }
        self.words = {
            agent.name: _phrases(
                agent.words, tuple(OPEN_WORDS | CLOSE_WORDS) if agent.kind == "gripper" else ()
            )
            for agent in robot.agents
        }
        self.pose_words = {
            pose: _phrases((pose,), robot.pose_aliases.get(pose, ())) for pose in robot.poses
        }

    def name_phrases(self) -> list[tuple[str, str]]:
        """(phrase, agent) for exact naming, longest phrase first ('wrist 1' before 'wrist')."""
        pairs = [(phrase, agent) for agent, phrases in self.names.items() for phrase in phrases]
        return sorted(pairs, key=lambda pair: -len(pair[0]))

    def referred(self, instruction: str) -> Referred:
        """The agents and poses `instruction` refers to (exactly, or with one typo a word)."""
        text = normalize(instruction)
        words = text.split()
        agents = {
            agent
            for agent in self.robot.agent_names
            if _mentions(text, words, self.names[agent], fuzzy=True)
            or _mentions(text, words, self.words[agent], fuzzy=False)
        }
        poses = {
            pose
            for pose, phrases in self.pose_words.items()
            if _mentions(text, words, phrases, fuzzy=True)
        }
        return Referred(frozenset(agents), frozenset(poses))


def _mentions(text: str, words: list[str], phrases: tuple[str, ...], fuzzy: bool) -> bool:
    """Whether `text` holds one of `phrases`; with `fuzzy`, one-word names also match a word one
    typo away (names only: verbs and directions are short and common, 'left' is one edit from
    'lift')."""
    padded = f" {text} "
    for phrase in phrases:
        if f" {phrase} " in padded:
            return True
        if (
            fuzzy
            and " " not in phrase
            and len(phrase) >= FUZZY_MIN_LENGTH
            and any(len(w) >= FUZZY_MIN_LENGTH and within_one_edit(w, phrase) for w in words)
        ):
            return True
    return False
