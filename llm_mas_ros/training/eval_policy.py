"""`llm-mas-ros eval-policy`: the learned policy against the classical controller, on goals
phrased in words and templates that training never used, in the embedded sim.

Held-out phrasings: style words the agent language knows but `TRAIN_STYLES` lacks (leisurely,
briskly, rapidly, swiftly, softly, ...), multi-word style phrases ('at a leisurely speed',
'with gentle motion'), other verbs, units spelt out (radians, millimetres, seconds), the
duration before the verb, and other hold / wave / open / close words; every goal is checked to
parse and plan, as the robot would. Each episode runs twice from the same start: learned (its
env reads each goal through the weights' manner model, so the words set its tempo and its FiLM
input), then classical (the parser's style sets the tempo); each tracks the minimum-jerk profile
its agent planned. `slow_over_fast`: settle time of held-out slow words over held-out fast ones
on the same goals; `slow_over_fast_ablated`: the same for the learned policy with every goal
embedding zeroed (the words unread), which should collapse toward 1.
Units: rad (revolute joints) and mm (the gripper), s; step costs in microseconds.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core.control.learned_policy import LearnedPolicy, PolicyWeights
from ..core.control.manner import AblatedManner
from ..core.control.motion import plan_motion
from ..core.control.policies import GoalEncoder, MinimumJerkPolicy, Observation
from ..core.errors import LlmMasError, SubgoalError
from ..core.language.agent_language import Skill, parse_subgoal
from ..core.robot.model import Agent, AgentKind, JointType, RobotModel, load_robot
from ..core.sim.multi_agent_env import TRAIN_STYLES, ArmTeamEnv, Phrasings
from ..launcher.bringup import config_files
from .behaviour_cloning import HELD_OUT_SEED_OFFSET

SLOW_WORDS = ("leisurely", "slower", "at a leisurely speed")
GENTLE_WORDS = ("gentle", "careful", "softly", "with gentle motion", "with careful movement")
FAST_WORDS = ("briskly", "rapidly", "swiftly")
HELD_OUT_PHRASINGS = Phrasings(
    styles=SLOW_WORDS + GENTLE_WORDS + FAST_WORDS,
    move_verbs=("put it", "swing", "send the joint", "drive it", "bend", "return"),
    hold_phrases=("freeze", "keep position", "stay where it is", "halt"),
    wave_verbs=("shake", "wave", "waggle"),
    open_words=("widen", "open fully"),
    close_words=("shut", "clamp", "grasp"),
)
assert not set(HELD_OUT_PHRASINGS.styles) & set(TRAIN_STYLES)
SUCCESS_RAD, SUCCESS_M = 0.01, 0.001
EVAL_SEED_OFFSET = 2 * HELD_OUT_SEED_OFFSET  # neither training nor train-policy's held-out seeds


def _quantity(value: float, agent: Agent, rng: np.random.Generator) -> str:
    if agent.joint.kind is JointType.PRISMATIC:
        unit = ("millimetres", "millimeters")[int(rng.integers(2))]
        return f"{value * 1000.0:.1f} {unit}"
    if rng.random() < 0.3:
        return f"{value:.3f} radians"
    return f"{math.degrees(value):.1f} degree{'s' if rng.random() < 0.8 else ''}"


def held_out_goal(
    agent: Agent, start: float, rng: np.random.Generator, style: str | None = None
) -> str:
    """One goal in held-out templates for `agent` at `start` (rad or m); `style` forces one."""
    words, joint = HELD_OUT_PHRASINGS, agent.joint
    pick: Callable[[Sequence[str]], str] = lambda seq: seq[int(rng.integers(len(seq)))]  # noqa: E731
    kinds = ["to", "to", "to", "by", "hold", "wave"]
    kind = (
        "to"
        if style
        else pick(kinds + (["open", "close"] if agent.kind is AgentKind.GRIPPER else []))
    )
    if kind == "hold":
        return pick(words.hold_phrases)
    if kind in ("open", "close"):
        text = pick(words.open_words if kind == "open" else words.close_words)
    elif kind == "to":
        target = joint.lower + (joint.upper - joint.lower) * rng.uniform(0.1, 0.9)
        text = f"{pick(words.move_verbs)} to {_quantity(target, agent, rng)}"
    elif kind == "by":
        offset = (joint.upper - joint.lower) * rng.uniform(0.05, 0.25) * rng.choice([-1, 1])
        text = f"{pick(words.move_verbs)} by {_quantity(offset, agent, rng)}"
    else:
        amplitude = (joint.upper - joint.lower) * rng.uniform(0.02, 0.05)
        count = ("once", "twice", "3 times")[int(rng.integers(3))]
        text = f"{pick(words.wave_verbs)} {count} by {_quantity(amplitude, agent, rng)}"
    if not style and rng.random() < 0.25:
        text = f"in {rng.uniform(1.0, 3.0):.1f} seconds, {text}"  # the duration first
    style = style or (pick(words.styles) if rng.random() < 0.6 else None)
    if style:
        text = f"{text} {style}" if rng.random() < 0.5 else f"{style}, {text}"
    return text


@dataclass
class Episode:
    """One goal per agent from one start, with the motions the robot would plan."""

    goals: dict[str, str]
    positions: dict[str, float]


def sample_episode(
    robot: RobotModel, rng: np.random.Generator, max_motion_s: float, style: str | None = None
) -> Episode:
    goals, positions = {}, {}
    for agent in robot.agents:
        joint = agent.joint
        margin = 0.0 if agent.kind is AgentKind.GRIPPER else 0.15
        start = joint.lower + (joint.upper - joint.lower) * rng.uniform(margin, 1.0 - margin)
        positions[agent.name] = float(start)
        for _ in range(100):
            text = held_out_goal(agent, start, rng, style)
            try:
                goal = parse_subgoal(text, agent, robot.poses)
                motion = plan_motion(goal, agent, start, robot)
            except SubgoalError:
                continue
            if goal.skill is Skill.HOLD or motion.duration_s <= max_motion_s:
                goals[agent.name] = text
                break
        else:
            goals[agent.name] = HELD_OUT_PHRASINGS.hold_phrases[0]
    return Episode(goals, positions)


@dataclass
class Rollout:
    positions: np.ndarray  # (ticks, agents), rad or m
    reference: np.ndarray  # the expert's profile at each tick
    violations: int  # commands that were NaN, beyond the limits or too fast
    final_error: np.ndarray  # (agents,)
    starts: np.ndarray
    targets: np.ndarray
    asked_s: np.ndarray  # asked duration per agent, NaN where the goal says none
    planned_s: np.ndarray
    contact_ticks: int = 0  # ticks with links in contact


def rollout(
    env: ArmTeamEnv, episode: Episode, act: Callable[[Observation], np.ndarray]
) -> Rollout:
    env.reset(options={"goals": episode.goals, "positions": episode.positions})
    names = env.possible_agents
    expert = MinimumJerkPolicy()
    obs = env.observation
    asked = np.array(obs.goal_duration_s, copy=True)
    starts = env.sim.positions.copy()
    previous = starts.copy()
    positions, reference, violations, contact_ticks = [], [], 0, 0
    while env.agents:
        command = np.array(act(env.observation), dtype=float)
        bad = ~np.isfinite(command) | (command < env.lower) | (command > env.upper)
        bad |= np.abs(command - previous) > 1.2 * env.max_step
        violations += int(bad.sum())
        previous = np.where(np.isfinite(command), command, previous)
        env.step({n: command[i : i + 1] for i, n in enumerate(names)})
        positions.append(env.sim.positions.copy())
        contact_ticks += env.sim.contact_count > 0
        reference.append(expert.act(env.observation))
    return Rollout(
        np.array(positions),
        np.array(reference),
        violations,
        env.final_errors(),
        starts,
        env.targets.copy(),
        asked,
        env.end_s.copy(),
        contact_ticks,
    )


def _settle_s(run: Rollout, threshold: np.ndarray, dt: float) -> np.ndarray:
    """Time (s) from the start after which each agent stays within `threshold` of its target."""
    outside = np.abs(run.positions - run.targets) >= threshold
    last = np.where(outside.any(axis=0), outside.shape[0] - np.argmax(outside[::-1], axis=0), 0)
    return np.asarray(last * dt, dtype=float)


def score(runs: Sequence[Rollout], robot: RobotModel, dt: float) -> dict[str, float]:
    prismatic = np.array([a.joint.kind is JointType.PRISMATIC for a in robot.agents])
    unit = np.where(prismatic, 1000.0, 1.0)
    threshold = np.where(prismatic, SUCCESS_M, SUCCESS_RAD)
    tracking, finals, overshoot, jerk, ratio = [], [], [], [], []
    successes = 0
    for run in runs:
        tracking.append(np.abs(run.positions - run.reference).mean(axis=0) * unit)
        finals.append(run.final_error * unit)
        successes += bool(np.all(run.final_error < threshold) and run.violations == 0)
        direction = np.sign(run.targets - run.starts)
        past = ((run.positions - run.targets) * direction).max(axis=0)
        moved = np.abs(run.targets - run.starts) > threshold
        overshoot.append(np.where(moved, np.maximum(past, 0.0), 0.0) * unit)
        third = np.diff(run.positions, n=3, axis=0) / dt**3
        jerk.append(np.sqrt((third**2).mean(axis=0)) * unit)
        settle = _settle_s(run, threshold, dt)
        asked = np.isfinite(run.asked_s) & moved
        ratio += list(settle[asked] / run.asked_s[asked])
    track, last, over, rough = (np.array(x) for x in (tracking, finals, overshoot, jerk))
    columns = {"rad": ~prismatic, "mm": prismatic}
    scores: dict[str, float] = {"episodes": len(runs), "success": successes / max(len(runs), 1)}
    for suffix, cols in columns.items():
        scores[f"final_error_{suffix}"] = float(last[:, cols].mean())
        scores[f"tracking_error_{suffix}"] = float(track[:, cols].mean())
        scores[f"overshoot_{suffix}"] = float(over[:, cols].mean())
        scores[f"rms_jerk_{suffix}_per_s3"] = float(rough[:, cols].mean())
    scores["duration_over_asked"] = float(np.mean(ratio)) if ratio else math.nan
    scores["limit_violations"] = float(sum(run.violations for run in runs))
    return scores


def _blocked(run: Rollout) -> bool:
    """True when links touched while the classical controller, which commands the planned
    profile exactly, drove the episode: random start poses and targets can swing the wrist into
    the forearm, and no controller reaches such a goal. Such episodes are left out of every
    score (and counted), so success measures control, not the sampler's luck."""
    return run.contact_ticks > 0


def step_cost_us(act: Callable[[Observation], np.ndarray], observation: Observation) -> float:
    """p50 of one call (µs) over 2000 calls, after a warm-up."""
    for _ in range(200):
        act(observation)
    times = np.empty(2000)
    for i in range(times.size):
        began = time.perf_counter()
        act(observation)
        times[i] = time.perf_counter() - began
    return float(np.median(times) * 1e6)


def _style_ratio(
    env: ArmTeamEnv, robot: RobotModel, act: Callable[[Observation], np.ndarray], seed: int
) -> float:
    """Mean settle time of held-out slow words over held-out fast words, same goals."""
    threshold = np.array(
        [SUCCESS_M if a.joint.kind is JointType.PRISMATIC else SUCCESS_RAD for a in robot.agents]
    )
    ratios = []
    for trial in range(2):
        rng = np.random.default_rng(seed + trial)
        base = sample_episode(robot, rng, env.max_motion_s * 3, style=SLOW_WORDS[0])
        times = {}
        for words in (SLOW_WORDS, FAST_WORDS):
            style = words[trial % len(words)]
            goals = {n: g.replace(SLOW_WORDS[0], style) for n, g in base.goals.items()}
            run = rollout(env, Episode(goals, base.positions), act)
            times[words] = _settle_s(run, threshold, env.dt)
        moved = np.abs(run.targets - run.starts) > threshold
        ratios.append(
            float(times[SLOW_WORDS][moved].mean() / max(times[FAST_WORDS][moved].mean(), env.dt))
        )
    return float(np.mean(ratios))


def evaluate(
    robot: RobotModel, weights: PolicyWeights, episodes: int, seed: int
) -> tuple[dict[str, Any], dict[str, list[Rollout]]]:
    """Learned vs classical on the same held-out episodes: each in an env that reads goals as
    its agents would (the learned one through the weights' manner model: tempo and
    embedding from the words; the classical one by the parser's style), and the slow / fast
    ratio once more with the learned policy's embedding ablated (zeroed)."""

    def env_of(encoder: GoalEncoder | None) -> ArmTeamEnv:
        return ArmTeamEnv(robot, max_motion_s=4.0, settle_s=1.0, encoder=encoder)

    envs = {"learned": env_of(weights.manner), "classical": env_of(None)}
    learned = LearnedPolicy(weights, envs["learned"].possible_agents)
    policies: dict[str, Callable[[Observation], np.ndarray]] = {
        "learned": learned.command,  # unclipped: a command beyond the limits counts
        "classical": MinimumJerkPolicy().act,
    }
    rng = np.random.default_rng(EVAL_SEED_OFFSET + seed)
    plan: list[Episode] = []
    runs: dict[str, list[Rollout]] = {name: [] for name in policies}
    blocked: list[dict[str, str]] = []
    max_motion_s = envs["learned"].max_motion_s
    while len(plan) < episodes and len(blocked) < 2 * episodes:  # a blocked one is replaced
        episode = sample_episode(robot, rng, max_motion_s)
        episode_runs = {name: rollout(envs[name], episode, act) for name, act in policies.items()}
        if _blocked(episode_runs["classical"]):
            blocked.append(episode.goals)
            continue
        plan.append(episode)
        for name, run in episode_runs.items():
            runs[name].append(run)
    if not plan:
        raise LlmMasError(f"every one of {len(blocked)} sampled episodes put links in contact")
    dt = envs["learned"].dt
    report: dict[str, Any] = {name: score(r, robot, dt) for name, r in runs.items()}
    report["blocked_episodes"] = len(blocked)  # links in contact under the classical run
    report["blocked_goals"] = blocked[:3]
    for name, act in policies.items():
        env = envs[name]
        report[name]["slow_over_fast"] = _style_ratio(env, robot, act, EVAL_SEED_OFFSET + seed)
        full = env.observation
        one = full.rows(0)
        single = (
            LearnedPolicy(weights, env.possible_agents[:1]).command if name == "learned" else act
        )
        report[name]["step_us_batch_1"] = step_cost_us(single, one)
        report[name]["step_us_batch_7"] = step_cost_us(act, full)
    report["embedding_dim"] = weights.embedding_dim
    report["slow_over_fast_ablated"] = _ablated_ratio(robot, weights, env_of, seed)
    report["goals"] = [episode.goals for episode in plan[:3]]
    return report, runs


def _ablated_ratio(
    robot: RobotModel,
    weights: PolicyWeights,
    env_of: Callable[[GoalEncoder | None], ArmTeamEnv],
    seed: int,
) -> float | str:
    """`slow_over_fast` of the learned policy with its goals' embedding zeroed."""
    if weights.manner is None:
        return "n/a: the weights read no text (no manner model)"
    env = env_of(AblatedManner(weights.manner))
    ablated = LearnedPolicy(weights, env.possible_agents)
    return _style_ratio(env, robot, ablated.command, EVAL_SEED_OFFSET + seed)


def plot(runs: dict[str, list[Rollout]], robot: RobotModel, dt: float, path: str) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as error:
        raise LlmMasError(f"--plot needs matplotlib (pip install matplotlib): {error}") from error
    count = min(3, len(runs["learned"]))
    figure, axes = plt.subplots(count, 1, figsize=(9, 3 * count), squeeze=False)
    for i in range(count):
        learned, classical = runs["learned"][i], runs["classical"][i]
        row = int(np.argmax(np.abs(learned.targets - learned.starts)))
        ax = axes[i, 0]
        # each run has its own length: the learned agents time the goal by its words
        for run, name, style in ((classical, "classical", "C0"), (learned, "learned", "C1")):
            t = np.arange(run.positions.shape[0]) * dt
            ax.plot(t, run.reference[:, row], f"{style}--", label=f"{name}'s commanded profile")
            ax.plot(t, run.positions[:, row], style, label=name)
        ax.set_title(f"episode {i}: {robot.agents[row].name}")
        ax.set_xlabel("s")
        ax.set_ylabel(robot.agents[row].joint.unit)
        ax.legend(loc="best")
    figure.tight_layout()
    figure.savefig(path)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="llm-mas-ros eval-policy",
        description="Score the learned policy against the classical controller on held-out "
        "phrasings in the embedded sim.",
    )
    parser.add_argument("--config", help="folder with robot.yaml (default: the package's)")
    parser.add_argument("--weights", help="policy weights (.npz; default: the configured ones)")
    parser.add_argument("--episodes", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--plot", metavar="OUT.png", help="plot a few trajectories")
    return parser


def eval_policy(argv: Sequence[str] | None = None) -> int:
    """Run `eval-policy` with `argv`; 0 on success, 2 on a config error."""
    args = _parser().parse_args(argv)
    try:
        robot = load_robot([config_files(args.config)["robot"]] if args.config else None)
        path = args.weights or robot.control.policy_weights_path()
        weights = PolicyWeights.load(path)
        report, runs = evaluate(robot, weights, args.episodes, args.seed)
        report["weights"] = str(path)
        if args.plot:
            plot(runs, robot, 1.0 / robot.control.rate_hz, args.plot)
            report["plot"] = args.plot
    except (LlmMasError, OSError) as error:
        print(f"llm-mas-ros eval-policy: error: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for name in ("learned", "classical"):
            text = ", ".join(f"{key} {value:.4g}" for key, value in report[name].items())
            print(f"{name}: {text}")
    return 0
