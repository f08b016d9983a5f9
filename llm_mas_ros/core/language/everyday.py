"""Everyday phrasings of one agent's goal, read into the agent language.

The rule planner hands each clause here with the agent it is about (the words naming the agent
taken out); what comes back is agent-language text and, when an amount was assumed, a note:

    'turn 20 degrees to the left'  (shoulder_pan)   -> 'move by 20 deg'
    'right by 90 deg'              (shoulder_pan)   -> 'move by -90 deg'
    'raise to 30 degrees'          (shoulder_lift)  -> 'move to -30 deg'
    'a bit down'                   (elbow)          -> 'move by 10 deg'   + note: 'a bit' = 10 deg
    'another 25 degrees'           (elbow)          -> 'move by 25 deg'
    'straighten'                   (elbow)          -> 'move to 0 deg'
    'grab'                         (gripper)        -> 'close'
    'stop at 30 degrees'           (elbow)          -> 'move to 30 deg'

Which way a word moves an agent is data: `directions` in config/robot.yaml (REP 103 signs). A
number after 'to' or 'at' is where to go (an unsigned one takes the direction's sign: 'raise the
shoulder to 30 deg' is -30); any other number with a direction, or with 'more' / 'another', is how
far. A move of vague size ('a bit', 'slightly', or a direction alone: 'lift the arm') is the
configured small step (`revolute_small_step`, `prismatic_small_step`), stated in the plan's
notes; a vague move with no direction ('move the elbow a bit') is an error: which way? Whatever
is left must be agent language: `parse_subgoal` reads it, so an unknown word is still an error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import SubgoalError
from ..robot.model import Agent, AgentKind, ControlSettings
from .agent_language import (
    AGENT_LANGUAGE_WORDS,
    RETURN_WORDS,
    STOP_WORDS,
    WAVE_WORDS,
    normalize,
    quantity_text,
)
from .quantities import Quantity, find_quantities, format_number
from .vocabulary import Vocabulary, occurrences

VAGUE_PHRASES = (
    "a little bit",
    "a tiny bit",
    "a little",
    "a bit",
    "a tad",
    "a touch",
    "a smidge",
    "slightly",
    "somewhat",
)  # longest first: 'a little bit' is not 'a little' and 'bit'

RELATIVE_WORDS = frozenset({"more", "another", "further", "additional", "extra"})
# What may follow 'back' or 'return' and only restates it.
RETURN_PHRASES = (
    "to where it was",
    "where it was",
    "to where it started",
    "where it started",
    "to its original position",
    "to the original position",
    "to its previous position",
    "to the previous position",
    "again",
)
ABSOLUTE_WORDS = frozenset({"to", "at", "towards", "toward"})
# Words around a direction that add nothing to it: 'to the left side', 'towards its right'.
BEFORE_DIRECTION = frozenset({"to", "towards", "toward", "the", "its", "your", "more"})
AFTER_DIRECTION = frozenset({"side", "direction", "hand"})


class Ambiguous(SubgoalError):
    """A goal understood, but not enough to move: which way? (never guessed by a model)."""


@dataclass(frozen=True)
class Reading:
    """An agent-language goal, and what was assumed to write it (None: nothing)."""

    goal: str
    note: str | None = None


def read_goal(
    text: str, agent: Agent, vocabulary: Vocabulary, control: ControlSettings
) -> Reading:
    """`text` (one clause about `agent`) in the agent language; SubgoalError if it says two
    ways at once or a vague amount with no way."""
    words = _own_words_dropped(normalize(text).split(), agent, vocabulary)
    words, pose = _pose_named(words, vocabulary)
    if pose:  # 'fold yourself up', 'tuck in': a pose, whichever way its words point
        ways = {phrase for signs in vocabulary.directions.values() for phrase in signs}
        return Reading(" ".join(_without(words, sorted(ways, key=lambda p: -len(p.split())))))
    if set(words) & WAVE_WORDS:
        return Reading(" ".join(words))  # a wave swings both ways: no direction to read
    words = _stop_at(words)
    if _returns(words):  # 'move it back', 'return': where it was (the planner knows)
        return Reading(" ".join(_without(words, RETURN_PHRASES)))
    sign, said, words = _direction(words, agent, vocabulary)
    vague, words = _vague(words)
    relative = bool(set(words) & RELATIVE_WORDS)
    words = [w for w in words if w not in RELATIVE_WORDS]
    quantity = _distance(" ".join(words))
    if not (sign or vague or relative):  # nothing everyday about it: agent language as it is
        return Reading(" ".join(_zeroed(words, agent, vocabulary) if quantity is None else words))
    if quantity is not None:
        return Reading(_with_number(words, quantity, sign, relative, agent))
    if sign == 0:
        raise Ambiguous("which way? say e.g. 'up', 'left' or a number")
    if agent.kind is AgentKind.GRIPPER and not (vague or relative):
        return Reading(" ".join(["open" if sign > 0 else "close", *words]))
    step = math.copysign(control.small_step(agent.joint), sign)
    wording = vague or said
    note = (
        f"{agent.name}: '{wording}' read as {quantity_text(abs(step), agent)} "
        "(the small step of config/robot.yaml)"
    )
    return Reading(" ".join([*words, f"by {quantity_text(step, agent)}"]), note)


def _own_words_dropped(words: list[str], agent: Agent, vocabulary: Vocabulary) -> list[str]:
    """Words that only point at the agent ('the object' of the gripper, 'swivel' of the base)
    say nothing about its goal. Direction, zero and agent-language words stay."""
    ways = set(vocabulary.directions[agent.name]) | set(vocabulary.zero_words[agent.name])
    pointers = [p for p in vocabulary.words[agent.name] if p not in ways]
    pointers = [p for p in pointers if p not in AGENT_LANGUAGE_WORDS]
    return _without(words, pointers)


def _pose_named(words: list[str], vocabulary: Vocabulary) -> tuple[list[str], str | None]:
    """`words` with a pose's aliases written as its name ('park' -> 'stow'), and that pose."""
    phrases = {phrase: pose for pose, ps in vocabulary.pose_words.items() for phrase in ps}
    found = occurrences(words, sorted(phrases, key=lambda p: -len(p.split())))
    poses = {phrases[phrase] for _, phrase in found}
    if len(poses) != 1:
        return words, None
    pose = poses.pop()
    return [*_without(words, [p for _, p in found]), pose], pose


def _without(words: list[str], phrases: list[str] | tuple[str, ...]) -> list[str]:
    """`words` with every occurrence of `phrases` taken out."""
    taken: set[int] = set()
    for index, phrase in occurrences(words, phrases):
        taken.update(range(index, index + len(phrase.split())))
    return [word for index, word in enumerate(words) if index not in taken]


def _stop_at(words: list[str]) -> list[str]:
    """'stop at 30 degrees' is a move there: a stop word followed by 'at' and a number."""
    for index, word in enumerate(words):
        if word not in STOP_WORDS:
            continue
        after = index + 1
        while after < len(words) and words[after] in ("the", "it", "its"):
            after += 1
        if after < len(words) and words[after] in ("at", "when", "once"):
            return [*words[:index], *words[index + 1 : after], "to", *words[after + 1 :]]
    return words


def _direction(
    words: list[str], agent: Agent, vocabulary: Vocabulary
) -> tuple[int, str, list[str]]:
    """The one way the words move the agent (+1, -1; 0 none), the words that said it, and
    the words left. Neutral phrases ('right now', 'back to') are read first and say none."""
    signs = vocabulary.directions[agent.name]
    found = occurrences(words, signs)
    ways = {signs[phrase] for _, phrase in found if signs[phrase]}
    if len(ways) > 1:
        raise Ambiguous("the words say both ways at once")
    taken: set[int] = set()
    for index, phrase in found:
        size = len(phrase.split())
        if not signs[phrase]:  # neutral: 'back to 30' is 'to 30', 'right away' is nothing
            keep = [i for i, w in enumerate(phrase.split()) if w in ABSOLUTE_WORDS]
            taken.update(index + i for i in range(size) if i not in keep)
            continue
        taken.update(range(index, index + size))
        before = index - 1
        while before >= 0 and words[before] in BEFORE_DIRECTION and before not in taken:
            if words[before] in ABSOLUTE_WORDS and _number_after(words, index + size):
                break  # 'left to 30 deg': the 'to' belongs to the number
            taken.add(before)
            before -= 1
        after = index + size
        while after < len(words) and words[after] in AFTER_DIRECTION:
            taken.add(after)
            after += 1
    said = " ".join(phrase for _, phrase in found if signs[phrase])
    left = [word for index, word in enumerate(words) if index not in taken]
    return (ways.pop() if ways else 0), said, left


def _returns(words: list[str]) -> bool:
    """'back' or 'return' with no number and no vague amount: back where it was. With one,
    'back' is a way ('back 10 degrees', 'a bit back')."""
    text = " ".join(words)
    return (
        bool(set(words) & RETURN_WORDS)
        and _distance(text) is None
        and not occurrences(words, VAGUE_PHRASES)
    )


def _number_after(words: list[str], index: int) -> bool:
    return index < len(words) and bool(find_quantities(words[index]))


def _vague(words: list[str]) -> tuple[str, list[str]]:
    found = occurrences(words, VAGUE_PHRASES)
    return " ".join(phrase for _, phrase in found), _without(words, VAGUE_PHRASES)


def _distance(text: str) -> Quantity | None:
    """The clause's one number that is not a duration ('in 2 s') or a count; None if none."""
    quantities = [q for q in find_quantities(text) if q.dimension != "time"]
    return quantities[0] if len(quantities) == 1 else None


def _with_number(
    words: list[str], quantity: Quantity, sign: int, relative: bool, agent: Agent
) -> str:
    text = " ".join(words)
    before = text[: quantity.start].split()
    after = text[quantity.end :]
    magnitude = format_number(abs(quantity.value), 6)
    unit = f" {quantity.unit}" if quantity.unit else ""
    if before and before[-1] in ABSOLUTE_WORDS and not relative:
        if agent.kind is AgentKind.GRIPPER or quantity.sign or not sign:
            return text  # an opening, or a stated sign: where to, as written
        return " ".join([*before, f"{'-' if sign < 0 else ''}{magnitude}{unit}", after])
    if sign and quantity.sign and quantity.sign != sign:
        raise SubgoalError("the words and the number's sign say opposite ways")
    way = sign or quantity.sign or 1
    before = [w for w in before if w != "by"]
    return " ".join([*before, f"by {'-' if way < 0 else ''}{magnitude}{unit}", after])


def _zeroed(words: list[str], agent: Agent, vocabulary: Vocabulary) -> list[str]:
    """'straighten', 'centre', 'level' with no number: to the joint's zero."""
    zero = vocabulary.zero_words[agent.name]
    if not occurrences(words, zero):
        return words
    return [*_without(words, zero), f"to {quantity_text(0.0, agent)}"]
