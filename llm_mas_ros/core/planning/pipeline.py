"""Instruction -> validated plan: fast paths, a planner backend, the safety shield, streaming.

Order of attempts, cheapest first:
  1. stop / halt / freeze           -> a stop plan (hold every agent now), no model involved
  2. a question                     -> an answer from the positions and config; nothing moves
  3. amounts rewritten              -> 'pi/2' is 1.570796 rad, 'a quarter turn' 90 deg (every
                                       planner below reads the rewritten words)
  4. the plan cache                 -> proposals planned before for the same words
  5. the rules (agent language and everyday phrasings) -> direct dispatch, no model involved
  6. nothing of this robot referred to -> refused with what it can do, no model involved
  7. the backend (a language model) -> streamed step by step
Every step passes the shield before it is handed on, and is handed on as soon as it passes.
"""

from __future__ import annotations

import contextlib
import math
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from typing import Protocol

from ..errors import PlanError, Refused
from ..language.agent_language import COURTESY_WORDS, GLOBAL_HOLD_WORDS, check_text, normalize
from ..language.expressions import rewrite_amounts
from ..robot.model import RobotModel
from .answers import Answerer, is_question, nothing_to_do
from .plan import Plan, PlanBuilder, Proposal, ProposedStep, Step
from .rules import RulePlanner
from .shield import SafetyShield

MAX_INSTRUCTION_CHARS = 2000
STOP_PLANNER = "fast-path:stop"  # the planner name of a stop plan
ANSWER_PLANNER = "fast-path:answer"  # the planner name of a question's answer
NOT_A_NUMBER_RE = re.compile(r"[-+]?\b(?:nan|inf|infinity)\b", re.IGNORECASE)
# Words a stop may come with that add no goal: who is addressed, how urgent, what is stopped.
# Agent names are not among them: 'stop the elbow' holds the elbow alone (the rules plan it).
STOP_FILLER_WORDS = (
    COURTESY_WORDS
    | {"now", "immediately", "right", "emergency"}
    | {"it", "the", "all", "everything", "everybody", "everyone", "robot", "arm", "joints"}
    | {"moving", "motion", "motions", "movement", "movements"}
    | {"on", "still", "steady", "position", "positions", "put", "there", "in", "place", "keep"}
    | {"where", "you", "are", "is"}
)


class Planner(Protocol):
    """A planner backend: yields proposed steps in order, as soon as each is known."""

    name: str

    def propose(self, instruction: str) -> Iterator[ProposedStep]: ...


def check_instruction(text: object) -> str:
    """The instruction as it is, or a PlanError saying why it cannot be planned."""
    text = check_text(text, "instruction", MAX_INSTRUCTION_CHARS, PlanError)
    if match := NOT_A_NUMBER_RE.search(text):
        # Never let a model guess what 'nan degrees' means (it would pick 0).
        raise PlanError(f"{match.group(0)!r} is not a number a joint can move to")
    return text


def is_stop(instruction: str) -> bool:
    """True when the instruction is a stop or a hold and nothing more: stop or hold words
    ('stop', 'halt', 'freeze', 'e-stop', 'hold', 'stay', 'keep still') with only courtesy,
    urgency or 'everything' around them ('hey, stop please', 'STOP STOP', 'hold on', 'stay where
    you are'). A goal beside the word ('stop at 30 degrees', 'hold the elbow', "don't stop") is
    not the global stop."""
    words = [w for w in normalize(instruction).split() if w.strip("+-%")]
    says_hold = any(w in GLOBAL_HOLD_WORDS for w in words) or (
        "keep" in words and bool({"still", "steady"} & set(words))
    )
    return says_hold and all(w in GLOBAL_HOLD_WORDS or w in STOP_FILLER_WORDS for w in words)


class PlanCache:
    """LRU cache of proposals by normalised instruction. Proposals, not goals, are cached:
    targets of relative moves depend on where the robot is, so the shield runs every time."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[str, tuple[str, tuple[ProposedStep, ...]]] = OrderedDict()

    def get(self, instruction: str) -> tuple[str, tuple[ProposedStep, ...]] | None:
        key = normalize(instruction)
        if key in self._entries:
            self._entries.move_to_end(key)
            return self._entries[key]
        return None

    def put(self, instruction: str, planner: str, steps: Iterable[ProposedStep]) -> None:
        if self.size <= 0:
            return
        self._entries[normalize(instruction)] = (planner, tuple(steps))
        self._entries.move_to_end(normalize(instruction))
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)


StepCallback = Callable[[Step], None]


class PlanningPipeline:
    """Plans instructions for one robot. Not thread-safe: one instruction at a time."""

    def __init__(
        self,
        robot: RobotModel,
        backend: Planner | None = None,
        clamp: bool = False,
        cache_size: int = 256,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.robot = robot
        self.rules = RulePlanner(robot)
        self.answerer = Answerer(robot, self.rules.vocabulary)
        self.backend = backend
        self.shield = SafetyShield(robot, clamp=clamp)
        self.cache = PlanCache(cache_size)
        self.clock = clock

    @property
    def name(self) -> str:
        return self.backend.name if self.backend else self.rules.name

    def plan(
        self,
        instruction: object,
        positions: Mapping[str, float],
        on_step: StepCallback | None = None,
    ) -> Plan:
        """Plan `instruction` from `positions` (agent -> rad or m). `on_step` receives each
        validated step as soon as it passes the shield. Raises PlanError with a reason."""
        started = self.clock()
        text = check_instruction(instruction)
        if is_stop(text):
            elapsed = (self.clock() - started) * 1000.0
            return Plan(text, STOP_PLANNER, stop=True, first_step_ms=elapsed, total_ms=elapsed)
        if is_question(text):
            answer = self.answerer.answer(text, positions)
            elapsed = (self.clock() - started) * 1000.0
            return Plan(
                text, ANSWER_PLANNER, answer=answer, first_step_ms=elapsed, total_ms=elapsed
            )
        planner, steps = self._proposals(rewrite_amounts(text), text)
        builder = PlanBuilder(text, planner)
        expected = {agent: positions.get(agent, math.nan) for agent in self.robot.agent_names}
        origin = dict(expected)  # where 'move it back' goes
        first_step_ms = math.nan
        recorded: list[ProposedStep] = []
        # Closed on the way out: a decode cut short by a rejection ends here and now (its
        # statistics final), not whenever the garbage collector finds it.
        with contextlib.closing(steps):
            for proposals in steps:
                recorded.append(proposals)
                checked = self.shield.check_step(proposals, expected, origin)
                builder.notes.extend(checked.notes)
                if checked.rejected:
                    builder.rejected.extend(checked.rejected)
                    break  # execution never goes past a step with a rejected goal
                builder.steps.append(checked.goals)
                if math.isnan(first_step_ms):
                    first_step_ms = (self.clock() - started) * 1000.0
                if on_step is not None:
                    on_step(checked.goals)
            else:
                if not planner.startswith("cache"):
                    self.cache.put(rewrite_amounts(text), planner, recorded)
        total_ms = (self.clock() - started) * 1000.0
        return builder.build(
            first_step_ms if not math.isnan(first_step_ms) else total_ms, total_ms
        )

    def _proposals(self, text: str, said: str) -> tuple[str, Generator[ProposedStep, None, None]]:
        """Proposals for `text` (the instruction `said`, amounts rewritten)."""
        cached = self.cache.get(text)
        if cached is not None:
            return f"cache:{cached[0]}", _each(cached[1])
        try:
            return "fast-path:rules", _each(list(self.rules.propose(text)))
        except Refused:
            raise  # understood, and refused: a model must not guess ('a bit': which way?)
        except PlanError as rules_error:
            if self.rules.vocabulary.referred(text).nothing:
                raise nothing_to_do(self.robot, said, names_nothing=True) from rules_error
            if self.backend is None:
                raise
            return self.backend.name, self._guarded(self.backend.propose(text), rules_error)

    @staticmethod
    def _guarded(
        steps: Iterator[ProposedStep], rules_error: PlanError
    ) -> Generator[ProposedStep, None, None]:
        first = next(steps, None)
        if first is None:
            raise PlanError(f"the planner found no goal in the instruction ({rules_error})")
        yield first
        yield from steps  # closing this generator closes the backend's (a decode) too


def _each(steps: Iterable[ProposedStep]) -> Generator[ProposedStep, None, None]:
    yield from steps


__all__ = [
    "ANSWER_PLANNER",
    "STOP_PLANNER",
    "PlanCache",
    "Planner",
    "PlanningPipeline",
    "Proposal",
    "is_stop",
]
