"""`llm-mas-ros bench` end to end on a tiny budget: every section runs, and the JSON, the
markdown report and the PNG plots are written with finite numbers for the expected systems."""

import json
import math
import subprocess
import sys

from llm_mas_ros.latency_bench import bench_report

CLI = [sys.executable, "-m", "llm_mas_ros.cli"]
TINY = ["--quick", "--rates", "500", "--scaling", "7,14", "--seconds", "0.5"]
SYSTEMS = set(bench_report.SYSTEMS)
PNG = b"\x89PNG\r\n\x1a\n"


def numbers(value):
    """Every number in a JSON value."""
    if isinstance(value, dict):
        for item in value.values():
            yield from numbers(item)
    elif isinstance(value, list):
        for item in value:
            yield from numbers(item)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        yield value


def test_a_tiny_bench_writes_every_result(tmp_path):
    out = tmp_path / "bench"
    done = subprocess.run(
        [*CLI, "bench", *TINY, "--out", str(out), "--json"],
        capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    printed = json.loads(done.stdout)
    written = json.loads((out / "bench.json").read_text())
    assert printed == written
    assert set(written["systems"]) == SYSTEMS
    for system in SYSTEMS:
        latency = written["sense_act"][system]["500"]["latency_us"]
        assert 0 < latency["p50"] <= latency["p99"] < 1e6, (system, latency)
    assert all(math.isfinite(n) for n in numbers(written))
    assert [p["agents"] for p in written["scaling"]["points"]] == [7, 14]
    assert written["instructions"]["fast_path"]["ok"] >= 1
    assert "skipped" in written["instructions"]["model"]  # --quick plans with the rules
    checks = {check["check"]: check for check in written["acceptance"]}
    assert {
        "tuned/naive sense->act p50",
        "learned/classical sense->act p50, joints moving",
    } <= set(checks)
    assert checks["learned/classical sense->act p50, joints moving"]["value"] > 0
    report = (out / "bench.md").read_text()
    assert "| tuned | 500 |" in report and "## Acceptance" in report
    for name in ("latency_cdf.png", "scaling.png"):
        assert (out / name).read_bytes()[:8] == PNG
    assert "sense_act:" in done.stderr and "wrote bench.json" in done.stderr  # progress


def test_an_out_folder_that_cannot_be_written_is_one_line_before_anything_starts(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    done = subprocess.run(
        [*CLI, "bench", "--quick", "--out", str(blocker / "bench")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "--out" in done.stderr, done.stderr
    assert "bench [" not in done.stderr  # no section started
