#!/usr/bin/env python3
"""Planner model threads under CPU load: the model's first-step latency, idle and beside one
busy process, per thread count.

The embedded model (backend smollm2, loaded as the planner node loads it) behind the
`PlanningPipeline`, on the first --items dev-set instructions that reach the model (not a fast
path), plan cache off. For each round and each thread count (1, 2 and the automatic choice of
`threads: 0`; interleaved, the order reversed every other round, so drifting machine load
affects them alike) the instructions are planned idle and beside a busy process (a child
`python -c 'while True: pass'`), in alternating order. First step: the instruction handed to
the pipeline -> its first validated step (or its answer, when the model finds none). Reported:
p50 / p90 per thread count and load, and busy / idle of the p50s. Acceptance (issue 10): for
the automatic choice, busy p50 <= 2x idle p50; exit 1 otherwise. Writes planner_load.json and
planner_load.md to --out.

    .venv/bin/python benchmarks/planner_load_bench.py [--threads 1,2] [--items 8] [--rounds 2]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from llm_mas_ros.core.errors import PlanError
from llm_mas_ros.core.planning.llm.models import automatic_threads
from llm_mas_ros.core.planning.pipeline import PlanningPipeline
from llm_mas_ros.core.planning.plan import ProposedStep
from llm_mas_ros.core.planning.planner_settings import build_pipeline, planner_settings_from_params
from llm_mas_ros.core.robot import param_files as P
from llm_mas_ros.core.robot.model import RobotModel, load_robot
from llm_mas_ros.eval.provenance import (
    command_line,
    cpu_info,
    git_state,
    machine,
    model_info,
    software_versions,
)
from llm_mas_ros.eval.summary import percentiles
from llm_mas_ros.launcher.bringup import config_files

BENCHMARKS = Path(__file__).resolve().parent
DEVSET = BENCHMARKS / "planner_devset.jsonl"
LOADS = ("idle", "busy")
MAX_RATIO = 2.0  # acceptance: busy p50 / idle p50 of the automatic choice
BUSY_LOOP = "while True: pass"


class _Recorder:
    """A backend that only records what reaches it: which instructions the model would get."""

    name = "probe"

    def __init__(self) -> None:
        self.asked: list[str] = []

    def propose(self, instruction: str) -> Iterator[ProposedStep]:
        self.asked.append(instruction)
        return iter(())


def model_instructions(robot: RobotModel, devset: Path, count: int) -> list[str]:
    """The first `count` dev-set instructions that no fast path plans (the model gets them)."""
    recorder = _Recorder()
    probe = PlanningPipeline(robot, recorder, cache_size=0)
    home = dict.fromkeys(robot.agent_names, 0.0)
    chosen: list[str] = []
    for line in devset.read_text().splitlines():
        if len(chosen) == count:
            break
        if not line.strip():
            continue
        text = json.loads(line)["instruction"]
        before = len(recorder.asked)
        with contextlib.suppress(PlanError):
            probe.plan(text, home)
        if len(recorder.asked) > before:
            chosen.append(text)
    return chosen


def model_pipeline(robot: RobotModel) -> PlanningPipeline:
    """The package's planner settings with backend smollm2, loaded and warmed up, no cache."""
    files = config_files()
    params = P.load_parameters([files["robot"], files["planner"]], "planner")
    settings = planner_settings_from_params({**params, "backend": "smollm2"})
    return build_pipeline(robot, dataclasses.replace(settings, cache_size=0))


def first_step_ms(pipeline: PlanningPipeline, text: str, start: dict[str, float]) -> float:
    started = time.perf_counter()
    first: list[float] = []
    with contextlib.suppress(PlanError):
        pipeline.plan(text, start, on_step=lambda step: first or first.append(time.perf_counter()))
    return ((first[0] if first else time.perf_counter()) - started) * 1000.0


@contextlib.contextmanager
def busy_process(busy: bool) -> Iterator[None]:
    """One process that keeps a CPU busy for the block (nothing when not `busy`)."""
    if not busy:
        yield
        return
    spinner = subprocess.Popen([sys.executable, "-c", BUSY_LOOP])
    try:
        yield
    finally:
        spinner.kill()
        spinner.wait()


def measure(
    pipeline: PlanningPipeline, texts: list[str], counts: list[int], rounds: int
) -> tuple[dict[int, dict[str, list[float]]], list[dict[str, Any]]]:
    """First steps (ms) per thread count and load, and each block's machine load on entry."""
    import torch

    start = dict.fromkeys(pipeline.robot.agent_names, 0.0)
    samples = {threads: {load: [] for load in LOADS} for threads in counts}
    blocks = []
    for number in range(rounds):
        for threads in counts if number % 2 == 0 else counts[::-1]:
            torch.set_num_threads(threads)
            first_step_ms(pipeline, texts[0], start)  # the thread pool resized: not measured
            loads = LOADS if (number + counts.index(threads)) % 2 == 0 else LOADS[::-1]
            for load in loads:
                with busy_process(load == "busy"):
                    blocks.append(
                        {"round": number + 1, "threads": threads, "load": load, **machine_load()}
                    )
                    samples[threads][load] += [first_step_ms(pipeline, t, start) for t in texts]
                got = percentiles(samples[threads][load])
                print(f"round {number + 1}, threads {threads}, {load}: p50 {got['p50']} ms")
    return samples, blocks


def machine_load() -> dict[str, Any]:
    """The 1-minute load average and the processes running now (this one included): what else
    used the CPUs, for a reader to judge how idle 'idle' was."""
    fields = Path("/proc/loadavg").read_text().split()
    return {"loadavg_1min": float(fields[0]), "running": int(fields[3].split("/")[0])}


def summarise(samples: dict[int, dict[str, list[float]]], auto: int) -> list[dict[str, Any]]:
    rows = []
    for threads, by_load in samples.items():
        idle, busy = (percentiles(by_load[load]) for load in LOADS)
        ratio = round(busy["p50"] / idle["p50"], 2) if idle["p50"] and busy["p50"] else None
        rows.append(
            {
                "threads": threads,
                "auto": threads == auto,
                "idle": idle,
                "busy": busy,
                "busy_over_idle_p50": ratio,
            }
        )
    return rows


def markdown(meta: dict[str, Any], rows: list[dict[str, Any]], verdict: str) -> str:
    table = [
        "| threads | idle p50 | idle p90 | busy p50 | busy p90 | busy / idle (p50) | n each |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        label = f"{row['threads']} (automatic)" if row["auto"] else str(row["threads"])
        idle, busy = row["idle"], row["busy"]
        table.append(
            f"| {label} | {idle['p50']:.0f} | {idle['p90']:.0f} | {busy['p50']:.0f} | "
            f"{busy['p90']:.0f} | {row['busy_over_idle_p50']}x | {idle['n']} |"
        )
    git = meta["git"]
    versions = ", ".join(f"{name} {version}" for name, version in meta["versions"].items())
    loads = [block["loadavg_1min"] for block in meta["blocks"]]
    return (
        "# Planner model threads under CPU load\n\n"
        f"First step (ms) of {meta['n_instructions']} free-form dev-set instructions through "
        "the embedded model (smollm2), idle and beside one busy process (`python -c 'while "
        f"True: pass'`), {meta['rounds']} interleaved rounds. Machine: {meta['machine']}; "
        f"CPU: {meta['cpu']['model']}. The automatic choice (`threads: 0`) here: "
        f"{meta['automatic_threads']}. 1-minute load average on entering each block: "
        f"{min(loads):.2f} to {max(loads):.2f} (other work on the machine counts in 'idle').\n\n"
        f"Run {meta['date']} at commit `{git['commit']}` (dirty: {git['changed_files']} files "
        f"changed): `{meta['command']}`. Software: {versions}.\n\n"
        + "\n".join(table)
        + f"\n\n{verdict}\n"
    )


def main(argv: list[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", default="1,2", help="thread counts besides the automatic")
    parser.add_argument("--items", type=int, default=8, help="free-form instructions")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds")
    parser.add_argument("--devset", default=str(DEVSET), help="dev set JSONL")
    parser.add_argument("--out", default=str(BENCHMARKS / "results"), help="results folder")
    args = parser.parse_args(arguments)
    auto = automatic_threads()
    counts = sorted({*(int(t) for t in args.threads.split(",")), auto})
    robot = load_robot()
    texts = model_instructions(robot, Path(args.devset), args.items)
    pipeline = model_pipeline(robot)
    loaded_on = machine()  # torch threads as the automatic choice set them
    samples, blocks = measure(pipeline, texts, counts, args.rounds)
    rows = summarise(samples, auto)
    ratio = next(row["busy_over_idle_p50"] for row in rows if row["auto"])
    passed = ratio is not None and ratio <= MAX_RATIO
    verdict = (
        f"Acceptance (automatic choice, busy p50 <= {MAX_RATIO:g}x idle p50): "
        f"{'PASS' if passed else 'FAIL'} ({ratio}x)."
    )
    meta = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": command_line(Path(__file__), arguments),
        "git": git_state(BENCHMARKS),
        "versions": software_versions(),
        "cpu": cpu_info(),
        "machine": loaded_on,
        "model": model_info(pipeline.backend),
        "automatic_threads": auto,
        "rounds": args.rounds,
        "n_instructions": len(texts),
        "instructions": texts,
        "blocks": blocks,
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    report = {"meta": meta, "rows": rows, "samples_ms": samples, "passed": passed}
    (out / "planner_load.json").write_text(json.dumps(report, indent=1) + "\n")
    text = markdown(meta, rows, verdict)
    (out / "planner_load.md").write_text(text)
    print(text)
    return 0 if passed else 1


if __name__ == "__main__":
    raise SystemExit(main())
