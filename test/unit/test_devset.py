"""The planner dev set and the example bank: schema, limits, disjointness, and the scorer.

The dev set measures the planner only if it is honest: no instruction of it may appear in the
example bank the planner retrieves from, not even as a near-copy (same words with other numbers,
a few characters changed, or the same meaning in other words)."""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from llm_mas_ros.core.errors import ConfigError, PlanError
from llm_mas_ros.core.language.agent_language import normalize
from llm_mas_ros.core.language.quantities import number_words_values, stated_numbers
from llm_mas_ros.core.planning.llm.examples import Example, load_examples
from llm_mas_ros.core.planning.pipeline import PlanningPipeline
from llm_mas_ros.core.planning.plan import Goal, ProposedStep, Rejection
from llm_mas_ros.core.planning.rules import RulePlanner
from llm_mas_ros.core.robot.model import RobotModel, load_robot
from llm_mas_ros.eval.bench_cli import main
from llm_mas_ros.eval.devset import OUTCOMES, DevItem, load_devset, parse_item
from llm_mas_ros.eval.runs import BackendRun, ObservedBackend, run_item
from llm_mas_ros.eval.scoring import Outcome, Score, limit_violations, score
from llm_mas_ros.eval.summary import rejection_metrics, summarise

ROOT = Path(__file__).resolve().parents[2]
DEVSET_FILE = ROOT / "benchmarks" / "planner_devset.jsonl"
# Written by someone who saw the conventions but neither the bank nor the dev set.
HELDOUT_FILE = ROOT / "benchmarks" / "planner_heldout.jsonl"
BANK_FILE = ROOT / "config" / "planner_examples.yaml"

NEAR_COPY_RATIO = 0.90  # difflib ratio of normalised texts at or above which two are near-copies
NEAR_COPY_COSINE = 0.97  # MiniLM cosine at or above which two instructions say the same thing
REQUIRED_TAGS = (
    "synonym",
    "degrees",
    "radians",
    "number-words",
    "relative",
    "direction",
    "pose",
    "two-step",
    "three-step",
    "simultaneous",
    "polite",
    "typo",
    "out-of-limit",
    "injection",
    "nonsense",
    "style",
    "gripper",
)
PLAN_NUMBER_RE = re.compile(r"\b(?:to|by|in) (-?\d+(?:\.\d+)?)\b")


@pytest.fixture(scope="module")
def robot() -> RobotModel:
    return load_robot()


@pytest.fixture(scope="module")
def items(robot):
    return load_devset(DEVSET_FILE, robot)


@pytest.fixture(scope="module", params=[DEVSET_FILE, HELDOUT_FILE], ids=["dev", "heldout"])
def every_set(request, robot):
    """The dev set, then the held-out set: both must be valid and honest."""
    return load_devset(request.param, robot)


@pytest.fixture(scope="module")
def bank() -> list[Example]:
    return load_examples(BANK_FILE)


@pytest.fixture(scope="session")
def minilm():
    """The real sentence encoder (its weights load once per process, ~1-3 s)."""
    from llm_mas_ros.core.planning.llm.retrieval import MiniLMEncoder

    encoder = MiniLMEncoder()
    encoder.load()
    return encoder


def _masked(text: str) -> str:
    """Normalised text with every number (digits or words) replaced by '#'."""
    words = normalize(text).replace("-", " ").split()
    return " ".join(
        "#" if re.fullmatch(r"[+-]?\d+(?:\.\d+)?", word) or number_words_values(word) else word
        for word in words
    )


# --- the dev set --------------------------------------------------------------------------------


def test_every_devset_line_validates_and_the_set_is_large_and_varied(items):
    assert len(items) >= 80
    tags = [tag for item in items for tag in item.tags]
    thin = {tag: tags.count(tag) for tag in REQUIRED_TAGS if tags.count(tag) < 3}
    assert not thin, f"tags with fewer than 3 items: {thin}"
    assert {item.expect for item in items} == set(OUTCOMES)


@pytest.mark.parametrize(
    "line, message",
    [
        (
            {"id": "x", "instruction": "open", "tags": ["t"], "expect": "plan", "steps": []},
            "has steps",
        ),
        (
            {"id": "x", "instruction": "open", "tags": ["t"], "expect": "maybe", "steps": []},
            "expect must be",
        ),
        (
            {
                "id": "x",
                "instruction": "open",
                "tags": ["t"],
                "expect": "plan",
                "steps": [{"laser": 1.0}],
            },
            "unknown agent",
        ),
        (
            {"id": "x", "instruction": "open", "tags": ["t"], "expect": "reject", "steps": []},
            "'rejected' is given",
        ),
        (
            {
                "id": "x",
                "instruction": "open",
                "tags": ["t"],
                "expect": "plan",
                "steps": [{"elbow": {"target": 1.0, "speed": 2}}],
            },
            "a goal object",
        ),
        (
            {
                "id": "x",
                "instruction": "open",
                "tags": ["t"],
                "expect": "none",
                "steps": [],
                "extra": 1,
            },
            "unknown keys",
        ),
    ],
)
def test_schema_violations_are_reported_with_their_reason(robot, line, message):
    with pytest.raises(ConfigError, match=message):
        parse_item(line, robot)


def test_expected_targets_lie_within_the_urdf_limits(every_set, robot):
    """Targets a plan must reach are reachable; what breaks a limit is an expected rejection."""
    for item in every_set:
        for step in item.steps:
            for agent, spec in step.items():
                if spec.target is not None:
                    joint = robot.agent(agent).joint
                    slack = 5e-5  # targets are written to 4 decimals: 180 deg is 3.1416
                    assert joint.lower - slack <= spec.target <= joint.upper + slack, item.id


def test_devset_ids_and_instructions_are_unique(every_set):
    keys = [normalize(item.instruction) for item in every_set]
    assert len(set(keys)) == len(keys)


def test_devset_is_disjoint_from_the_bank_exactly_and_when_normalised(every_set, bank):
    bank_keys = {normalize(e.instruction) for e in bank}
    bank_masked = {_masked(e.instruction) for e in bank}
    assert not [i.id for i in every_set if normalize(i.instruction) in bank_keys]
    assert not [i.id for i in every_set if _masked(i.instruction) in bank_masked]


def test_no_devset_instruction_is_a_near_copy_of_a_bank_one(every_set, bank):
    bank_keys = [normalize(e.instruction) for e in bank]
    close = []
    for item in every_set:
        key = normalize(item.instruction)
        matcher = difflib.SequenceMatcher(None, key)
        for other in bank_keys:
            matcher.set_seq1(other)
            if min(matcher.real_quick_ratio(), matcher.ratio()) >= NEAR_COPY_RATIO:
                close.append((item.id, other))
    assert not close


def test_no_devset_instruction_means_the_same_as_a_bank_one(every_set, bank, minilm, tmp_path):
    from llm_mas_ros.core.planning.llm.retrieval import EmbeddingRetriever

    retriever = EmbeddingRetriever(bank, minilm, cache_dir=tmp_path)
    queries = minilm.encode([item.instruction for item in every_set])
    similarity = queries @ retriever.vectors.T
    best = similarity.max(axis=1)
    close = [
        (every_set[i].id, bank[int(similarity[i].argmax())].instruction, round(float(best[i]), 3))
        for i in range(len(every_set))
        if best[i] >= NEAR_COPY_COSINE
    ]
    assert not close


# --- the example bank ---------------------------------------------------------------------------


def test_bank_is_large_and_its_instructions_unique(bank):
    assert 120 <= len(bank) <= 220
    keys = [normalize(e.instruction) for e in bank]
    assert len(set(keys)) == len(keys)
    assert any(e.plan == "none" for e in bank)


def test_every_bank_plan_parses(bank, robot):
    rules = RulePlanner(robot)
    for example in bank:
        if example.plan != "none":
            assert list(rules.propose(example.plan)), example


def test_bank_plans_write_only_numbers_their_instruction_states(bank):
    """The decoder lets a model copy only stated numbers (and 0): examples must show that."""
    for example in bank:
        written = {abs(float(n)) for n in PLAN_NUMBER_RE.findall(example.plan)}
        assert written <= stated_numbers(example.instruction) | {0.0}, example


def test_the_constrained_decoder_can_write_every_bank_plan(bank, robot):
    import xgrammar  # required dependencies: a missing one must fail, not skip

    from llm_mas_ros.core.planning.llm import grammar as grammar_module

    grammar = grammar_module.PlanGrammar(robot)
    refused = [
        example
        for example in bank
        if not xgrammar.testing._is_grammar_accept_string(
            xgrammar.Grammar.from_ebnf(grammar.for_instruction(example.instruction)), example.plan
        )
    ]
    assert not refused


# --- the scorer ---------------------------------------------------------------------------------


class ScriptedPlanner:
    """A fake backend: a fixed plan-language answer per instruction ('none': no steps;
    '!': raises, as a backend does on output it cannot parse)."""

    name = "scripted"

    def __init__(self, robot: RobotModel, answers: dict[str, str]) -> None:
        self.rules = RulePlanner(robot)
        self.answers = answers

    def propose(self, instruction: str) -> Iterator[ProposedStep]:
        answer = self.answers[instruction]
        if answer == "!":
            raise PlanError("unparseable model output")
        if answer != "none":
            yield from self.rules.propose(answer)


def _run(robot, item, answer):
    backend = ObservedBackend(ScriptedPlanner(robot, {item.instruction: answer}))
    pipeline = PlanningPipeline(robot, backend=backend, cache_size=0)
    outcome = run_item(pipeline, backend, item)
    return outcome, score(item, outcome, robot)


def _item(items, item_id):
    return next(item for item in items if item.id == item_id)


def test_a_perfect_plan_scores_fully_right(items, robot):
    item = _item(items, "issue-2")
    outcome, result = _run(robot, item, "gripper open then shoulder_pan to 90 deg")
    assert outcome.used_backend and outcome.kind == "plan"
    assert result.full and result.targets and result.structure and result.parsed
    assert outcome.first_step_ms is not None and outcome.first_step_ms <= outcome.total_ms


@pytest.mark.parametrize(
    "answer, structure, targets",
    [
        ("gripper open then shoulder_pan to 80 deg", True, False),  # 10 deg off: beyond 0.02 rad
        ("gripper open then shoulder_pan to -90 deg", True, False),  # wrong direction
        ("gripper open, shoulder_pan to 90 deg", False, False),  # one step, not two
        ("shoulder_pan to 90 deg", False, False),  # a goal missing
    ],
)
def test_a_wrong_plan_scores_wrong(items, robot, answer, structure, targets):
    _, result = _run(robot, _item(items, "issue-2"), answer)
    assert not result.full
    assert (result.structure, result.targets) == (structure, targets)


def test_optional_checks_catch_a_move_that_should_be_a_wave(items, robot):
    item = _item(items, "wave-01")
    _, right = _run(robot, item, "wrist_2 wave")
    _, wrong = _run(robot, item, "wrist_2 to 0 deg")
    assert right.full
    assert wrong.targets and not wrong.details and not wrong.full


def test_rejections_are_scored_by_agent_and_reason(items, robot):
    item = _item(items, "limit-06")  # elbow +100 deg, then +80 deg more: beyond 160.4 deg
    outcome, result = _run(robot, item, "elbow by 100 deg then elbow by 80 deg")
    assert outcome.kind == "reject" and result.full and result.rejection
    _, lenient = _run(robot, item, "elbow by 100 deg then elbow by 50 deg")
    assert not lenient.rejection and not lenient.full


def test_no_plan_and_unparseable_output_are_told_apart(items, robot):
    item = _item(items, "none-02")
    outcome, result = _run(robot, item, "none")
    assert outcome.kind == "none" and result.full and result.parsed
    outcome, result = _run(robot, item, "!")
    assert outcome.kind == "failure" and not result.parsed and not result.full


def test_dispatched_targets_outside_the_limits_are_found(robot):
    goal = Goal("elbow", "move to 170 deg", 2.967, 1.0)
    assert limit_violations([(goal,)], robot)
    assert not limit_violations([(Goal("elbow", "move to 10 deg", 0.17, 1.0),)], robot)


def test_rules_only_benchmark_runs_and_writes_its_report(tmp_path, capsys):
    assert main(["--backends", "rules", "--out", str(tmp_path), "--quiet"]) == 0
    report = json.loads((tmp_path / "planner.json").read_text())
    summary = report["backends"][0]
    assert summary["backend"] == "rules" and summary["limit_violations"] == 0
    assert summary["parse_rate"] == 1.0
    assert "| rules |" in (tmp_path / "planner.md").read_text()
    assert "| rules |" in capsys.readouterr().out


def _made_up_run(cases: list[tuple[str, bool, bool, bool]]):
    """A run of (expect, shield rejected a goal, item fully right, planned by the backend)."""
    run = BackendRun("made-up", 0.0, [])
    for number, (expect, rejected, full, by_model) in enumerate(cases):
        run.items.append(DevItem(f"i{number}", "x", (), expect, ()))
        rejections = (Rejection("elbow", "to 400 deg", "outside the limits"),) if rejected else ()
        run.outcomes.append(Outcome("plan", "made-up", rejected=rejections, used_backend=by_model))
        run.scores.append(Score(True, full, full, full, full, full, True))
    return run


def test_rejection_precision_and_recall_count_only_shield_rejections():
    run = _made_up_run(
        [
            ("reject", True, True, True),  # found
            ("reject", False, False, True),  # missed
            ("plan", True, False, True),  # a false alarm
            ("plan", False, True, False),
        ]
    )
    metrics = rejection_metrics(run)
    assert (metrics["expected"], metrics["predicted"], metrics["true_positive"]) == (2, 2, 1)
    assert metrics["precision"] == 0.5 and metrics["recall"] == 0.5


def test_model_planned_accuracy_leaves_the_fast_paths_out():
    run = _made_up_run(
        [("plan", False, True, False), ("plan", False, True, False), ("plan", False, False, True)]
    )
    accuracy = summarise(run)["accuracy"]
    assert accuracy["full"] == pytest.approx(2 / 3, abs=1e-4)
    assert accuracy["full_model"] == 0.0
