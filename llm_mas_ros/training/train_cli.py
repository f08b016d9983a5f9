"""`llm-mas-ros train-policy`: the manner words' embedding and tempo head (`manner_embedding`),
behaviour cloning of the agents' policy, then PPO fine-tuning on the team reward
(`rl_finetune`); the better of BC and BC+RL on the held-out episodes is written to a .npz (with
the manner model inside), and the report says which and why."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..core.control.learned_policy import PolicyWeights
from ..core.control.manner import MannerModel
from ..core.errors import ConfigError, LlmMasError
from ..core.robot.model import RobotModel, load_robot
from ..launcher.bringup import config_files
from .behaviour_cloning import TrainConfig, train_behaviour_cloning
from .fan_out import ray_session

# PPO agent-steps after BC (7 per 10 ms tick): ~3.5 min on 2 idle cores, ~9 min when other
# work shares them (measured), so BC (~40 s) + RL + the held-out scoring stay under ~10 min.
DEFAULT_RL_STEPS = 600_000
BC_FILE = "bc.npz"  # in the --resume folder: BC weights, reused when present
RL_CHECKPOINT = "ppo.zip"  # in the --resume folder: the PPO checkpoint
MANNER_FILE = "manner.npz"  # in the --resume folder: the manner model, reused when present


def _parser() -> argparse.ArgumentParser:
    defaults = TrainConfig()
    parser = argparse.ArgumentParser(
        prog="llm-mas-ros train-policy",
        description="Train the joint agents' policy in the embedded sim: behaviour cloning, "
        "then PPO fine-tuning on the team reward; ships the better on held-out episodes.",
    )
    parser.add_argument("--config", help="folder with robot.yaml (default: the package's)")
    parser.add_argument("--out", default="policy.npz", help="weights file to write (.npz)")
    parser.add_argument("--episodes", type=int, default=defaults.episodes)
    parser.add_argument("--held-out", type=int, default=defaults.held_out_episodes)
    parser.add_argument("--epochs", type=int, default=defaults.epochs)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument(
        "--rl-steps",
        type=int,
        default=DEFAULT_RL_STEPS,
        help=f"PPO agent-steps after BC (7 per tick; 0 skips RL; default {DEFAULT_RL_STEPS})",
    )
    parser.add_argument(
        "--resume",
        metavar="DIR",
        help=f"work folder: BC weights ({BC_FILE}) reused if present, PPO checkpoint "
        f"({RL_CHECKPOINT}) resumed if present; both written there",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=defaults.workers,
        help="rollout processes (0: this one), or the CPUs of --ray local",
    )
    parser.add_argument(
        "--ray",
        metavar="ADDRESS",
        help="roll out on Ray: auto (a running cluster), local (a private instance), host:port",
    )
    parser.add_argument(
        "--language-model",
        default="smollm2",
        metavar="MODEL",
        help="what embeds the manner words: smollm2 (the embedded planner model), a "
        "transformers model folder, or none (the policy reads no text; motions keep their "
        "style's tempo)",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    return parser


def _check(args: argparse.Namespace) -> None:
    if args.rl_steps < 0:
        raise ConfigError(f"--rl-steps must be 0 or more, not {args.rl_steps}")
    if args.workers < 0:
        raise ConfigError(f"--workers must be 0 or more, not {args.workers}")


def _manner(
    robot: RobotModel, args: argparse.Namespace, work: Path | None, progress: Callable[[str], None]
) -> tuple[MannerModel | None, dict[str, Any]]:
    """The manner model: from the work folder when it has one, else built (and saved there)."""
    if args.language_model == "none":
        return None, {"language_model": None}
    saved = work / MANNER_FILE if work else None
    if saved is not None and saved.exists():
        progress(f"manner embedding: reusing {saved}")
        with np.load(saved, allow_pickle=False) as data:
            manner = MannerModel.from_arrays({name: data[name] for name in data.files})
        return manner, {"reused": str(saved)}
    from .manner_embedding import build_manner  # torch and transformers: only when building

    manner, report = build_manner(robot, args.language_model, progress=progress)
    if saved is not None:
        saved.parent.mkdir(parents=True, exist_ok=True)
        np.savez(saved, **manner.arrays())  # type: ignore[arg-type]
    return manner, report


def _behaviour_cloning(
    robot: RobotModel, config: TrainConfig, work: Path | None, progress: Callable[[str], None]
) -> tuple[PolicyWeights, dict[str, Any]]:
    """BC weights and its report: from the work folder when it has them, else trained (and
    saved there)."""
    saved = work / BC_FILE if work else None
    if saved is not None and saved.exists():
        progress(f"behaviour cloning: reusing {saved}")
        return PolicyWeights.load(saved), {"bc_weights": str(saved), "bc_reused": True}
    weights, report = train_behaviour_cloning(robot, config, progress)
    if saved is not None:
        saved.parent.mkdir(parents=True, exist_ok=True)
        weights.save(saved)
    return weights, {**report.as_dict(), "bc_reused": False}


def _fine_tune(
    robot: RobotModel,
    weights: PolicyWeights,
    args: argparse.Namespace,
    work: Path | None,
    progress: Callable[[str], None],
) -> tuple[PolicyWeights, dict[str, Any]]:
    """The RL stage (imported here: SB3 loads only when it runs)."""
    try:
        from .rl_finetune import RLConfig, finetune
    except ImportError as error:
        raise ConfigError(
            f"RL fine-tuning needs stable-baselines3 ({error}); install it "
            "(pip install stable-baselines3==2.9.2) or pass --rl-steps 0"
        ) from error

    config = RLConfig(
        total_timesteps=args.rl_steps,
        held_out_episodes=args.held_out,
        seed=args.seed,
        workers=args.workers,
        ray_address=args.ray,
    )
    checkpoint = work / RL_CHECKPOINT if work else None
    return finetune(robot, weights, config, progress, checkpoint)


def train_policy(argv: Sequence[str] | None = None) -> int:
    """Run `train-policy` with `argv` (its own options); 0 on success, 2 on a config error."""
    args = _parser().parse_args(argv)
    began = time.monotonic()
    try:
        _check(args)
        robot = load_robot([config_files(args.config)["robot"]] if args.config else None)
        quiet = args.json

        def progress(line: str) -> None:
            if not quiet:
                print(line, file=sys.stderr, flush=True)

        work = Path(args.resume) if args.resume else None
        manner, manner_report = _manner(robot, args, work, progress)
        config = TrainConfig(
            episodes=args.episodes,
            held_out_episodes=args.held_out,
            epochs=args.epochs,
            seed=args.seed,
            workers=args.workers,
            ray_address=args.ray,
            manner=manner,
        )
        # one Ray instance for every fan-out of the run (none without --ray)
        with ray_session(args.ray, args.workers) if args.ray else contextlib.nullcontext():
            weights, report = _behaviour_cloning(robot, config, work, progress)
            rl: dict[str, Any] = {"chosen": "bc", "reason": "RL skipped (--rl-steps 0)"}
            if args.rl_steps > 0:
                weights, rl = _fine_tune(robot, weights, args, work, progress)
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        weights.save(out)
    except (LlmMasError, OSError) as error:
        print(f"llm-mas-ros train-policy: error: {error}", file=sys.stderr)
        return 2
    seconds = time.monotonic() - began
    if args.json:
        print(
            json.dumps(
                {
                    "manner": manner_report,
                    **report,
                    "rl": rl,
                    "weights": str(out),
                    "total_seconds": seconds,
                },
                indent=2,
            )
        )
    else:
        _print_human(report, rl, out, seconds)
    return 0


def _print_human(report: dict[str, Any], rl: dict[str, Any], out: Path, seconds: float) -> None:
    for name, scores in report.get("held_out", {}).items():
        print(f"held-out {name}: {_scores(scores)}")
    for name, scores in rl.get("held_out", {}).items():
        print(f"held-out {name} (rl comparison): {_scores(scores)}")
    shipped = "BC+RL (fine-tuned)" if rl["chosen"] == "bc+rl" else "BC"
    print(f"shipped: {shipped} weights: {rl['reason']}")
    print(f"weights: {out} ({out.stat().st_size} bytes), {seconds:.1f} s")


def _scores(scores: dict[str, float]) -> str:
    return ", ".join(f"{key} {value:.4g}" for key, value in scores.items())
