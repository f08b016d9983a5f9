"""The bench's report, without ROS: ratios, the acceptance checks, the JSON (no NaN, what a
reader relies on is there), the markdown tables and the PNG plots, from sections made up here
with the shapes the control sections produce."""

import json

import numpy as np
import pytest

from llm_mas_ros.latency_bench import bench_plots, bench_report
from llm_mas_ros.latency_bench import latency_stats as L
from llm_mas_ros.latency_bench.bench_settings import QUICK
from llm_mas_ros.latency_bench.instruction_timings import summarise_trials

RATES = ("100", "500")
P50_US = {"tuned": 200.0, "tuned_classical": 180.0, "naive": 1000.0, "echo": 160.0}
P50_US["waitset"] = 100.0
P50_US["echo_all"] = 250.0  # seven replies cost more than one


def measured(p50_us: float, cpu_pct: float = 5.0, lost: int = 0) -> dict:
    """A sense->act entry as control_sections.Measured.to_json writes it."""
    rng = np.random.default_rng(0)
    latency = rng.normal(p50_us, p50_us / 10, 500) * 1e-6
    return {
        "latency_us": L.summary(latency, "us"),
        "latency_cdf_us": L.cdf(latency, "us"),
        "jitter_us": L.summary(np.abs(latency - p50_us * 1e-6), "us"),
        "prober_publish_late_us": L.summary(latency / 10, "us"),
        "cpu_per_agent_pct": cpu_pct,
        "cpu_per_state_us": 50.0,
        "achieved_hz": 99.9,
        "states": 500,
        "lost": lost,
        "late_publishes": 0,
    }


def sections(cpu_per_state=(50.0, 60.0)) -> dict:
    sense_act = {
        key: {rate: measured(p50, 20.0 if key == "naive" else 5.0) for rate in RATES}
        for key, p50 in P50_US.items()
    }
    points = [
        {
            "agents": n,
            "start_to_ready_s": 1.0,
            "latency_us": measured(200.0 * (1 + i))["latency_us"],
            "cpu_per_agent_pct": 3.0,
            "cpu_per_state_us": cost,
            "lost": 0,
        }
        for i, (n, cost) in enumerate(zip(QUICK.scaling_agents, cpu_per_state, strict=True))
    ]
    growth = {
        "latency_p50": L.growth([7, 14], [p["latency_us"]["p50"] for p in points]),
        "cpu_per_state": L.growth([7, 14], list(cpu_per_state)),
    }
    trials = [
        {"instruction": "gripper open", "planner": "fast-path:rules", "state": "done",
         "first_step_ms": 1.0, "first_command_ms": 5.0, "done_ms": 900.0},
        {"instruction": "gripper close", "planner": "fast-path:rules", "state": "failed",
         "first_step_ms": 1.0, "first_command_ms": None, "done_ms": 800.0},
    ]  # fmt: skip
    return {
        "systems": {key: {"label": f"the {key} system"} for key in P50_US},
        "sense_act": sense_act,
        "starts": {
            "tuned": {
                "starts": 2,
                "ready_s": {**L.summary([1.0, 1.5], "s"), "p95": 1.475},
                "first_answer_s": L.summary([1.1, 1.6], "s"),
            },
            "naive": {"not_measured": "--naive-starts 0"},
        },
        "scaling": {"rate_hz": 100.0, "points": points, "growth": growth},
        "while_decoding": {
            "rate_hz": 500.0,
            "load": "a busy stand-in",
            "at_rest": {**measured(200.0), "load_cpu_pct": None},
            "loaded": {**measured(300.0), "load_cpu_pct": 95.0},
            "instructions_sent": 0,
            "p99_loaded_over_rest": 1.5,
        },
        "instructions": {
            "planner": "rules",
            "fast_path": {"trials": trials, **summarise_trials(trials)},
            "model": {"skipped": "--planner rules plans without a model"},
        },
        "notes": ["a note"],
    }


def result(**changes) -> dict:
    meta = {"command": "llm-mas-ros bench --quick", "machine": "x86_64 2 CPUs", "wall_s": 60.0}
    settings = {"rates_hz": [100.0, 500.0], "scaling_agents": [7, 14]}
    return bench_report.assemble(meta, settings, {**sections(), **changes})


def test_ratios_compare_tuned_with_naive_and_both_floors():
    ratios = result()["ratios"]
    assert set(ratios) == set(RATES)
    row = ratios["500"]
    assert row["tuned/naive p50"] == pytest.approx(0.2, abs=0.02)
    assert row["tuned/echo p50"] == pytest.approx(200 / 160, abs=0.05)
    assert row["tuned/echo_all p50"] == pytest.approx(200 / 250, abs=0.05)
    assert row["tuned/waitset p50"] == pytest.approx(2.0, abs=0.1)
    assert row["tuned/naive cpu_per_agent"] == 0.25


def test_ratios_without_the_naive_build_are_none():
    without = sections()["sense_act"]
    del without["naive"]
    ratios = bench_report.ratios(without)
    assert ratios["500"]["tuned/naive p50"] is None
    assert ratios["500"]["tuned/echo p50"] is not None


def test_acceptance_checks_the_issue_limits_at_the_headline_rate():
    checks = {check["check"]: check for check in result()["acceptance"]}
    assert set(checks) == set(bench_report.LIMITS)
    assert checks["tuned/naive sense->act p50"]["ok"] is True
    assert checks["tuned/echo_all sense->act p50"]["ok"] is True  # 0.8 <= 1.5
    assert checks["tuned start->ready p95 (s)"]["value"] == 1.475
    assert checks["CPU per state, 7->56 agents, relative to linear"]["value"] == 0.6
    assert checks["sense->act p99 while decoding / at rest"]["ok"] is True


def test_a_check_that_fails_says_no_and_one_not_measured_says_none():
    slow = sections()["while_decoding"] | {"p99_loaded_over_rest": 3.0}
    scaling = sections()["scaling"] | {"growth": {}}
    checks = {c["check"]: c for c in result(while_decoding=slow, scaling=scaling)["acceptance"]}
    assert checks["sense->act p99 while decoding / at rest"]["ok"] is False
    assert checks["CPU per state, 7->56 agents, relative to linear"]["ok"] is None


def test_the_json_has_no_nan_and_round_trips():
    entry = sections()
    entry["sense_act"]["tuned"]["500"]["cpu_per_agent_pct"] = float("nan")
    whole = bench_report.assemble({}, {"rates_hz": [100.0, 500.0]}, entry)
    assert whole["sense_act"]["tuned"]["500"]["cpu_per_agent_pct"] is None
    assert json.loads(json.dumps(whole, allow_nan=False)) == whole
    assert whole["schema"] == bench_report.SCHEMA


def test_a_complete_result_has_no_problems():
    assert bench_report.problems(result()) == []


def test_problems_name_what_a_reader_would_miss():
    incomplete = result()
    del incomplete["sense_act"]["naive"]["100"]
    incomplete["scaling"]["points"].pop()
    found = bench_report.problems(incomplete)
    assert "no sense->act p50/p99 of naive at 100 Hz" in found
    assert any("scaling measured [7]" in problem for problem in found)
    assert bench_report.problems({"schema": bench_report.SCHEMA}) == [
        "missing meta", "missing settings", *(f"missing {s}" for s in bench_report.SECTIONS)
    ]  # fmt: skip


def test_finite_replaces_nan_and_infinity_everywhere():
    assert bench_report.finite({"a": [1.0, float("nan")], "b": (float("inf"),), "c": "x"}) == {
        "a": [1.0, None], "b": [None], "c": "x",
    }  # fmt: skip


def test_markdown_has_a_table_per_section_with_the_numbers():
    text = bench_report.markdown(result())
    for heading in ("## Sense -> act", "## Ratios", "## Process start -> ready", "## Scaling",
                    "## Sense -> act while the planner decodes", "## Instruction",
                    "## Acceptance"):  # fmt: skip
        assert heading in text
    assert "`llm-mas-ros bench --quick`" in text and "Note: a note" in text
    tuned_row = next(line for line in text.splitlines() if line.startswith("| tuned | 500 |"))
    assert f"| {result()['sense_act']['tuned']['500']['latency_us']['p50']:.0f} |" in tuned_row
    assert "skipped: --planner rules plans without a model" in text
    assert "| fast_path | fast-path:rules | 1/2 |" in text
    for line in text.splitlines():  # every table row has its header's columns
        if line.startswith("|"):
            assert not line.endswith("||")


def test_table_cells():
    lines = bench_report.table(["a", "b", "c", "d"], [[None, 0.12345, 1234.5, True]])
    assert lines == ["| a | b | c | d |", "|---|---|---|---|", "| - | 0.123 | 1234 | yes |"]


def test_instruction_trials_are_summarised_over_those_with_a_time():
    trials = sections()["instructions"]["fast_path"]["trials"]
    summary = summarise_trials(trials)
    assert summary["ok"] == 1
    assert summary["first_command_ms"]["count"] == 1
    assert summary["done_ms"]["p50"] == pytest.approx(850.0)


def test_plots_are_written_as_png(tmp_path):
    whole = result()
    for draw, name in (
        (bench_plots.latency_cdfs, bench_plots.CDF_FILE),
        (bench_plots.scaling_curve, bench_plots.SCALING_FILE),
    ):
        path = draw(whole, tmp_path / name)
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_model_timings_leave_out_trials_another_planner_took():
    trials = [
        {"instruction": "a", "planner": "smollm2", "state": "done",
         "first_step_ms": 90.0, "first_command_ms": 100.0, "done_ms": 1000.0},
        {"instruction": "b", "planner": "fast-path:rules", "state": "done",
         "first_step_ms": 1.0, "first_command_ms": 5.0, "done_ms": 500.0},
    ]  # fmt: skip
    summary = summarise_trials(trials, only="smollm2")
    assert summary["summarised"] == 1 and summary["first_command_ms"]["p50"] == 100.0
    whole = result(instructions={"planner": "smollm2", "fast_path": sections()["instructions"][
        "fast_path"], "model": {"trials": trials, **summary}})  # fmt: skip
    assert "1 planned by another planner, left out" in bench_report.markdown(whole)
