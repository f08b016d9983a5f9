"""The agent language: what one agent understands, e.g. 'move to 45 degrees in 1.5 s, gently'.

Skills:   move to X | move by X | open [to X] | close | hold [for N s] | wait N s | return
          | <pose name> | wave [by X] [N times]
          'hold for N s' / 'wait N s' hold still and are done after N s; 'return' (or 'go back')
          goes back to where the joint was when the instruction arrived, which only the planner
          knows: it sends the move with the target.
Numbers:  digits ('45', '-0.5', '.5'; a dot with no digit after it ends a sentence) with a unit
          (deg, degrees, °, rad, m, cm, mm, %); a bare number is degrees for a revolute joint and
          millimetres for a prismatic one. '%' is a share of the joint range.
Timing:   'in|over|within|for N s'; style words slowly / gently / quickly (and common synonyms).
Manner:   the style words, and any English adverb of manner ('hastily', 'gingerly'), kept as
          written in `Subgoal.manner`: a learned policy reads their meaning from a text
          embedding (its tempo), so a manner word no list names still changes how it moves; the
          classical controller knows the style words only.

Filler verbs ('bend', 'rotate', 'go', ...) and articles are allowed; any other word is an error,
because an agent that guesses moves a real joint. Parsing yields a `Subgoal` in SI units.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from ..errors import LlmMasError, SubgoalError
from ..robot.model import Agent, AgentKind, Dimension, JointType
from .english import is_adverb_of_manner
from .quantities import UNITS, Quantity, drop_sentence_dots, find_quantities, format_number

MAX_GOAL_CHARS = 300


class Skill(StrEnum):
    MOVE_TO = "move to"
    MOVE_BY = "move by"
    OPEN = "open"
    CLOSE = "close"
    HOLD = "hold"
    POSE = "pose"
    WAVE = "wave"
    RETURN = "return"


STYLE_WORDS = {
    **dict.fromkeys(("slowly", "slow", "slower", "leisurely"), "slowly"),
    **dict.fromkeys(("gently", "gentle", "carefully", "careful", "softly", "smoothly"), "gently"),
    **dict.fromkeys(("quickly", "quick", "fast", "rapidly", "swiftly", "briskly"), "quickly"),
}
# Words that stop motion: to one agent a hold; an instruction of nothing else stops every agent.
STOP_WORDS = frozenset({"stop", "halt", "freeze", "abort", "estop", "e-stop"})
HOLD_WORDS = STOP_WORDS | {"hold", "stay", "keep", "wait", "pause"}
# Hold words that say 'hold' on their own ('keep' needs a word after it: 'keep still'; 'wait'
# and 'pause' take a duration).
GLOBAL_HOLD_WORDS = HOLD_WORDS - {"keep"}
# Words that send a joint back where it was, when no number says where to ('move it back').
RETURN_WORDS = frozenset({"return", "back"})
# Courtesy and address: no goal in them, in a subgoal or in a stop ('hey, stop please').
COURTESY_WORDS = frozenset({"please", "kindly", "thanks", "hey", "ok", "okay"})
OPEN_WORDS = frozenset({"open", "release", "widen"})
CLOSE_WORDS = frozenset({"close", "shut", "grip", "grasp", "clamp"})
WAVE_WORDS = frozenset({"wave", "waggle", "wiggle", "shake"})
FILLER_WORDS = COURTESY_WORDS | frozenset(
    {
        "move",
        "go",
        "goes",
        "set",
        "put",
        "bring",
        "bend",
        "rotate",
        "turn",
        "swing",
        "spin",
        "twist",
        "roll",
        "tilt",
        "pitch",
        "yaw",
        "drive",
        "send",
        "come",
        "the",
        "a",
        "an",
        "joint",
        "position",
        "angle",
        "pose",
        "posture",
        "it",
        "its",
        "your",
        "fully",
        "all",
        "way",
        "now",
        "then",
        "of",
        "at",
        "itself",
        "still",
        "there",
        "in",
        "place",
        "where",
        "is",
        "and",
        "with",
        "motion",
        "movement",
        "speed",
        # verbs people put before a goal that add nothing to it ('make the claw 6 mm wider')
        "point",
        "nudge",
        "make",
        "give",
        "face",
        "take",
        "tip",
        "just",
        "again",
        "them",
        "shift",
        "pace",
        "get",
        "into",
        "onto",
        "from",
        "here",
        "current",
        "currently",
        "arm",
        "robot",
        "yourself",
        "me",
        "us",
        "together",
        "simultaneously",
        "could",
        "would",
        "can",
        "will",
        "should",
        "you",
    }
)
DIRECTION_WORDS = {
    "to": Skill.MOVE_TO,
    "towards": Skill.MOVE_TO,
    "toward": Skill.MOVE_TO,
    "by": Skill.MOVE_BY,
    "through": Skill.MOVE_BY,
}
DURATION_RE = re.compile(
    r"\b(?:in|over|within|during|taking|for)\s+(?P<number>[-+]?(?:\d+(?:\.\d*)?|\.\d+))\s*"
    r"(?P<unit>seconds|second|secs|sec|s)\b"
)
TIMES_RE = re.compile(r"\b(?P<count>\d+)\s*(?:times|x)\b|\b(?P<word>once|twice|thrice)\b")
_COUNT_WORDS = {"once": 1, "twice": 2, "thrice": 3}
# Every word the agent language gives a meaning to: never read as a typo of a name ('hold' is
# one edit from the stow alias 'fold', and must stay a hold).
AGENT_LANGUAGE_WORDS = (
    HOLD_WORDS
    | OPEN_WORDS
    | CLOSE_WORDS
    | WAVE_WORDS
    | FILLER_WORDS
    | set(STYLE_WORDS)
    | set(DIRECTION_WORDS)
    | set(_COUNT_WORDS)
    | RETURN_WORDS
    | {"times"}
)
MAX_DURATION_S = 120.0
MAX_WAVES = 10


@dataclass(frozen=True)
class Subgoal:
    """A parsed goal for one agent. `value` is SI (rad or m): the target for MOVE_TO, the offset
    for MOVE_BY, the amplitude for WAVE; `pose` names a pose for POSE."""

    skill: Skill
    value: float | None = None
    pose: str | None = None
    duration_s: float | None = None
    style: str | None = None
    repetitions: int = 1
    manner: str = ""  # the manner words as written ('at a leisurely pace' -> 'leisurely')


def normalize(text: str) -> str:
    """The one normal form of text (agent goals, instructions, cache keys): lower-case, '°'
    spelled out, '_' a space, punctuation and runs of spaces reduced to single spaces. Letters
    of any script are kept (an instruction in Chinese must not normalise to nothing); a dot
    followed by a digit is a decimal point, any other dot ends a sentence and goes."""
    text = text.lower().replace("°", " deg ").replace("_", " ")
    text = re.sub(r"(?<=\d),(?=\d{3}\b)", "", text)  # 1,000 -> 1000
    text = re.sub(r"[^\w.%+\-\s]", " ", text)
    return " ".join(drop_sentence_dots(text).split())


def check_text(
    text: object, what: str, max_chars: int, error: type[LlmMasError] = SubgoalError
) -> str:
    """Untrusted text (a goal, an instruction) as it is, or `error` saying what is wrong with
    it: not text, empty, longer than `max_chars`, or holding control characters (tabs and
    newlines are spaces)."""
    if not isinstance(text, str):
        raise error(
            f"{'an' if what[0] in 'aeiou' else 'a'} {what} must be text, got {type(text).__name__}"
        )
    if not text.strip():
        raise error(f"empty {what}")
    if len(text) > max_chars:
        raise error(f"{what} is {len(text)} characters long; at most {max_chars} are accepted")
    if any(not ch.isprintable() and ch not in "\n\t" for ch in text):
        raise error(f"{what} contains control characters")
    return text


_WAIT_FOR_RE = re.compile(r"\b(wait|pause)\s+(?=[-+]?[\d.])")


def _take_duration(text: str) -> tuple[float | None, str]:
    matches = list(DURATION_RE.finditer(text))
    if not matches:
        return None, text
    if len(matches) > 1:
        raise SubgoalError("goal states more than one duration")
    duration = float(matches[0].group("number"))
    if not 0.0 < duration <= MAX_DURATION_S:
        raise SubgoalError(f"duration must be in (0, {MAX_DURATION_S:g}] s, got {duration:g} s")
    return duration, DURATION_RE.sub(" ", text)


def _take_repetitions(text: str) -> tuple[int | None, str]:
    match = TIMES_RE.search(text)
    if not match:
        return None, text
    count = (
        int(match.group("count")) if match.group("count") else _COUNT_WORDS[match.group("word")]
    )
    if not 1 <= count <= MAX_WAVES:
        raise SubgoalError(f"can wave 1 to {MAX_WAVES} times, not {count}")
    return count, TIMES_RE.sub(" ", text, count=1)


def is_manner_word(word: str) -> bool:
    """A word that says how to move, not what: a style word or an adverb of manner that the
    agent language gives no other meaning ('still' and 'fully' stay filler)."""
    return word in STYLE_WORDS or (word not in AGENT_LANGUAGE_WORDS and is_adverb_of_manner(word))


def _take_manner(words: list[str]) -> tuple[str | None, str, list[str]]:
    """(style, manner words as written, the other words)."""
    manner = [w for w in words if is_manner_word(w)]
    styles = {STYLE_WORDS[w] for w in manner if w in STYLE_WORDS}
    if len(styles) > 1:
        raise SubgoalError(f"conflicting style words: {', '.join(sorted(styles))}")
    rest = [w for w in words if not is_manner_word(w)]
    return (styles.pop() if styles else None), " ".join(manner), rest


def _to_si(quantity: Quantity, agent: Agent, relative: bool) -> float:
    """The number in the joint's SI unit; a bare number is deg (revolute) or mm (prismatic)."""
    joint = agent.joint
    wanted = joint.dimension
    unit = quantity.unit or ("mm" if wanted is Dimension.LENGTH else "deg")
    dimension, factor = UNITS[unit]
    if dimension == "fraction":
        if not (math.isfinite(joint.lower) and math.isfinite(joint.upper)):
            raise SubgoalError(f"{joint.name} has no finite range, so percentages mean nothing")
        span = (joint.upper - joint.lower) * quantity.value * factor
        return span if relative else joint.lower + span
    if dimension != wanted:
        raise SubgoalError(
            f"{agent.name} moves by {wanted}; "
            f"{format_number(quantity.value)} {unit} is a {dimension}"
        )
    return quantity.value * factor


def _single_quantity(text: str) -> Quantity | None:
    quantities = [q for q in find_quantities(text) if q.dimension != "time"]
    if len(quantities) > 1:
        raise SubgoalError("goal states more than one target; send one goal per motion")
    return quantities[0] if quantities else None


def parse_subgoal(text: object, agent: Agent, poses: Iterable[str] = ()) -> Subgoal:
    """Parse one agent's goal; SubgoalError says exactly what is not understood."""
    clean = normalize(check_text(text, "goal", MAX_GOAL_CHARS))
    clean = _WAIT_FOR_RE.sub(r"\1 for ", clean)  # 'wait 2 s' is 'wait for 2 s'
    duration, clean = _take_duration(clean)
    repetitions, clean = _take_repetitions(clean)
    quantity = _single_quantity(clean)
    if quantity is not None:
        clean = clean[: quantity.start] + " " + clean[quantity.end :]
    style, manner, words = _take_manner(clean.split())
    words = [w for w in words if w not in ("+", "-")]
    skill, pose = _skill_from_words(words, agent, set(poses))
    goal = _assemble(skill, pose, quantity, agent, duration, style, repetitions)
    return dataclasses.replace(goal, manner=manner) if manner else goal


def _skill_from_words(
    words: list[str], agent: Agent, poses: set[str]
) -> tuple[Skill | None, str | None]:
    skills: list[Skill] = []
    pose_words = [w for w in words if w in poses]
    for word in words:
        if word in HOLD_WORDS:
            skills.append(Skill.HOLD)
        elif word in OPEN_WORDS:
            skills.append(Skill.OPEN)
        elif word in CLOSE_WORDS:
            skills.append(Skill.CLOSE)
        elif word in WAVE_WORDS:
            skills.append(Skill.WAVE)
        elif word in DIRECTION_WORDS:
            skills.append(DIRECTION_WORDS[word])
        elif word in RETURN_WORDS:
            skills.append(Skill.RETURN)
        elif word not in FILLER_WORDS and word not in poses:
            raise SubgoalError(f"{agent.name} does not understand {word!r}")
    if Skill.RETURN in skills and len(set(skills)) > 1:
        # 'return to 30 deg', 'back to home': where to is said; 'return' only tells how.
        skills = [s for s in skills if s is not Skill.RETURN]
    if pose_words:
        if len(set(pose_words)) > 1:
            raise SubgoalError(f"goal names several poses: {', '.join(sorted(set(pose_words)))}")
        skills = [*(s for s in skills if s is not Skill.MOVE_TO), Skill.POSE]
    distinct = list(dict.fromkeys(skills))
    # 'open to 20 mm' and 'wave by 10 degrees': the action word wins over its preposition.
    for action in (Skill.OPEN, Skill.CLOSE, Skill.WAVE):
        if action in distinct:
            distinct = [s for s in distinct if s not in (Skill.MOVE_TO, Skill.MOVE_BY)]
    if len(distinct) > 1:
        names = ", ".join(s.value for s in distinct)
        raise SubgoalError(f"goal mixes several skills ({names}); send one at a time")
    return (distinct[0] if distinct else None), (pose_words[0] if pose_words else None)


def _assemble(
    skill: Skill | None,
    pose: str | None,
    quantity: Quantity | None,
    agent: Agent,
    duration: float | None,
    style: str | None,
    repetitions: int | None,
) -> Subgoal:
    if repetitions is not None and skill is not Skill.WAVE:
        raise SubgoalError("only 'wave' can be repeated")
    if skill is None:
        if quantity is None:
            raise SubgoalError(f"{agent.name} found no skill or target in the goal")
        skill = Skill.MOVE_TO
    if skill in (Skill.HOLD, Skill.CLOSE, Skill.POSE, Skill.RETURN) and quantity is not None:
        raise SubgoalError(
            f"'{skill.value}' takes no number"
            + ("; say 'to N' or 'by N'" if skill is Skill.RETURN else "")
        )
    if skill in (Skill.OPEN, Skill.CLOSE) and agent.kind is not AgentKind.GRIPPER:
        raise SubgoalError(f"{agent.name} is not a gripper: it cannot {skill.value}")
    if skill in (Skill.MOVE_TO, Skill.MOVE_BY) and quantity is None:
        raise SubgoalError(f"'{skill.value}' needs a number with a unit, e.g. '45 degrees'")
    value = None
    if quantity is not None:
        relative = skill in (Skill.MOVE_BY, Skill.WAVE)
        value = _to_si(quantity, agent, relative)
        if skill is Skill.OPEN:
            skill = Skill.MOVE_TO  # 'open to 20 mm' is a move to 20 mm
        if skill is Skill.WAVE:
            value = abs(value)
    return Subgoal(
        skill=skill,
        value=value,
        pose=pose,
        duration_s=duration,
        style=style,
        repetitions=repetitions or (2 if skill is Skill.WAVE else 1),
    )


def quantity_text(value: float, agent: Agent) -> str:
    """An SI value in the agent language's readable unit: '45 deg' or '20 mm'."""
    if agent.joint.kind is JointType.PRISMATIC:
        return f"{format_number(value * 1000.0, 3)} mm"
    return f"{format_number(math.degrees(value), 4)} deg"


def render_subgoal(goal: Subgoal, agent: Agent) -> str:
    """The canonical text of a subgoal; parse_subgoal(render_subgoal(g)) gives g back (to 1e-3)."""
    if goal.skill is Skill.MOVE_TO:
        text = f"move to {quantity_text(goal.value or 0.0, agent)}"
    elif goal.skill is Skill.MOVE_BY:
        text = f"move by {quantity_text(goal.value or 0.0, agent)}"
    elif goal.skill is Skill.POSE:
        text = f"go to {goal.pose}"
    elif goal.skill is Skill.WAVE:
        amplitude = f" by {quantity_text(goal.value, agent)}" if goal.value is not None else ""
        text = f"wave{amplitude} {goal.repetitions} times"
    else:
        text = goal.skill.value
    if goal.duration_s is not None:
        preposition = "for" if goal.skill is Skill.HOLD else "in"
        text += f" {preposition} {format_number(goal.duration_s, 2)} s"
    if goal.manner or goal.style:
        text += f" {goal.manner or goal.style}"
    return text
