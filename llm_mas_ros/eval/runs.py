"""One backend over the dev set, through the real PlanningPipeline.

Every item starts from the home pose with the gripper closed (every joint at 0.0), or from the
start it states, and goes through the pipeline's fast paths, the backend and the safety shield,
with cache_size=0 so no answer is remembered between items. A plan with an `answer` (a question
answered, nothing moved) is the outcome 'answer'. A planning error is an outcome here, never an
exception: the run always covers every item. Times are in ms.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from llm_mas_ros.core.errors import LlmMasError
from llm_mas_ros.core.planning.llm.grammar import NONE_PLAN
from llm_mas_ros.core.planning.pipeline import Planner, PlanningPipeline
from llm_mas_ros.core.planning.plan import ProposedStep, Step
from llm_mas_ros.core.robot.model import RobotModel
from llm_mas_ros.eval.devset import DevItem
from llm_mas_ros.eval.scoring import Outcome, Score, score


class ObservedBackend:
    """A backend wrapper that tells a deliberate 'no plan' from a failure. 'No plan' is a
    backend that yields no step (the pipeline then raises PlanError) or raises after writing
    the plan 'none' (its `last_stats.text`, as core.llm.backend reports it); any other error
    raised while the backend produces its steps (e.g. output it cannot parse) is a failure.
    `output` is the backend's raw text, when it reports one."""

    def __init__(self, inner: Planner) -> None:
        self.inner = inner
        self.name = inner.name
        self.called = False
        self.failure: LlmMasError | None = None
        self.output: str | None = None
        self.tokens: tuple[int | None, int | None] = (None, None)

    def reset(self) -> None:
        self.called, self.failure, self.output = False, None, None
        self.tokens = (None, None)

    def propose(self, instruction: str) -> Iterator[ProposedStep]:
        self.called = True
        try:
            yield from self.inner.propose(instruction)
        except LlmMasError as error:
            if self._raw_output() != NONE_PLAN:
                self.failure = error
            raise
        finally:  # also when the pipeline stops early (a rejected step closes the generator)
            self.output = self._raw_output()
            self.tokens = self._token_counts()

    def _raw_output(self) -> str | None:
        text = getattr(getattr(self.inner, "last_stats", None), "text", None)
        return text.strip() if isinstance(text, str) else None

    def _token_counts(self) -> tuple[int | None, int | None]:
        """(generated tokens, model calls) of the latest decode, when the backend reports them
        (core.llm.decoder.DecodeStats)."""
        stats = getattr(self.inner, "last_stats", None)
        tokens = getattr(stats, "generated_tokens", None)
        calls = getattr(stats, "model_calls", None)
        return (
            tokens if isinstance(tokens, int) else None,
            calls if isinstance(calls, int) else None,
        )


def home_positions(robot: RobotModel) -> dict[str, float]:
    """The default start of an item: the home pose, gripper closed (every joint at 0.0)."""
    return dict.fromkeys(robot.agent_names, 0.0)


def start_positions(robot: RobotModel, item: DevItem) -> dict[str, float]:
    """Where the robot is when `item`'s instruction arrives: home, but for its `start`."""
    return {**home_positions(robot), **item.start}


def run_item(
    pipeline: PlanningPipeline,
    observer: ObservedBackend | None,
    item: DevItem,
    clock: Callable[[], float] = time.perf_counter,
) -> Outcome:
    """Plan one instruction; never raises for a planning error (that is an outcome)."""
    if observer is not None:
        observer.reset()
    dispatched: list[Step] = []
    started = clock()
    try:
        plan = pipeline.plan(
            item.instruction, start_positions(pipeline.robot, item), dispatched.append
        )
    except LlmMasError as error:
        elapsed = (clock() - started) * 1000.0
        used = observer is not None and observer.called
        generated, calls = _token_counts(observer)
        return Outcome(
            "failure" if observer is not None and observer.failure is not None else "none",
            observer.name if observer is not None and used else "rules",
            error=f"{type(error).__name__}: {error}",
            total_ms=elapsed,
            used_backend=used,
            dispatched=tuple(dispatched),
            output=observer.output if observer is not None else None,
            generated_tokens=generated,
            model_calls=calls,
        )
    if plan.stop:
        kind = "stop"
    elif plan.answer is not None:
        kind = "answer"
    elif plan.rejected:
        kind = "reject"
    else:
        kind = "plan" if plan.steps else "none"
    generated, calls = _token_counts(observer)
    return Outcome(
        kind,
        plan.planner,
        plan.steps,
        plan.rejected,
        first_step_ms=plan.first_step_ms if dispatched else None,
        total_ms=plan.total_ms,
        used_backend=observer is not None and observer.called,
        dispatched=tuple(dispatched),
        output=observer.output if observer is not None else None,
        generated_tokens=generated,
        model_calls=calls,
        answer=plan.answer,
    )


def _token_counts(observer: ObservedBackend | None) -> tuple[int | None, int | None]:
    """(generated tokens, model calls) of this item: None unless the backend planned it."""
    if observer is None or not observer.called:
        return None, None
    return observer.tokens


@dataclass(frozen=True)
class BackendRun:
    """One backend's run: its row name, load + warm-up time (s), and per item (same order) the
    item, its outcome and its score. The lists grow while the run goes on."""

    name: str
    load_s: float
    items: list[DevItem]
    outcomes: list[Outcome] = field(default_factory=list)
    scores: list[Score] = field(default_factory=list)


def run_backend(
    name: str,
    backend: Planner | None,
    robot: RobotModel,
    items: Sequence[DevItem],
    load_s: float = 0.0,
    progress: Callable[[str], None] | None = None,
) -> BackendRun:
    """Every item through PlanningPipeline(robot, backend, cache_size=0); the backend comes
    warmed up from make_backend."""
    observer = ObservedBackend(backend) if backend is not None else None
    pipeline = PlanningPipeline(robot, backend=observer, clamp=False, cache_size=0)
    run = BackendRun(name, load_s, list(items))
    for number, item in enumerate(items, 1):
        outcome = run_item(pipeline, observer, item)
        run.outcomes.append(outcome)
        run.scores.append(score(item, outcome, robot))
        if progress is not None:
            mark = "ok" if run.scores[-1].full else "WRONG"
            progress(
                f"[{name} {number}/{len(items)}] {mark:5} {outcome.total_ms:8.1f} ms "
                f"{item.id}: {item.instruction}"
            )
    return run
