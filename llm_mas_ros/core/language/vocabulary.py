"""What an instruction can refer to: the robot's agents and poses, by the words in config.

Two uses, one vocabulary:
  * the rule planner finds the agent a clause names (exact names and aliases only: it must
    never guess);
  * the language-model planner may only address what the instruction refers to, the way it
    may only write numbers the instruction states: names, aliases and `words` of agents, names
    and `pose_aliases` of poses, and open/close words for grippers, each also matched with one
    typo ('elbwo', 'hnad'). An instruction that refers to nothing of this robot ('levitate the
    tentacle') leaves the model nothing to plan but 'none'.

The same words, with the `directions` of config/robot.yaml, tell which way an instruction moves
each agent (`Vocabulary.polarity`): the planner's direction-copy constraint.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from ..robot.model import AgentKind, RobotModel
from .agent_language import (
    AGENT_LANGUAGE_WORDS,
    CLOSE_WORDS,
    FILLER_WORDS,
    OPEN_WORDS,
    WAVE_WORDS,
    normalize,
)
from .english import english_words
from .quantities import AMOUNT_WORDS

T = TypeVar("T")

ARTICLES = frozenset({"the", "a", "an", "my", "your", "our", "this", "that", "some", "those"})
# Words between a verb and the thing it takes that say nothing of what the thing is:
# 'raise all joint limits' takes 'limits' (of a joint), 'grab me a glass' a glass.
BEFORE_A_THING = ARTICLES | {
    "all",
    "every",
    "each",
    "both",
    "its",
    "their",
    "me",
    "us",
    "joint",
    "joints",
}
OBJECT_PRONOUNS = frozenset({"it", "me", "us", "them", "him", "her"})
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
                agent.words,
                tuple(OPEN_WORDS | CLOSE_WORDS) if agent.kind is AgentKind.GRIPPER else (),
            )
            for agent in robot.agents
        }
        self.directions = {  # agent -> direction phrase -> +1, -1 or 0 (neutral), longest first
            agent.name: _longest_first(
                {normalize(p): sign for p, sign in agent.directions.signs().items()}
            )
            for agent in robot.agents
        }
        pointing = {p for signs in self.directions.values() for p, sign in signs.items() if sign}
        self._name_owners = _owners(self.names)
        # Referring words that say no direction ('arm', 'tilt'; not 'lift'): they find a
        # clause's agent, while a direction word alone belongs to whatever the clause is about.
        self._pointer_owners = _owners(
            {agent: tuple(p for p in ps if p not in pointing) for agent, ps in self.words.items()}
        )
        self._word_owners = _owners(self.words)
        self.zero_words = {agent.name: _phrases(agent.directions.zero) for agent in robot.agents}
        self.pose_words = {
            pose: _phrases((pose,), robot.pose_aliases.get(pose, ())) for pose in robot.poses
        }
        phrase_lists = [*self.names.values(), *self.words.values(), *self.pose_words.values()]
        phrase_lists += [tuple(signs) for signs in self.directions.values()]
        self._known = (
            AGENT_LANGUAGE_WORDS
            | AMOUNT_WORDS
            | {word for phrases in phrase_lists for phrase in phrases for word in phrase.split()}
        )

    def name_phrases(self) -> list[tuple[str, str]]:
        """(phrase, agent) for exact naming, longest phrase first ('wrist 1' before 'wrist')."""
        pairs = [(phrase, agent) for agent, phrases in self.names.items() for phrase in phrases]
        return sorted(pairs, key=lambda pair: -len(pair[0]))

    def referred(self, instruction: str) -> Referred:
        """The agents and poses `instruction` refers to (exactly, or with one typo a word)."""
        text = normalize(instruction)
        words = text.split()
        # Names longest first: 'wrist roll' is wrist_3, not also the wrist_1 alias 'wrist'.
        named = occurrences(words, self._name_owners)
        agents = {
            agent
            for index, phrase in named
            if not _used_as_a_verb(words, index, phrase)
            for agent in self._name_owners[phrase]
        }
        taken = {i for index, phrase in named for i in range(index, index + len(phrase.split()))}
        rest = [word for index, word in enumerate(words) if index not in taken]
        rest_text = " ".join(rest)
        agents |= {
            agent
            for agent in self.robot.agent_names
            if _mentions(rest_text, rest, self.names[agent], fuzzy=True)
            or self._said_of_the_robot(words, self.words[agent])
        }
        poses = {
            pose
            for pose, phrases in self.pose_words.items()
            if self._said_of_the_robot(words, phrases)
            or any(_typo_of(word, phrase) for word in words for phrase in phrases)
        }
        return Referred(frozenset(agents), frozenset(poses))

    def _said_of_the_robot(self, words: list[str], phrases: tuple[str, ...]) -> bool:
        """Whether one of `phrases` occurs in `words` other than as a verb on a thing this
        robot does not know: 'fold the laundry' is no stow, 'open the door' no gripper, 'raise
        all joint limits' no shoulder, while 'fold the arm', 'open your hand', 'fold up' and
        'raise it' are. A wave takes a greeting: 'wave hello' is a wave."""
        for index, phrase in occurrences(words, _longest_first(dict.fromkeys(phrases))):
            after = index + len(phrase.split())
            while after < len(words) and words[after] in BEFORE_A_THING:
                after += 1
            thing = words[after] if after < len(words) else ""
            unknown = thing in english_words() and thing not in self._known
            if phrase in WAVE_WORDS or not unknown:
                return True
        return False

    def clause_owners(self, clauses: Sequence[str]) -> list[list[str]]:
        """The agents each clause is about: those it mentions ('wrist roll', 'elbwo', 'the
        arm'), else the one its words point at ('turn left'), else those of the clause before
        ('then a further 20 degrees'). A clause that names agents and states nothing of its
        own ('elbow and wrist 1 to 30 deg') shares the next clause's words: both are about
        the same goal."""
        owners: list[list[str]] = []
        before: list[str] = []
        for clause in clauses:
            text = normalize(clause)
            agents = list(self.mentioned(text)) or self.pointed(text) or before
            owners.append(agents)
            before = agents
        for index in range(len(owners) - 2, -1, -1):
            if _is_agents_only(clauses[index], self):
                owners[index + 1] = [*owners[index], *owners[index + 1]]
        return owners

    def without_names(self, text: str) -> str:
        """`text` normalised, with every agent name taken out ('wrist 1' holds no number)."""
        padded = f" {normalize(text)} "
        for phrase, _ in self.name_phrases():  # longest first
            while f" {phrase} " in padded:
                padded = padded.replace(f" {phrase} ", " ")
        return " ".join(padded.split())

    def pointed(self, clause: str) -> list[str]:
        """The one agent a clause that names none points at with its referring words: words
        that say no direction first ('lift the arm': shoulder_lift), then direction words only
        one agent has ('turn left': the base); [] when they point at several or at none."""
        words = normalize(clause).split()
        for owners in (self._pointer_owners, self._word_owners):
            agents = {
                a
                for _, phrase in occurrences(words, owners)
                if self._said_of_the_robot(words, (phrase,))
                for a in owners[phrase]
            }
            if agents:
                return sorted(agents) if len(agents) == 1 else []
        return []

    def zeroed(self, instruction: str) -> set[str]:
        """Agents whose zero the instruction names ('make the forearm straight')."""
        text = normalize(instruction)
        words = text.split()
        return {
            a for a, phrases in self.zero_words.items() if _mentions(text, words, phrases, False)
        }

    def polarity(self, clauses: Iterable[str]) -> dict[str, int]:
        """+1 or -1 for each agent that the direction words of an instruction's clauses move
        one way only ('swing the base clockwise' -> shoulder_pan: -1); an agent moved both ways
        ('left 30, then right 30') or by no direction word is absent.

        A direction word belongs to the agent of its clause it is a direction of; to the one
        mentioned nearest to it if several are ('lower the shoulder as you raise the wrist').
        A clause that mentions no agent ('then right by 70 degrees', 'lower it') is about the
        agents of the clause before it. A word no agent of its clause moves by belongs to the one
        agent it is a referring word of, if there is exactly one ('turn left': the base)."""
        signs: dict[str, set[int]] = {}
        agents: dict[str, int | None] = {}  # the clause's agents -> where it mentions them
        for clause in clauses:
            text = normalize(clause)
            agents = self.mentioned(text) or dict.fromkeys(agents)
            for agent, sign in self._clause_signs(text, agents):
                signs.setdefault(agent, set()).add(sign)
        return {agent: next(iter(s)) for agent, s in signs.items() if len(s) == 1}

    def mentioned(self, text: str) -> dict[str, int | None]:
        """Agents a clause mentions, at the word index of their first mention: by exact name,
        longest first ('wrist roll' is not also 'wrist'), else by a name with one typo; and by
        referring words that say no direction."""
        words = text.split()
        found = [
            (index, agent)
            for index, phrase in occurrences(words, self._name_owners)
            for agent in self._name_owners[phrase]
        ]
        if not found:
            found = [
                (index, agent)
                for index, word in enumerate(words)
                for agent, phrases in self.names.items()
                if any(_typo_of(word, phrase) for phrase in phrases)
            ]
        found += [
            (index, agent)
            for index, phrase in occurrences(words, self._pointer_owners)
            for agent in self._pointer_owners[phrase]
        ]
        mentioned: dict[str, int | None] = {}
        for index, agent in sorted(found):
            mentioned.setdefault(agent, index)
        return mentioned

    def _clause_signs(
        self, text: str, agents: Mapping[str, int | None]
    ) -> Iterable[tuple[str, int]]:
        """(agent, sign) of each direction word of one clause about `agents`. Words of a name
        are not direction words ('shoulder lift' lifts nothing)."""
        words = text.split()
        for index, phrase in occurrences(words, self._name_owners):
            words[index : index + len(phrase.split())] = [""] * len(phrase.split())
        found = {  # agent -> word index -> its direction phrase there (neutral ones too)
            agent: dict(occurrences(words, phrases)) for agent, phrases in self.directions.items()
        }
        for agent, phrases in found.items():
            for index, phrase in phrases.items():
                sign = self.directions[agent][phrase]
                understood = [a for a in agents if index in found[a]]
                if understood:
                    mine = agent in _nearest(understood, agents, index)
                else:
                    mine = self._word_owners.get(phrase) == (agent,)
                if mine and sign:
                    yield agent, sign


def _used_as_a_verb(words: list[str], index: int, phrase: str) -> bool:
    """A one-word name before an object pronoun is a verb: 'hand it to me', 'hand me that'."""
    after = index + len(phrase.split())
    return " " not in phrase and after < len(words) and words[after] in OBJECT_PRONOUNS


def _is_agents_only(clause: str, vocabulary: Vocabulary) -> bool:
    """A clause of agent names and filler only: 'move the elbow' in 'move the elbow and wrist 1
    to 30 deg together'."""
    return not set(vocabulary.without_names(clause).split()) - FILLER_WORDS


def _grip_words(kind: AgentKind) -> tuple[str, ...]:
    """Open/close words refer to a gripper: 'open' names the hand it opens."""
    return tuple(OPEN_WORDS | CLOSE_WORDS) if kind is AgentKind.GRIPPER else ()


def _longest_first(by_phrase: Mapping[str, T]) -> dict[str, T]:
    """The mapping with its phrases in the order `_occurrences` must try them."""
    ordered = sorted(by_phrase, key=lambda p: (-len(p.split()), -len(p), p))
    return {phrase: by_phrase[phrase] for phrase in ordered}


def _owners(phrases: Mapping[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    """phrase -> the agents it refers to, longest phrase first."""
    owners: dict[str, tuple[str, ...]] = {}
    for agent, agent_phrases in phrases.items():
        for phrase in agent_phrases:
            owners[phrase] = (*owners.get(phrase, ()), agent)
    return _longest_first(owners)


def occurrences(words: list[str], phrases: Iterable[str]) -> list[tuple[int, str]]:
    """(word index, phrase) of each phrase in `words`, in text order. Phrases are tried in the
    order given (longest first) and a word is part of at most one occurrence: 'counter
    clockwise' is not also 'clockwise', 'right now' is not 'right'."""
    free = [True] * len(words)
    found = []
    for phrase in phrases:
        target = phrase.split()
        size = len(target)
        for start in range(len(words) - size + 1):
            if words[start : start + size] == target and all(free[start : start + size]):
                free[start : start + size] = [False] * size
                found.append((start, phrase))
    return sorted(found)


def _nearest(agents: list[str], where: Mapping[str, int | None], index: int) -> list[str]:
    """The agents mentioned nearest to word `index`; all of them when none is mentioned in the
    clause itself (they are the previous clause's)."""
    distance = {a: abs(index - position) for a in agents if (position := where[a]) is not None}
    if not distance:
        return agents
    best = min(distance.values())
    return [a for a in agents if distance.get(a) == best]


def _typo_of(word: str, phrase: str) -> bool:
    """`word` is one-word `phrase` with one typo; short words never are ('left' is one edit
    from 'lift'), nor words of the agent language ('hold' is one edit from 'fold'), nor words of
    English ('pick up the cup' is not the stow alias 'pack')."""
    return (
        word not in AGENT_LANGUAGE_WORDS
        and word not in english_words()
        and " " not in phrase
        and len(phrase) >= FUZZY_MIN_LENGTH
        and len(word) >= FUZZY_MIN_LENGTH
        and within_one_edit(word, phrase)
    )


def _mentions(text: str, words: list[str], phrases: tuple[str, ...], fuzzy: bool) -> bool:
    """Whether `text` holds one of `phrases`; with `fuzzy`, one-word names also match a word one
    typo away (names only: verbs and directions are short and common, 'left' is one edit from
    'lift')."""
    padded = f" {text} "
    for phrase in phrases:
        if f" {phrase} " in padded:
            return True
        if fuzzy and any(_typo_of(w, phrase) for w in words):
            return True
    return False
