"""`llm-mas-ros`: plan, run and talk to the system without a ROS installation.

  llm-mas-ros plan "TEXT" [...] [--file F] [--json]   plan only, no ROS graph
  llm-mas-ros run "TEXT" [--json] [--attach]          bring up sim + agents + planner, execute
  llm-mas-ros up                                      bring the whole system up and keep it up
  llm-mas-ros say "TEXT"                              send to a running system, follow progress

`up`, `say` and `run --attach` use the environment's ROS_DOMAIN_ID like every ROS tool; `run`
alone brings up a graph of its own, on a free domain limited to this host. Errors print one line
and exit non-zero; never a traceback. SIGTERM, SIGHUP (terminal closed) and SIGQUIT stop what
the command started.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, NoReturn

from .core.errors import ConfigError, LlmMasError, PlanError
from .core.planning.pipeline import PlanningPipeline
from .core.planning.planner_settings import (
    BACKENDS,
    PlannerBackend,
    PlannerSettings,
    build_pipeline,
    planner_settings_from_params,
)
from .core.robot import param_files as P
from .core.robot.model import RobotModel, robot_from_params
from .core.sim.sim_settings import initial_positions, sim_settings_from_params
from .launcher.bringup import config_files, dds_environment, node_list
from .launcher.processes import DomainClaim, ProcessGroup, claim_free_domain

EXIT_FAILED = 1  # the instruction did not succeed (rejected, failed, timed out)
EXIT_USAGE = 2  # bad arguments, configuration or environment
STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)  # stop cleanly, like Ctrl-C


def _load(config: str | None) -> tuple[RobotModel, dict[str, Path]]:
    files = config_files(config)
    return robot_from_params(P.load_parameters([files["robot"]])), files


def _planner_settings(files: dict[str, Path], backend: str | None) -> PlannerSettings:
    params = P.load_parameters([files["robot"], files["planner"]], "planner")
    if backend:
        params["backend"] = backend
    return planner_settings_from_params(params)


def _convert_embedded_model(settings: PlannerSettings) -> None:
    """The very first start converts the embedded model (~30 s). Do it here, where a person
    watches, with its start and end on stderr even in a pipe: `run` sends node output to log
    files, so inside the planner process it would be a silent half-minute."""
    if settings.backend is not PlannerBackend.SMOLLM2:
        return
    from .core.planning.llm.models import convert_smollm2, smollm2_converted

    if smollm2_converted():
        return
    package = logging.getLogger("llm_mas_ros")
    level = package.level
    package.setLevel(logging.INFO)
    try:
        convert_smollm2()
    finally:
        package.setLevel(level)


def _pipeline(robot: RobotModel, files: dict[str, Path], backend: str | None) -> PlanningPipeline:
    settings = _planner_settings(files, backend)
    _convert_embedded_model(settings)
    return build_pipeline(robot, settings)


def _start_positions(robot: RobotModel, files: dict[str, Path]) -> dict[str, float]:
    """Agent -> position where the embedded simulation starts (what `plan` assumes)."""
    settings = sim_settings_from_params(P.load_parameters([files["sim"]], "mujoco_sim"))
    joints = initial_positions(robot, settings.initial_pose)
    return {agent.name: joints[agent.joint.name] for agent in robot.agents}


def _instructions(args: argparse.Namespace) -> list[str]:
    """The positional instructions, then the file's lines."""
    texts = list(args.instructions)
    if args.file:
        try:
            lines = Path(args.file).read_text().splitlines()
        except OSError as error:
            raise LlmMasError(f"cannot read {args.file}: {error.strerror}") from error
        texts += [line.strip() for line in lines if line.strip()]
    if not texts:
        raise LlmMasError("give at least one instruction (or --file with one per line)")
    return texts


def cmd_plan(args: argparse.Namespace) -> int:
    texts = _instructions(args)  # before loading a model: a missing file fails fast
    robot, files = _load(args.config)
    pipeline = _pipeline(robot, files, args.planner)
    positions = _start_positions(robot, files)
    status = 0
    for text in texts:
        try:
            plan = pipeline.plan(text, positions)
        except PlanError as error:
            status = EXIT_FAILED
            result: dict[str, Any] = {"instruction": text, "error": str(error)}
            print(json.dumps(result) if args.json else f"{text!r}: cannot plan: {error}")
            continue
        status = status or (EXIT_FAILED if plan.rejected else 0)
        print(json.dumps(plan.to_json()) if args.json else plan.describe(), flush=True)
    return status


@contextlib.contextmanager
def _ros() -> Iterator[None]:
    """rclpy for this process (imported here: `plan` must work without ROS), with the
    package's Fast DDS profile like the nodes (Fast DDS reads the variable when rclpy.init
    creates the participant, so setting it here is early enough)."""
    os.environ.update(dds_environment())
    import rclpy
    from rclpy.impl.implementation_singleton import rclpy_implementation
    from rclpy.signals import SignalHandlerOptions

    try:
        # Ctrl-C stays a plain KeyboardInterrupt: rclpy's handler would shut the context down
        # under a spinning executor and surface as an error instead.
        rclpy.init(args=[], signal_handler_options=SignalHandlerOptions.NO)
    except rclpy_implementation.RCLError as error:  # e.g. ROS_DOMAIN_ID=abc
        raise ConfigError(f"cannot start ROS 2: {_one_line(error)}") from error
    try:
        yield
    finally:
        rclpy.try_shutdown()


def _own_domain() -> DomainClaim:
    """A graph of its own for `run`: a DDS domain no participant on this host uses, claimed
    until `run` ends, discovery limited to this host, so two `run`s, or a `run` beside an `up`,
    never meet. Set in this process's environment: the nodes it starts inherit it, and
    rclpy.init of its own client node reads it."""
    claim = claim_free_domain()
    os.environ["ROS_DOMAIN_ID"] = str(claim.domain)
    os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    return claim


@contextlib.contextmanager
def _graph(args: argparse.Namespace, inherit_output: bool) -> Iterator[Callable[[], str | None]]:
    """Start sim + agents + planner unless attaching; yields a liveness check."""
    if getattr(args, "attach", False):
        yield lambda: None
        return
    specs = node_list(
        sim=args.sim, config_dir=args.config, agents=args.agents, planner_backend=args.planner
    )
    _convert_embedded_model(_planner_settings(config_files(args.config), args.planner))
    with ProcessGroup(specs, inherit_output=inherit_output) as group:

        def alive() -> str | None:
            dead = group.failed()
            return group.describe_exit(dead) if dead else None

        yield alive


@contextlib.contextmanager
def _ready_client(
    robot: RobotModel, timeout_s: float, alive: Callable[[], str | None] = lambda: None
) -> Iterator[Any]:
    """A GraphClient of the running system, once its planner is ready."""
    from .ros.client import GraphClient

    client = GraphClient(robot, node_name=f"llm_mas_cli_{os.getpid()}")
    try:
        client.wait_ready(timeout_s, alive)
        yield client
    finally:
        client.close()


def _print_outcome(outcome, as_json: bool) -> None:
    result = outcome.to_json()
    if as_json:
        print(json.dumps(result), flush=True)
        return
    for number, step in enumerate(result["steps"], 1):
        print(f"step {number}: " + "; ".join(f"{g['agent']}: {g['goal']}" for g in step))
    for rejection in result["rejected"]:
        print(f"rejected {rejection['agent']}: {rejection['reason']}")
    verdict = "ok" if outcome.ok else f"{outcome.state}: {outcome.reason}"
    print(f"{verdict} (done after {result['timings_ms']['done']} ms)")
    print(
        "final positions: " + ", ".join(f"{j}={v:.4f}" for j, v in outcome.final_positions.items())
    )


def cmd_run(args: argparse.Namespace) -> int:
    robot, _ = _load(args.config)
    with (
        contextlib.nullcontext() if args.attach else _own_domain(),
        _graph(args, inherit_output=False) as alive,
        _ros(),
        _ready_client(robot, args.ready_timeout, alive) as client,
    ):
        outcome = client.execute(args.instruction, args.timeout, alive=alive)
    _print_outcome(outcome, args.json)
    return 0 if outcome.ok else EXIT_FAILED


def cmd_say(args: argparse.Namespace) -> int:
    robot, _ = _load(args.config)
    progress = None if args.json else (lambda message: print(f"planner: {message}", flush=True))
    with _ros(), _ready_client(robot, args.ready_timeout) as client:
        outcome = client.execute(args.instruction, args.timeout, on_progress=progress)
    _print_outcome(outcome, args.json)
    return 0 if outcome.ok else EXIT_FAILED


def cmd_up(args: argparse.Namespace) -> int:
    from .ros.graph import spin_until

    robot, _ = _load(args.config)
    with (
        _graph(args, inherit_output=True) as alive,
        _ros(),
        _ready_client(robot, args.ready_timeout, alive) as client,
    ):
        try:  # from the moment it says so, Ctrl-C is how `up` is meant to end: exit 0
            print(
                'llm-mas-ros: ready. In another terminal: llm-mas-ros say "go to ready"; '
                "Ctrl-C stops everything.",
                flush=True,
            )
            spin_until(client.executor, lambda: alive() is not None, float("inf"), step_s=0.5)
        except KeyboardInterrupt:
            return 0
    print(f"llm-mas-ros: {alive()}", file=sys.stderr)
    return EXIT_FAILED


class _OneLineErrors(argparse.ArgumentParser):
    """Usage errors as one readable line (argparse prints the whole usage first)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _OneLineErrors(prog="llm-mas-ros", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--config",
        help="folder with robot.yaml, sim.yaml, planner.yaml (default: the package's config/)",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    plan = commands.add_parser("plan", help="plan only: print the plan of each instruction")
    plan.add_argument(
        "instructions",
        nargs="*",
        help="instructions (one plan each; before, between or after the options)",
    )
    plan.add_argument("--file", help="file with one instruction per line")
    plan.set_defaults(run=cmd_plan)

    run = commands.add_parser("run", help="bring the system up, execute, report, shut down")
    run.add_argument("instruction")
    run.add_argument("--attach", action="store_true", help="use an already running system")
    run.set_defaults(run=cmd_run)

    up = commands.add_parser("up", help="bring the whole system up until Ctrl-C")
    up.set_defaults(run=cmd_up)

    say = commands.add_parser(
        "say", help="send an instruction to a running system, follow it (Ctrl-C stops it)"
    )
    say.add_argument("instruction")
    say.set_defaults(run=cmd_say)

    for sub in (plan, run, up, say):
        sub.add_argument("--planner", choices=BACKENDS, help="planner backend (default: config)")
    for sub in (plan, run, say):
        sub.add_argument("--json", action="store_true", help="print one JSON object per result")
    for sub in (run, say):
        sub.add_argument(
            "--timeout",
            type=float,
            default=120.0,
            help="seconds to wait for the instruction to finish (default 120)",
        )
    for sub in (run, up, say):
        sub.add_argument(
            "--ready-timeout",
            type=float,
            default=180.0,
            help="seconds to wait for the system to be ready (default 180: the very first "
            "start converts the embedded model once, ~30 s)",
        )
    for sub in (run, up):
        sub.add_argument(
            "--sim",
            choices=("mujoco", "none"),
            default="mujoco",
            help="simulator to start (none: a robot or Gazebo provides the topics)",
        )
        sub.add_argument(
            "--agents",
            choices=("grouped", "separate"),
            default="grouped",
            help="all agents in one process (default) or one process each",
        )
    return parser


def _show_progress() -> None:
    """Model loading says what it does on a terminal (a first start converts the embedded
    model, ~30 s); in pipes and CI only warnings and errors are printed."""
    interactive = sys.stderr.isatty()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("llm-mas-ros: %(message)s"))
    package = logging.getLogger("llm_mas_ros")
    package.addHandler(handler)
    package.setLevel(logging.INFO if interactive else logging.WARNING)
    package.propagate = False
    if not interactive:
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("TQDM_DISABLE", "1")


def parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line, with `plan`'s instructions allowed on both sides of its options
    (`plan "a" --file f "b"`): argparse takes one run of positionals, so `plan` gets the
    later ones back as unrecognised arguments and keeps those that are not options."""
    parser = _parser()
    args, extra = parser.parse_known_args(argv)
    unknown = [arg for arg in extra if args.command != "plan" or arg.startswith("-")]
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    if extra:
        args.instructions += extra
    return args


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_arguments(argv)
    _show_progress()
    for stop in STOP_SIGNALS:  # SystemExit unwinds the with-blocks: started processes stop
        signal.signal(stop, lambda *_: sys.exit(EXIT_FAILED))
    # Ctrl-C is a KeyboardInterrupt even when started with SIGINT ignored (a shell's background
    # job, nohup): Python then installs no handler of its own, and `up` could not be stopped.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return args.run(args)
    except LlmMasError as error:
        print(f"llm-mas-ros: error: {error}", file=sys.stderr)
        return EXIT_USAGE if isinstance(error, ConfigError) else EXIT_FAILED
    except KeyboardInterrupt:
        return 130
    except Exception as error:  # last resort, e.g. from rclpy or the OS: a line, not a trace
        print(f"llm-mas-ros: error: {_one_line(error)}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    raise SystemExit(main())
