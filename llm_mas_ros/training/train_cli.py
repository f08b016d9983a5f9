"""`llm-mas-ros train-policy`: behaviour cloning of the agents' policy, weights to a .npz."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from ..core.errors import LlmMasError
from ..core.robot.model import load_robot
from ..launcher.bringup import config_files
from .behaviour_cloning import TrainConfig, train_behaviour_cloning


def _parser() -> argparse.ArgumentParser:
    defaults = TrainConfig()
    parser = argparse.ArgumentParser(
        prog="llm-mas-ros train-policy",
        description="Train the joint agents' policy by behaviour cloning in the embedded sim.",
    )
    parser.add_argument("--config", help="folder with robot.yaml (default: the package's)")
    parser.add_argument("--out", default="policy.npz", help="weights file to write (.npz)")
    parser.add_argument("--episodes", type=int, default=defaults.episodes)
    parser.add_argument("--held-out", type=int, default=defaults.held_out_episodes)
    parser.add_argument("--epochs", type=int, default=defaults.epochs)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    return parser


def train_policy(argv: Sequence[str] | None = None) -> int:
    """Run `train-policy` with `argv` (its own options); 0 on success, 2 on a config error."""
    args = _parser().parse_args(argv)
    try:
        robot = load_robot([config_files(args.config)["robot"]] if args.config else None)
        config = TrainConfig(
            episodes=args.episodes,
            held_out_episodes=args.held_out,
            epochs=args.epochs,
            seed=args.seed,
        )
        quiet = args.json

        def progress(line: str) -> None:
            if not quiet:
                print(line, file=sys.stderr, flush=True)

        weights, report = train_behaviour_cloning(robot, config, progress)
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        weights.save(out)
    except (LlmMasError, OSError) as error:
        print(f"llm-mas-ros train-policy: error: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps({**report.as_dict(), "weights": str(out)}, indent=2))
    else:
        for name, scores in report.held_out.items():
            text = ", ".join(f"{key} {value:.4g}" for key, value in scores.items())
            print(f"held-out {name}: {text}")
        print(f"weights: {out} ({out.stat().st_size} bytes), {report.seconds:.1f} s")
    return 0
