"""The benchmark's summaries, markdown report, backend rows, item selection and probes, on
made-up runs (no model, no pipeline)."""

from __future__ import annotations

import pytest

from llm_mas_ros.core.planning.llm.examples import Example
from llm_mas_ros.core.planning.plan import Goal
from llm_mas_ros.eval.bench_cli import select_items
from llm_mas_ros.eval.devset import CATEGORIES, DevItem
from llm_mas_ros.eval.probes import decode_step_ms, retrieval_latency
from llm_mas_ros.eval.roster import make_backend, row_name
from llm_mas_ros.eval.runs import BackendRun
from llm_mas_ros.eval.scoring import Outcome, Score
from llm_mas_ros.eval.summary import item_records, percentiles, summarise
from llm_mas_ros.eval.tables import markdown

META = {
    "devset": "benchmarks/planner_devset.jsonl",
    "n": 2,
    "machine": "x86_64 2 CPUs, Python 3.11",
    "date": "2026-01-01T00:00:00+00:00",
    "command": "python benchmarks/planner_bench.py --backends rules",
    "git": {"commit": "abc1234", "dirty": True, "changed_files": 3},
    "versions": {"torch": "2.0", "xgrammar": None},
    "cpu": {"model": "Made-up CPU", "flags": {"avx2": True, "amx_bf16": False}},
}


def _run(name: str, tokens: int | None, total_ms: float) -> BackendRun:
    """Two items: a fast-path stop (fully right) and a model-planned plan (wrong)."""
    run = BackendRun(name, 1.25, [])
    goal = Goal("elbow", "move to 10 deg", 0.17, 1.0)
    cases = [
        ("stop-1", ("stop",), "stop", False, True),
        ("plan-1", ("pose", "degrees"), "plan", True, False),
    ]
    for item_id, tags, kind, by_model, full in cases:
        run.items.append(DevItem(item_id, "x", tags, kind, ()))
        run.outcomes.append(
            Outcome(
                kind,
                name if by_model else "rules",
                steps=((goal,),) if kind == "plan" else (),
                first_step_ms=total_ms / 2 if kind == "plan" else None,
                total_ms=total_ms,
                used_backend=by_model,
                generated_tokens=tokens if by_model else None,
                model_calls=tokens + 1 if by_model and tokens is not None else None,
            )
        )
        run.scores.append(Score(True, full, full, full, True, full, True))
    return run


def test_percentiles_of_nothing_are_none_and_of_values_rounded():
    assert percentiles([]) == {"p50": None, "p90": None, "n": 0}
    assert percentiles([1.0, 2.0, 3.0, 4.0, 5.0]) == {"p50": 3.0, "p90": 4.6, "n": 5}


def test_summary_counts_paths_tokens_and_tags():
    summary = summarise(_run("smollm2", 12, 40.0))
    assert summary["paths"] == {"fast_path": 1, "backend": 1}
    assert summary["tokens"] == {"generated_mean": 12.0, "model_calls_mean": 13.0, "n": 1}
    assert summary["by_tag"]["stop"] == {"n": 1, "full": 1}
    assert summary["by_tag"]["pose"] == {"n": 1, "full": 0}
    assert summary["latency_ms"]["model_first_step"]["p50"] == 20.0
    assert summary["load_s"] == 1.25


def test_summary_lists_every_issue_10_category_even_without_items():
    run = _run("rules", None, 1.0)
    run.items[1] = DevItem("plan-1", "x", ("relative", "pose"), "plan", ())
    by_category = summarise(run)["by_category"]
    assert list(by_category) == list(CATEGORIES)
    assert by_category["relative"] == {"n": 1, "full": 0, "rate": 0.0}
    assert by_category["question"] == {"n": 0, "full": 0, "rate": None}


def test_markdown_has_a_per_category_table():
    run = _run("rules", None, 1.0)
    run.items[0] = DevItem("stop-1", "x", ("question",), "answer", ())
    table = _report(run, _run("smollm2", 12, 40.0))
    assert "## Fully right, per category" in table
    assert "| question | 1 | 1/1 (100.0%) | - |" in table  # smollm2's run has no question
    assert "| wait-back | 0 | - | - |" in table
    assert table.index("per category") < table.index("per tag")


def test_item_records_keep_what_came_out():
    stop, plan = item_records(_run("smollm2", 12, 40.0))
    assert (stop["id"], stop["outcome"], stop["full"], stop["first_step_ms"]) == (
        "stop-1",
        "stop",
        True,
        None,
    )
    assert plan["steps"] == [[Goal("elbow", "move to 10 deg", 0.17, 1.0).to_json()]]
    assert plan["generated_tokens"] == 12 and plan["total_ms"] == 40.0
    assert plan["answer"] is None and plan["mentions"] and plan["start"] is None


def _report(*runs: BackendRun) -> str:
    summaries = [summarise(run) for run in runs]
    return markdown(summaries, {run.name: item_records(run) for run in runs}, META)


def test_markdown_has_a_row_per_backend_and_the_run_header():
    table = _report(_run("rules", None, 1.0))
    assert "| rules | 50.0% | 0.0% | 50.0% |" in table  # all, model-planned, targets
    assert "at commit `abc1234`, dirty: 3 files changed" in table
    assert "Software: torch 2.0." in table  # a package not installed is left out
    assert "CPU: Made-up CPU (avx2 yes, amx_bf16 no)" in table
    assert "- **rules** (1): `plan-1` (plan)" in table
    assert "| pose | 1 | 0/1 |" in table


def test_markdown_compares_plain_generate_with_constrained_decoding():
    table = _report(_run("smollm2", 10, 40.0), _run("smollm2-plain", 30, 100.0))
    assert "Plain `generate()` vs constrained streaming decoding:" in table
    assert "plain / constrained = 2.50x" in table
    assert "smollm2 10.0 / 11.0 vs smollm2-plain 30.0 / 31.0" in table


def test_markdown_without_a_pair_has_no_ratio_section():
    assert "plain / constrained" not in _report(_run("smollm2-plain", 30, 100.0))


@pytest.mark.parametrize(
    "name, model_path, row",
    [
        ("rules", "", "rules"),
        ("smollm2-plain", "/m/x", "smollm2-plain"),
        ("local", "/models/my-planner/", "local:my-planner"),
        ("local-plain", "/models/my-planner", "local:my-planner-plain"),
        ("local", "", "local"),
    ],
)
def test_rows_of_local_models_are_named_after_their_directory(name, model_path, row):
    assert row_name(name, model_path) == row


def test_the_rules_backend_is_the_pipeline_alone():
    assert make_backend("rules", robot=None, retriever=None) is None  # type: ignore[arg-type]


def test_items_are_selected_by_tag_then_limited():
    items = [DevItem(f"i{n}", "x", (tag,), "none", ()) for n, tag in enumerate("abab")]
    assert [i.id for i in select_items(items)] == ["i0", "i1", "i2", "i3"]
    assert [i.id for i in select_items(items, "b")] == ["i1", "i3"]
    assert [i.id for i in select_items(items, "a,b", 3)] == ["i0", "i1", "i2"]
    assert [i.id for i in select_items(items, "c")] == []


class _Retriever:
    def __init__(self) -> None:
        self.examples = [Example("open the hand", "gripper open")] * 4
        self.last_embed_ms = 2.0
        self.asked: list[tuple[str, int]] = []

    def top_k(self, instruction: str, k: int) -> list[Example]:
        self.asked.append((instruction, k))
        return self.examples[:k]


def test_retrieval_latency_asks_once_per_item_and_reports_the_encoder_time():
    retriever = _Retriever()
    items = [DevItem(f"i{n}", f"say {n}", ("t",), "none", ()) for n in range(3)]
    report = retrieval_latency(retriever, items, k=2)
    assert retriever.asked == [("say 0", 2), ("say 1", 2), ("say 2", 2)]
    assert (report["retriever"], report["k"], report["bank_size"]) == ("_Retriever", 2, 4)
    assert report["embed_ms"] == {"p50": 2.0, "p90": 2.0, "n": 3}
    assert report["top_k_ms"]["n"] == 3


def test_a_backend_without_a_decoder_has_no_decode_step():
    assert decode_step_ms(object()) is None


def test_an_agent_the_item_never_addresses_is_counted_as_unrequested():
    from llm_mas_ros.core.planning.plan import Goal
    from llm_mas_ros.eval.devset import DevItem, GoalSpec
    from llm_mas_ros.eval.scoring import unrequested_agents

    item = DevItem("x", "elbow to 45 deg", (), "plan", ({"elbow": GoalSpec(0.785)},))
    asked = [(Goal("elbow", "move to 45 deg", 0.785, 1.0),)]
    padded = [
        (Goal("elbow", "move to 45 deg", 0.785, 1.0), Goal("shoulder_pan", "hold", None, None))
    ]
    assert unrequested_agents(item, asked) == ()
    assert unrequested_agents(item, padded) == ("shoulder_pan",)
