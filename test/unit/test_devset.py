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
from llm_mas_ros.core.planning.plan import Goal, Plan, ProposedStep, Rejection
from llm_mas_ros.core.planning.rules import RulePlanner
from llm_mas_ros.core.robot.model import RobotModel, load_robot
from llm_mas_ros.eval.bench_cli import main
from llm_mas_ros.eval.devset import CATEGORIES, OUTCOMES, DevItem, load_devset, parse_item
from llm_mas_ros.eval.runs import BackendRun, ObservedBackend, run_item, start_positions
from llm_mas_ros.eval.scoring import Outcome, Score, limit_violations, mentions_ok, score
from llm_mas_ros.eval.summary import rejection_metrics, summarise

ROOT = Path(__file__).resolve().parents[2]
DEVSET_FILE = ROOT / "benchmarks" / "planner_devset.jsonl"
# Written by someone who saw the conventions but neither the bank nor the dev set.
HELDOUT_FILE = ROOT / "benchmarks" / "planner_heldout.jsonl"
BANK_FILE = ROOT / "config" / "planner_examples.yaml"

CATEGORY_MIN = {"dev": 8, "heldout": 5}  # items per issue-10 category in each set
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


@pytest.mark.parametrize("which", ["dev", "heldout"])
def test_every_issue_10_category_has_items_in_both_sets(robot, which):
    """Accuracy per category (relative moves, vague amounts, expressions, refusals, questions,
    wait / back, clause-bound numbers, durations) means something only with items enough."""
    chosen = load_devset(DEVSET_FILE if which == "dev" else HELDOUT_FILE, robot)
    counts = {c: sum(c in item.tags for item in chosen) for c in CATEGORIES}
    thin = {c: n for c, n in counts.items() if n < CATEGORY_MIN[which]}
    assert not thin, f"{which}: categories with too few items: {thin}"
    assert {"answer", "none", "plan", "reject"} <= {item.expect for item in chosen}


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


BASE = {"id": "x", "instruction": "where is the elbow?", "tags": ["question"]}


@pytest.mark.parametrize(
    "line, message",
    [
        ({**BASE, "expect": "answer", "steps": [{"elbow": 1.0}]}, "have none"),
        (
            {**BASE, "expect": "none", "steps": [], "answer_mentions": ["elbow"]},
            "only for expect 'answer'",
        ),
        ({**BASE, "expect": "answer", "steps": [], "answer_mentions": []}, "non-empty list"),
        ({**BASE, "expect": "answer", "steps": [], "answer_mentions": [""]}, "non-empty list"),
        ({**BASE, "expect": "answer", "steps": [], "start": "sleeping"}, "start pose"),
        ({**BASE, "expect": "answer", "steps": [], "start": {"laser": 1.0}}, "unknown agent"),
        ({**BASE, "expect": "answer", "steps": [], "start": {"elbow": 3.0}}, "outside"),
        ({**BASE, "expect": "answer", "steps": [], "start": {"elbow": "up"}}, "a number"),
        ({**BASE, "expect": "answer", "steps": [], "start": {}}, "pose name or"),
    ],
)
def test_answers_and_starts_are_validated(robot, line, message):
    with pytest.raises(ConfigError, match=message):
        parse_item(line, robot)


def test_an_answer_item_keeps_its_mentions_and_a_named_start_is_resolved(robot):
    line = {**BASE, "expect": "answer", "steps": [], "answer_mentions": ["elbow"]}
    item = parse_item({**line, "start": "ready"}, robot)
    assert item.expect == "answer" and item.answer_mentions == ("elbow",)
    assert item.start["elbow"] == 1.2 and item.start["shoulder_lift"] == -0.6
    positions = start_positions(robot, item)
    assert positions["gripper"] == 0.0 and positions["wrist_1"] == 0.9
    given = parse_item({**line, "start": {"gripper": 0.02}}, robot)
    assert start_positions(robot, given) == {
        **dict.fromkeys(robot.agent_names, 0.0),
        "gripper": 0.02,
    }
    assert parse_item(line, robot).start == {}  # home


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
    """A fake backend: one fixed plan-language answer, whatever the instruction (the pipeline
    hands a backend the instruction with its amounts rewritten: 'ninety' as '90'); 'none': no
    steps; '!': raises, as a backend does on output it cannot parse."""

    name = "scripted"

    def __init__(self, robot: RobotModel, answer: str) -> None:
        self.rules = RulePlanner(robot)
        self.answer = answer

    def propose(self, instruction: str) -> Iterator[ProposedStep]:
        if self.answer == "!":
            raise PlanError("unparseable model output")
        if self.answer != "none":
            yield from self.rules.propose(self.answer)


def _no_rules(instruction: str) -> Iterator[ProposedStep]:
    raise PlanError("the rules fast path is off in this test")


def _run(robot, item, answer):
    """`item` planned by a scripted backend that answers `answer`, the rules fast path off (it
    would plan many dev instructions itself, and the backend would never be asked)."""
    backend = ObservedBackend(ScriptedPlanner(robot, answer))
    pipeline = PlanningPipeline(robot, backend=backend, cache_size=0)
    pipeline.rules.propose = _no_rules  # type: ignore[method-assign]
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
    item = _item(items, "i10-vague-12")  # "move the elbow a bit": which way? none
    outcome, result = _run(robot, item, "none")
    assert outcome.kind == "none" and result.full and result.parsed
    outcome, result = _run(robot, item, "!")
    assert outcome.kind == "failure" and not result.parsed and not result.full


class FakePipeline:
    """Stands in for PlanningPipeline: returns a fixed Plan and remembers where it started."""

    def __init__(self, robot: RobotModel, plan: Plan) -> None:
        self.robot = robot
        self.fixed = plan
        self.positions: dict[str, float] = {}

    def plan(self, instruction, positions, on_step=None) -> Plan:
        self.positions = dict(positions)
        for step in self.fixed.steps:
            if on_step is not None:
                on_step(step)
        return self.fixed


QUESTION = DevItem(
    "q", "where is the elbow?", ("question",), "answer", (), answer_mentions=("Elbow", "deg")
)


def _answered(robot, item, answer, steps=()):
    pipeline = FakePipeline(
        robot, Plan(item.instruction, "fast-path:answer", steps, answer=answer)
    )
    outcome = run_item(pipeline, None, item)  # type: ignore[arg-type]
    return outcome, score(item, outcome, robot)


def test_a_plan_with_an_answer_is_the_outcome_answer_and_scored_by_its_mentions(robot):
    outcome, result = _answered(robot, QUESTION, "elbow: 0.0 DEG (0.000 rad)")
    assert outcome.kind == "answer" and outcome.answer == "elbow: 0.0 DEG (0.000 rad)"
    assert outcome.planner == "fast-path:answer" and outcome.first_step_ms is None
    assert result.outcome and result.structure and result.mentions and result.full
    _, vague = _answered(robot, QUESTION, "the elbow is fine")  # no 'deg': a mention missing
    assert vague.outcome and not vague.mentions and not vague.full
    _, empty = _answered(robot, QUESTION, "")  # an answer, but it says nothing
    assert empty.outcome and not empty.full


def test_an_answer_needs_no_mentions_when_the_item_lists_none(robot):
    item = DevItem("q", "how many joints do you have", ("question",), "answer", ())
    _, result = _answered(robot, item, "7")
    assert result.full


def test_a_question_that_moves_or_plans_nothing_is_not_an_answer(robot):
    moved = ((Goal("elbow", "hold", None, None),),)
    outcome, result = _answered(robot, QUESTION, None, moved)  # 'elbow: hold', the issue's row
    assert outcome.kind == "plan" and not result.outcome and not result.mentions
    assert not result.full
    outcome, result = _answered(robot, QUESTION, None)
    assert outcome.kind == "none" and not result.full
    assert not mentions_ok(QUESTION, outcome)


def test_an_answer_where_a_refusal_is_expected_is_wrong(robot):
    item = DevItem("w", "what is the weather like?", ("question",), "none", ())
    outcome, result = _answered(robot, item, "sunny")
    assert outcome.kind == "answer" and not result.outcome and not result.full
    assert result.mentions  # only an 'answer' item checks mentions


def test_items_start_where_they_say(robot):
    item = DevItem("s", "where is the elbow?", ("question",), "answer", (), start={"elbow": 0.5})
    pipeline = FakePipeline(robot, Plan(item.instruction, "fast-path:answer", answer="elbow"))
    run_item(pipeline, None, item)  # type: ignore[arg-type]
    assert pipeline.positions == {**dict.fromkeys(robot.agent_names, 0.0), "elbow": 0.5}


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
