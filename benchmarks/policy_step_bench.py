"""Cost of one control tick's policy call in the agents process: classical vs learned (numpy).

Measures, on CLOCK_MONOTONIC (perf_counter), p50 / p99 of: the bare `act` of the classical
minimum-jerk policy, of the learned network (`LearnedPolicy.act`, the preallocated fast path,
and `raw`, the reference feature path), and of the whole guarded step (`GuardedPolicy.act`:
classical + network + checks), for 1 agent and for all 7 batched; plus `AgentGroup.step` with
each configuration (fill + policy + bookkeeping). Timing is not asserted in tests (a loaded
2-core machine jitters); the numbers are recorded here.

    .venv/bin/python benchmarks/policy_step_bench.py [--weights W.npz] [--calls 5000] [--out DIR]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from llm_mas_ros.core.control.agent import AgentGroup
from llm_mas_ros.core.control.learned_policy import LearnedPolicy, PolicyWeights
from llm_mas_ros.core.control.policies import MinimumJerkPolicy, Observation
from llm_mas_ros.core.robot.model import PolicyKind, load_robot

RESULTS = Path(__file__).resolve().parent / "results"


def timed(call: Callable[[], object], calls: int) -> dict[str, float]:
    for _ in range(min(500, calls)):
        call()
    times = np.empty(calls)
    for i in range(calls):
        began = time.perf_counter()
        call()
        times[i] = time.perf_counter() - began
    return {
        "p50_us": float(np.median(times) * 1e6),
        "p99_us": float(np.percentile(times, 99) * 1e6),
    }


def moving_group(robot, count: int) -> AgentGroup:
    group = AgentGroup(robot.agents[:count], robot)
    for row, core in enumerate(group.cores):
        core.observe(0.05 * row, 0.0, 0.0)
    goals = ["move to 45 degrees slowly", "wave 2 times", "move by 10 degrees", "open"]
    for core, goal in zip(group.cores, goals * 2, strict=False):
        core.receive_goal(goal, 0.0)
    for row, core in enumerate(group.cores):
        core.fill(row, group.observation, 0.3)
    return group


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights", help="policy weights (default: the configured ones)")
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    robot = load_robot()
    path = args.weights or str(robot.control.policy_weights_path())
    weights = PolicyWeights.load(path)
    learned_robot = dataclasses.replace(
        robot,
        control=dataclasses.replace(robot.control, policy=PolicyKind.LEARNED, policy_weights=path),
    )
    classical_robot = dataclasses.replace(
        robot, control=dataclasses.replace(robot.control, policy=PolicyKind.CLASSICAL)
    )
    results: dict[str, object] = {"weights": path, "calls": args.calls}
    for count in (1, len(robot.agents)):
        group = moving_group(robot, count)
        obs: Observation = group.observation
        names = [core.agent.name for core in group.cores]
        learned = LearnedPolicy(weights, names)
        guarded = AgentGroup(robot.agents[:count], learned_robot)
        guard = guarded.guard
        assert guard is not None
        classical = MinimumJerkPolicy()
        calls = {
            "classical_act": classical.act,
            "learned_act": learned.act,
            "learned_reference_raw": learned.raw,
            "guarded_act": guard.act,
        }
        row = {key: timed(lambda f=f, o=obs: f(o), args.calls) for key, f in calls.items()}
        for label, config in (("classical", classical_robot), ("learned", learned_robot)):
            stepping = moving_group(config, count)
            clock = iter(range(10**9))
            row[f"group_step_{label}"] = timed(
                lambda s=stepping, c=clock: s.step(0.3 + next(c) * 1e-6), args.calls
            )
        results[f"batch_{count}"] = row
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "policy_step.json").write_text(json.dumps(results, indent=2) + "\n")
    lines = ["# Policy step cost (µs, p50 / p99)", "", f"weights: `{path}`", ""]
    lines += ["| measure | batch 1 | batch 7 |", "|---|---|---|"]
    for key in results["batch_1"]:  # type: ignore[union-attr]
        cells = [
            f"{results[b][key]['p50_us']:.1f} / {results[b][key]['p99_us']:.1f}"  # type: ignore[index]
            for b in ("batch_1", f"batch_{len(robot.agents)}")
        ]
        lines.append(f"| {key} | {' | '.join(cells)} |")
    (args.out / "policy_step.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
