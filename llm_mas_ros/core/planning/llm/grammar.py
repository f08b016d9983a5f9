"""The plan language as an xgrammar EBNF grammar, generated from the robot model.

A language model decoding under this grammar can only write plans of known agents, skills, poses
and style words, with every repetition bounded, and only the numbers the instruction states (and
their unit conversions): a small model then cannot invent targets, not even 0, and every output
parses with `RulePlanner.parse_step` by construction.

    plan   := "none" | step (" then " step){0,5}
    step   := goal (", " goal){0,6}                 each agent at most once per step
    goal   := AGENT " " action | "go to " POSE [" " STYLE]
    action := ("to " | "by ") NUM " " UNIT [" in " NUM " s"] [" " STYLE]
            | "open" [" " STYLE] | "close" [" " STYLE] | "hold"          (open/close: grippers)
            | "wave" [" by " NUM " " UNIT] [" " COUNT " times"]
    NUM    := "0" | ["-"] VALUE
    UNIT   := deg | rad (revolute joints), mm | cm | m (prismatic joints)

Per instruction, the bounds 5 and 6 shrink to what the instruction's own structure allows
(`step_bound`, `goal_bound`), VALUE to the numbers it states (`AllowedNumbers`), and the sign
to the direction it states: an agent that the instruction's direction words move one way only
(`Vocabulary.polarity`, from `directions` in config/robot.yaml) gets its own action rule whose
moves write that sign, "-" VALUE or VALUE (a number stated with a sign keeps that sign), and a
gripper told only to open cannot write "close" (nor one told to close "open"). An agent writes
"0" only when the instruction states 0 or names the joint's zero ('upright', 'centre':
`directions.zero`): from anywhere but 0, "to 0" is a large move nobody asked for, and a model
with no number to copy ('move the elbow a little') or denied the sign it wanted would write it.
An agent with no number to write has no "to"/"by" move at all. A gripper's "to N" is an
opening, not a direction: it keeps the unsigned rule. Like a style word, a wave is only written
when the instruction asks for one (a wave word: core.language.WAVE_WORDS).

The instruction is untrusted: no text of it ever reaches the grammar. Numbers are parsed from it
and re-formatted here (digits and one '.'), and names come from the robot's configuration.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ...errors import ConfigError
from ...language.agent_language import (
    MAX_DURATION_S,
    MAX_WAVES,
    STYLE_WORDS,
    WAVE_WORDS,
    normalize,
)
from ...language.clauses import split_clauses, split_steps
from ...language.quantities import (
    SIGN_WORDS,
    UNITS,
    find_quantities,
    format_number,
    number_words,
    number_words_values,
)
from ...language.vocabulary import Vocabulary
from ...robot.model import Agent, AgentKind, Dimension, RobotModel

NONE_PLAN = "none"
STEP_SEPARATOR = " then "
GOAL_SEPARATOR = ", "
MAX_STEPS = 6
MAX_GOALS_PER_STEP = 7
MAX_WAVE_COUNT = min(5, MAX_WAVES)
MAX_NUMBERS = 16  # distinct stated quantities that become grammar alternatives
MAX_MAGNITUDE = 1e12  # larger numbers are no joint's target; they are left out of the grammar

# Units the plan language writes, per dimension, with the decimals a converted value keeps:
# 0.1 deg, 0.001 rad, 0.1 mm, 0.01 cm and 0.0001 m are all far below the joints' tolerances.
PLAN_UNITS: dict[str, dict[str, int]] = {
    Dimension.ANGLE: {"deg": 1, "rad": 3},
    Dimension.LENGTH: {"mm": 1, "cm": 2, "m": 4},
}
DEFAULT_UNIT: dict[str, str] = {
    Dimension.ANGLE: "deg",
    Dimension.LENGTH: "mm",
}  # a bare number, as in the agent language
STATED_DECIMALS = 6  # a stated number keeps its own precision (up to this many decimals)

_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
_NUMBER_TEXT_RE = re.compile(r"\d+(?:\.\d+)?")
_SEQUENCE_RE = re.compile(
    r"\b(?:after|afterwards|before|first|once|later|followed|next|finally|"
    r"then|subsequently)\b"
)
_REPEAT_RE = re.compile(r"\b(?:twice|again|repeat|repeatedly|two times|back)\b")
_WAVE_RE = re.compile(  # a wave word in any form: 'wave', 'waving', 'wiggles', 'shaking'
    r"\b(?:" + "|".join(sorted(w.removesuffix("e") for w in WAVE_WORDS)) + r")(?:e|es|ed|ing)?\b"
)
_COUNT_AFTER_RE = re.compile(r"\s*(?:times|x)\b")
_GLUE_WORDS = frozenset({"a", "an", "and", "of"})  # 'a quarter of a radian', 'one and a half'


# Which way an agent moves: its sign (+1, -1; 0 either way) and whether it may write 0.
Way = tuple[int, bool]
UNPOLARIZED: Way = (0, True)
WAYS: tuple[Way, ...] = (UNPOLARIZED, (0, False), (1, True), (1, False), (-1, True), (-1, False))


@dataclass(frozen=True)
class StatedQuantity:
    """A magnitude the instruction states, its unit word (None when it names none) and the
    sign it states (-1 'minus ten', +1 '+10', 0 none: see `Quantity.sign`)."""

    magnitude: float
    unit: str | None
    sign: int = 0

    @property
    def dimension(self) -> str | None:
        return UNITS[self.unit][0] if self.unit else None


def _is_number_word(word: str) -> bool:
    return word in _GLUE_WORDS or bool(number_words_values(word))


def _worded_quantities(text: str) -> list[StatedQuantity]:
    """Numbers spelled in words followed by a unit word: 'forty five degrees', 'a quarter of a
    radian' (glue words between them are skipped)."""
    words = re.findall(r"[a-z]+|%|°", text.lower().replace("-", " "))
    found = []
    for index, word in enumerate(words):
        if word not in UNITS:
            continue
        start = index
        while start > 0 and _is_number_word(words[start - 1]):
            start -= 1
        values = number_words_values(" ".join(words[start:index]))
        if len(values) == 1:
            sign = SIGN_WORDS.get(words[start - 1], 0) if start > 0 else 0
            found.append(StatedQuantity(abs(values[0]), word, sign))
    return found


def stated_quantities(instruction: str) -> list[StatedQuantity]:
    """Every number the instruction states, with its unit when one follows it.

    Magnitudes come from `core.quantities` (digits and number words), so the planner and the
    agent language agree on what a number is; a magnitude stated with no unit is kept unit-less
    (it then means degrees or millimetres, as in the agent language)."""
    quantities = [
        StatedQuantity(abs(q.value), q.unit, q.sign)
        for q in find_quantities(instruction)
        if not _COUNT_AFTER_RE.match(instruction, q.end)  # '3 times' is a count, no target
    ]
    quantities += _worded_quantities(instruction)
    seen = {(q.magnitude, q.sign) for q in quantities}
    quantities += [
        StatedQuantity(m, None, sign)
        for m, sign in sorted({(abs(v), sign) for v, sign in number_words(instruction)})
        if (m, sign) not in seen
    ]
    kept = [
        q
        for q in dict.fromkeys(quantities)
        if math.isfinite(q.magnitude) and q.magnitude <= MAX_MAGNITUDE
    ]
    return kept[:MAX_NUMBERS]


def _number_text(value: float, decimals: int) -> str | None:
    """Digits for a non-zero magnitude, or None when it rounds to 0 (always allowed anyway)."""
    text = format_number(abs(value), decimals)
    if text == "0":
        return None
    if not _NUMBER_TEXT_RE.fullmatch(text):  # e.g. a huge float printed with an exponent
        return None
    return text


@dataclass(frozen=True)
class AllowedNumbers:
    """The non-zero magnitudes a plan may write, per plan unit, each with the signs the
    instruction states it with (0: none, -1, +1); and the durations (s)."""

    by_unit: Mapping[str, Mapping[str, frozenset[int]]] = field(default_factory=dict)
    durations: tuple[str, ...] = ()

    @classmethod
    def from_instruction(cls, instruction: str) -> AllowedNumbers:
        """Stated magnitudes in their own unit plus their conversions to the other units of
        the same dimension (45 deg -> 0.785 rad; 2 cm -> 20 mm, 0.02 m); durations in s."""
        by_unit: dict[str, dict[str, frozenset[int]]] = {
            unit: {} for units in PLAN_UNITS.values() for unit in units
        }
        durations: dict[str, None] = {}
        for quantity in stated_quantities(instruction):
            if quantity.dimension == "time":
                if 0.0 < quantity.magnitude <= MAX_DURATION_S:
                    text = _number_text(quantity.magnitude, STATED_DECIMALS)
                    durations.update({text: None} if text else {})
                continue
            dimensions = [quantity.dimension] if quantity.dimension else list(PLAN_UNITS)
            for dimension in dimensions:
                if dimension not in PLAN_UNITS:
                    continue  # '%' and the like: no plan unit writes them
                unit = quantity.unit or DEFAULT_UNIT[dimension]
                si = quantity.magnitude * UNITS[unit][1]
                for plan_unit, decimals in PLAN_UNITS[dimension].items():
                    value = si / UNITS[plan_unit][1]
                    stated = plan_unit == unit
                    text = _number_text(value, STATED_DECIMALS if stated else decimals)
                    if text:
                        signs = by_unit[plan_unit].get(text, frozenset())
                        by_unit[plan_unit][text] = signs | {quantity.sign}
        return cls(by_unit, tuple(durations))

    def key(self) -> tuple[object, ...]:
        """What makes two of them write the same numbers (agents with equal keys share rules)."""
        units = tuple(
            (unit, tuple(sorted((text, tuple(sorted(signs))) for text, signs in values.items())))
            for unit, values in sorted(self.by_unit.items())
        )
        return (units, self.durations)

    def values(self, unit: str) -> tuple[str, ...]:
        return tuple(self.by_unit.get(unit, ()))

    def rule(self, unit: str, way: Way = UNPOLARIZED) -> str:
        """The alternatives of a number in `unit` for an agent moving `way`: each value with
        the signs it may take, and 0 if the way allows it; "" when there is none. Unpolarized:
        the sign it was stated with ('-60 degrees' is never +60), either sign if stated with
        none. Polarized (+1/-1): that sign, except that a value stated with a sign may take the
        sign it was stated with."""
        polarity, zero = way
        groups: dict[str, list[str]] = {'"-"? ': [], '"-" ': [], "": []}
        for text, stated in self.by_unit.get(unit, {}).items():
            if polarity:
                signs = {sign or polarity for sign in stated}
            else:
                signs = {1, -1} if 0 in stated else set(stated)
            prefix = '"-"? ' if len(signs) > 1 else '"-" ' if -1 in signs else ""
            groups[prefix].append(text)
        alternatives = [
            f"{prefix}({_alternatives(texts)})" for prefix, texts in groups.items() if texts
        ]
        return " | ".join(['"0"', *alternatives] if zero else alternatives)


def _clauses(text: str) -> list[str]:
    return [clause for step in split_clauses(text) for clause in step]


def bound_numbers(instruction: str, vocabulary: Vocabulary) -> dict[str, AllowedNumbers]:
    """The numbers each agent may write: those stated in the clauses about it
    (`Vocabulary.clause_owners`), so 'elbow to forty-five degrees then wrist to -20 deg' cannot
    send the elbow to 20. The instruction's only distance (one magnitude, however many
    clauses) is every agent's: 'elbow and wrist 1 to 30 deg'. Durations are always the
    clause's own: the goal stated with 'over 5 s' is the one that takes 5 s."""
    clauses = _clauses(instruction.lower())
    owners = vocabulary.clause_owners(clauses)
    texts: dict[str, list[str]] = {agent: [] for agent in vocabulary.robot.agent_names}
    for clause, agents in zip(clauses, owners, strict=True):
        for agent in agents:
            texts[agent].append(clause)
    said = vocabulary.without_names  # 'wrist 1' states no distance
    whole = AllowedNumbers.from_instruction(said(instruction))
    distances = {
        q.magnitude for q in stated_quantities(said(instruction)) if q.dimension != "time"
    }
    bound = {
        agent: AllowedNumbers.from_instruction(" ; ".join(said(clause) for clause in mine))
        for agent, mine in texts.items()
    }
    if len(distances) <= 1:
        return {agent: AllowedNumbers(whole.by_unit, n.durations) for agent, n in bound.items()}
    return bound


def step_bound(instruction: str) -> int:
    """The most steps a plan for `instruction` may have, from the instruction's own structure.

    A small model that has written the right plan often goes on ('elbow to 30 deg then elbow
    to 30 deg'); the instruction's shape bounds that. Without a word or mark of sequence
    ('then', 'after', 'first', 'finally', ';', a full stop, ...) the plan is one step: goals
    joined by 'and', ',' or 'while' run together. With one, every clause may be its own step.
    Repeat words ('twice', 'again') add a step each. An upper bound only: never more than
    MAX_STEPS, never less than 1."""
    text = instruction.lower()
    repeats = len(_REPEAT_RE.findall(text))
    sequential = len(split_steps(text)) > 1 or bool(_SEQUENCE_RE.search(text))
    return max(1, min(MAX_STEPS, (len(_clauses(text)) if sequential else 1) + repeats))


def goal_bound(instruction: str, mentioned_agents: int = 0) -> int:
    """The most goals one step may have: one per clause of the instruction ('open the gripper
    while turning the base' has two), or one per agent it names if that is more ('elbow and
    wrist 1 to 30 deg'). A small model otherwise pads a right step with goals nobody asked
    for ('..., shoulder_lift to 30 deg'). Within 1..MAX_GOALS_PER_STEP."""
    count = max(len(_clauses(instruction.lower())), mentioned_agents)
    return max(1, min(MAX_GOALS_PER_STEP, count))


@dataclass(frozen=True)
class PlanShape:
    """Per-instruction bounds on the plan: its structure (see step_bound and goal_bound) and
    what it may address (the agents and poses the instruction refers to; None: all)."""

    max_steps: int = MAX_STEPS
    max_goals: int = MAX_GOALS_PER_STEP
    agents: frozenset[str] | None = None
    poses: frozenset[str] | None = None
    styles: frozenset[str] | None = None  # style words the instruction implies (None: all)
    # +1 / -1 for agents the instruction moves one way only (Vocabulary.polarity)
    polarity: Mapping[str, int] = field(default_factory=dict, hash=False)
    # Agents that may write 0: the instruction states 0, or names the agent's zero ('upright').
    # None: every agent (a grammar without an instruction).
    zero: frozenset[str] | None = None
    waves: bool = True  # whether it asks for a wave (a skill, like a style, only when asked)
    # The numbers each agent may write (bound_numbers); None: the instruction's, for all.
    bound: Mapping[str, AllowedNumbers] | None = field(default=None, hash=False)

    @property
    def addresses_nothing(self) -> bool:
        return self.agents is not None and not self.agents and not self.poses


def _literal(text: str) -> str:
    """An EBNF string literal of a name or a number built here. Both are checked to hold only
    letters, digits, '_', '-' and '.', so no text can ever escape its literal."""
    if not (_NAME_RE.fullmatch(text) or _NUMBER_TEXT_RE.fullmatch(text)):
        raise ConfigError(
            f"{text!r} cannot be written in the plan grammar "
            "(names may hold letters, digits, '_' and '-')"
        )
    return f'"{text}"'


def _alternatives(texts: Iterable[str]) -> str:
    return " | ".join(_literal(text) for text in texts)


def _check_names(kind: str, names: Iterable[str]) -> None:
    for name in names:
        if not _NAME_RE.fullmatch(name) or name == NONE_PLAN:
            raise ConfigError(
                f"{kind} name {name!r} cannot be used in the plan language: "
                "use letters, digits, '_' or '-', and not 'none'"
            )


def _dimension(agent: Agent) -> str:
    return agent.joint.dimension


def _suffix(way: Way) -> str:
    """How rule names tell ways apart: act_angle, act_angle_nz, act_angle_neg_zero, ..."""
    sign, zero = way
    if not sign:
        return "" if zero else "_nz"
    return ("_pos" if sign > 0 else "_neg") + ("_zero" if zero else "")


def _action_name(agent: Agent, way: Way) -> str:
    kind = "_gripper" if agent.kind is AgentKind.GRIPPER else ""
    return f"act_{_dimension(agent)}{kind}{_suffix(way)}"


class PlanGrammar:
    """The plan grammar of one robot. Its step rules are built once per variant (goals per step,
    agents allowed, styled or not); an instruction adds its action and number rules (each agent
    unpolarized or moved one way, with the numbers it may write) and bounds, and compiling the
    whole grammar per instruction stays in the 10 ms range."""

    def __init__(self, robot: RobotModel) -> None:
        _check_names("agent", robot.agent_names)
        _check_names("pose", robot.poses)
        self.robot = robot
        self.styles = tuple(
            style for style in robot.control.speed_fraction if STYLE_WORDS.get(style) == style
        )
        self._step_rules: dict[tuple[int, frozenset[str], bool], str] = {}
        self.vocabulary = Vocabulary(robot)

    @staticmethod
    def _style(styled: bool) -> str:
        return ' (" " style)?' if styled else ""

    def _action_rules(
        self,
        styled: bool,
        ways: Mapping[str, Way],
        numbers: Mapping[str, AllowedNumbers],
        waves: bool,
    ) -> str:
        """What each agent may do, moving the way `ways` says, writing only its own `numbers`.
        Agents with the same numbers share their number rules (group _gN). A quantity with no
        number to write (none stated, and 0 not allowed) has no rule, and no action refers to
        it: the agent cannot move to or by anything. An agent whose clauses state a duration
        must write it on its moves."""
        rules = []
        if self.robot.poses:
            rules.append(f"pose ::= {_alternatives(self.robot.poses)}")
        keys = list(dict.fromkeys(numbers[a].key() for a in self.robot.agent_names))
        group = {a: keys.index(numbers[a].key()) for a in self.robot.agent_names}
        sets = {group[a]: numbers[a] for a in self.robot.agent_names}
        needed = {(w, group[a]) for a in self.robot.agent_names for w in _both(ways[a])}
        writable: set[str] = set()
        for dimension, units in PLAN_UNITS.items():
            for way, index in sorted(needed, key=lambda pair: (WAYS.index(pair[0]), pair[1])):
                suffix = f"{_suffix(way)}_g{index}"
                alternatives = {unit: sets[index].rule(unit, way) for unit in units}
                numbered = [unit for unit in units if alternatives[unit]]
                rules += [f"num_{unit}{suffix} ::= {alternatives[unit]}" for unit in numbered]
                if numbered:
                    writable.add(f"q_{dimension}{suffix}")
                    quantities = " | ".join(f'num_{unit}{suffix} " {unit}"' for unit in numbered)
                    rules.append(f"q_{dimension}{suffix} ::= {quantities}")
        for index, allowed in sets.items():
            if allowed.durations:
                seconds = _alternatives(allowed.durations)
                rules.append(f'duration_g{index} ::= " in " ({seconds}) " s"')
        if waves:
            rules.append(f"count ::= [1-{MAX_WAVE_COUNT}]")
        actions: dict[str, str] = {}
        style = self._style(styled)
        for bit, agent in enumerate(self.robot.agents):
            way, index = ways[agent.name], group[agent.name]
            name = f"{_action_name(agent, way)}_g{index}"
            timed = bool(sets[index].durations)
            actions[name] = _action_rule(agent, name, style, timed, way, index, writable, waves)
            rules.append(f'agent_{bit} ::= {_literal(agent.name)} " " {name}')
        rules.extend(actions.values())
        return "\n".join(rules)

    def _ways(self, shape: PlanShape) -> dict[str, Way]:
        """Each agent's way: its polarity, and whether it may write 0 (see PlanShape.zero)."""
        return {
            agent: (shape.polarity.get(agent, 0), shape.zero is None or agent in shape.zero)
            for agent in self.robot.agent_names
        }

    def _goals(self, allowed: frozenset[str], styled: bool) -> list[tuple[str, int]]:
        """Each allowed goal's rule text and the agents it moves, as a bit set over agent
        indices. `allowed` holds agent names and 'pose:<name>' entries."""
        index = {agent.joint.name: bit for bit, agent in enumerate(self.robot.agents)}
        goals = [
            (f"agent_{bit}", 1 << bit)
            for bit, agent in enumerate(self.robot.agents)
            if agent.name in allowed
        ]
        for pose in self.robot.poses:
            if f"pose:{pose}" in allowed:
                moved = sum(1 << index[joint] for joint in self.robot.pose(pose) if joint in index)
                goals.append((f'"go to " {_literal(pose)}{self._style(styled)}', moved))
        return goals

    def _allowed(self, shape: PlanShape) -> frozenset[str]:
        agents = self.robot.agent_names if shape.agents is None else shape.agents
        poses = self.robot.poses if shape.poses is None else shape.poses
        return frozenset(agents) | frozenset(f"pose:{pose}" for pose in poses)

    def _steps(self, max_goals: int, allowed: frozenset[str], styled: bool) -> str:
        """Rules for one step of at most `max_goals` goals, each agent in at most one of them
        (a pose counts for all of its agents): the shield would reject a second goal for an
        agent, so the model may not write one. One rule per reachable (agents used, goals
        written) state; for robots with more agents than a step may have goals that grows too
        large, and only the goal count is bounded there."""
        key = (max_goals, allowed, styled)
        if key in self._step_rules:
            return self._step_rules[key]
        goals = self._goals(allowed, styled)
        if len(self.robot.agents) > MAX_GOALS_PER_STEP:
            alternatives = " | ".join(text for text, _ in goals)
            rules = [
                f'step ::= goal ("{GOAL_SEPARATOR}" goal){{0,{max_goals - 1}}}',
                f"goal ::= {alternatives}",
            ]
        else:
            rules = ["step ::= step_0_0"]
            pending, seen = [(0, 0)], {(0, 0)}
            while pending:
                used, written = pending.pop()
                fitting = [(text, used | moved) for text, moved in goals if not used & moved]
                rules.append(
                    f"step_{used}_{written} ::= "
                    + " | ".join(f"{text} more_{after}_{written + 1}" for text, after in fitting)
                )
                for _, after in fitting:
                    state = (after, written + 1)
                    if state in seen:
                        continue
                    seen.add(state)
                    if state[1] < max_goals and any(not after & moved for _, moved in goals):
                        pending.append(state)
                        rules.append(
                            f'more_{after}_{state[1]} ::= "" | "{GOAL_SEPARATOR}" '
                            f"step_{after}_{state[1]}"
                        )
                    else:
                        rules.append(f'more_{after}_{state[1]} ::= ""')
        self._step_rules[key] = "\n".join(rules)
        return self._step_rules[key]

    def shape(self, instruction: str) -> PlanShape:
        """The bounds of one instruction's plan: its structure, what it refers to, the style
        words it implies (like numbers, a style is only written when asked for), and the way
        it moves each agent (see the module docstring)."""
        text = f" {normalize(instruction)} "
        named = sum(
            1
            for phrases in self.vocabulary.names.values()
            if any(f" {p} " in text for p in phrases)
        )
        referred = self.vocabulary.referred(instruction)
        implied = {STYLE_WORDS[word] for word in text.split() if word in STYLE_WORDS}
        waves = bool(_WAVE_RE.search(text))
        polarity = self.vocabulary.polarity(_clauses(instruction.lower()))
        states_zero = any(q.magnitude == 0 for q in stated_quantities(instruction))
        zero = set(self.robot.agent_names) if states_zero else self.vocabulary.zeroed(instruction)
        return PlanShape(
            step_bound(instruction),
            goal_bound(instruction, named),
            referred.agents,
            referred.poses,
            frozenset(implied & set(self.styles)),
            polarity,
            frozenset(zero),
            waves,
            bound_numbers(instruction, self.vocabulary),
        )

    def ebnf(self, numbers: AllowedNumbers, shape: PlanShape = PlanShape()) -> str:
        """The full grammar for an instruction with these numbers and structure bounds."""
        more = max(0, min(shape.max_steps, MAX_STEPS) - 1)
        goals = max(1, min(shape.max_goals, MAX_GOALS_PER_STEP))
        steps = f' ("{STEP_SEPARATOR}" step){{0,{more}}}' if more else ""
        if shape.addresses_nothing:  # nothing of this robot is referred to: nothing to do
            return f'root ::= "{NONE_PLAN}"\n'
        styles = [s for s in self.styles if shape.styles is None or s in shape.styles]
        ways = self._ways(shape)
        rules = [
            f'root ::= "{NONE_PLAN}" | step{steps}',
            self._steps(goals, self._allowed(shape), bool(styles)),
            self._action_rules(bool(styles), ways, self._numbers(numbers, shape), shape.waves),
        ]
        if styles:  # only the style words the instruction implies: a model cannot add one
            rules.append(f"style ::= {_alternatives(styles)}")
        return "\n".join(rules) + "\n"

    def _numbers(self, numbers: AllowedNumbers, shape: PlanShape) -> dict[str, AllowedNumbers]:
        bound = shape.bound or {}
        return {agent: bound.get(agent, numbers) for agent in self.robot.agent_names}

    def for_instruction(self, instruction: str) -> str:
        """The grammar for one instruction: its numbers, and no more steps or goals per step
        than it asks for."""
        return self.ebnf(AllowedNumbers.from_instruction(instruction), self.shape(instruction))


def _both(way: Way) -> tuple[Way, Way]:
    """The ways whose number rules an agent needs: its own, and its unsigned counterpart
    (waves, a gripper's 'to')."""
    return way, _unsigned(way)


def _unsigned(way: Way) -> Way:
    return (0, way[1])


def _action_rule(
    agent: Agent,
    name: str,
    style: str,
    timed: bool,
    way: Way,
    group: int,
    writable: set[str],
    waves: bool,
) -> str:
    """What one kind of agent can do, moving `way`, with the quantities in `writable` of its
    number group; the skills of the agent language (core.language), a wave only if `waves`.
    A wave swings both ways whatever its amplitude's sign. `timed`: its moves state their
    duration (the one its clauses say)."""
    sign = way[0]
    quantity = f"q_{_dimension(agent)}{_suffix(_unsigned(way))}_g{group}"
    signed = f"q_{_dimension(agent)}{_suffix(way)}_g{group}"
    duration = f" duration_g{group}" if timed else ""
    moves = []
    if agent.kind is AgentKind.GRIPPER:  # 'to N' is an opening (>= 0), never a direction
        if quantity in writable:
            moves.append(f'"to " {quantity}{duration}{style}')
        if signed in writable:
            moves.append(f'"by " {signed}{duration}{style}')
        skills = (("open", 1), ("close", -1))  # and the way each moves the fingers
        moves += [f'"{skill}"{style}' for skill, opens in skills if sign != -opens]
    elif signed in writable:
        moves.append(f'("to " | "by ") {signed}{duration}{style}')
    moves.append('"hold"')
    if waves:
        amplitude = f' (" by " {quantity})?' if quantity in writable else ""
        moves.append(f'"wave"{amplitude} (" " count " times")?')
    return f"{name} ::= {' | '.join(moves)}"
