"""`llm-mas-ros`: plan, run and talk to the system without a ROS installation.

  llm-mas-ros plan "TEXT" [...] [--file F] [--json]   plan only, no ROS graph (--from POSE)
  llm-mas-ros run "TEXT" [--json] [--attach]          bring up sim + agents + planner, execute
  llm-mas-ros up                                      bring the whole system up and keep it up
  llm-mas-ros say "TEXT"                              send to a running system, follow progress
  llm-mas-ros monitor                                 live view of the agents and the planner
  llm-mas-ros train-policy [...]                      train the agents' policy in the sim
  llm-mas-ros eval-policy [...]                       score the learned policy vs classical
  llm-mas-ros bench [--json] [--out DIR] [--quick]    the control path's latency, side by side

`up`, `say` and `run --attach` use the environment's ROS_DOMAIN_ID like every ROS tool; `run`
alone brings up a graph of its own, on a free domain limited to this host. Errors print one line
and exit non-zero; never a traceback. SIGTERM, SIGHUP (terminal closed) and SIGQUIT stop what
the command started.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib
import json
import logging
import math
import os
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, NoReturn

from .core.errors import ConfigError, LlmMasError, PlanError
from .core.planning.execution import ExecutionState
from .core.planning.pipeline import PlanningPipeline, check_instruction
from .core.planning.plan import Plan
from .core.planning.planner_settings import (
    BACKENDS,
    PlannerBackend,
    PlannerSettings,
    build_pipeline,
    planner_settings_from_params,
)
from .core.planning.status import PLANNER_NODE
from .core.robot import param_files as P
from .core.robot.model import RobotModel, robot_from_params
from .core.sim.sim_settings import initial_positions, sim_settings_from_params
from .latency_bench.bench_settings import DECODE_LOADS, PLANNERS, settings_for
from .launcher.bringup import NodeSpec, config_files, dds_environment, node_list
from .launcher.processes import DomainClaim, ProcessGroup, claim_free_domain

# Exit codes. An instruction's outcome (ExecutionState) has one each; a stop that took effect
# is a success.
EXIT_FAILED = 1  # failed: an agent, the planning, or the graph
EXIT_USAGE = 2  # bad arguments, configuration or environment
EXIT_REJECTED = 3  # the shield (or the planner) refused it
EXIT_PREEMPTED = 4  # a later instruction or a stop took over
EXIT_TIMED_OUT = 5  # it did not finish in time (and was stopped)
EXIT_INTERRUPTED = 130  # Ctrl-C (which stops the instruction first)
OUTCOME_EXIT_CODES = {
    ExecutionState.DONE: 0,
    ExecutionState.STOPPED: 0,
    ExecutionState.FAILED: EXIT_FAILED,
    ExecutionState.REJECTED: EXIT_REJECTED,
    ExecutionState.PREEMPTED: EXIT_PREEMPTED,
    ExecutionState.TIMED_OUT: EXIT_TIMED_OUT,
}
DOMAIN_IDS = range(0, 233)  # what ROS 2 allows for ROS_DOMAIN_ID
PLANNER_DISCOVERY_S = 8.0  # a planner on the domain is discovered well within this (s)
STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)  # stop cleanly, like Ctrl-C
CURRENT = "current"  # `plan --from current`: the joint states of a running graph
# `plan --from current` waits this long for a complete /joint_states: a late joiner's discovery
# takes up to ~3 s (ARCHITECTURE section 10), then a state arrives within a publish period.
CURRENT_STATE_S = 5.0
DEVICES = ("auto", "cpu", "cuda")
# Why `say` and `run --attach` refuse planner flags: the planner is running already.
RUNNING_PLANNER = (
    "{command} talks to the running planner; its backend is set by `llm-mas-ros up --planner` "
    "(and --model-path, --threads, --device)"
)


def _load(config: str | None) -> tuple[RobotModel, dict[str, Path]]:
    files = config_files(config)
    return robot_from_params(P.load_parameters([files["robot"]])), files


def _planner_settings(files: dict[str, Path], overrides: dict[str, Any]) -> PlannerSettings:
    params = P.load_parameters([files["robot"], files["planner"]], "planner")
    return planner_settings_from_params({**params, **overrides})


def _planner_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """--planner, --model-path, --threads, --device as planner parameters over planner.yaml's
    (`plan`'s settings; the planner node's parameters for `run`/`up`). --model-path alone means
    --planner local: it is no other backend's model, and a flag is never ignored."""
    model_path = getattr(args, "model_path", None)
    backend = args.planner or (PlannerBackend.LOCAL if model_path else None)
    if model_path and backend != PlannerBackend.LOCAL:
        raise ConfigError(f"--model-path is the model of --planner local, not of {backend}")
    overrides: dict[str, Any] = {}
    if backend:
        overrides["backend"] = str(backend)
    if model_path:  # absolute: a node's working folder may differ
        overrides["model_path"] = str(Path(model_path).expanduser().resolve())
    if getattr(args, "threads", None) is not None:
        overrides["threads"] = args.threads
    if getattr(args, "device", None):
        overrides["device"] = args.device
    return overrides


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


def _pipeline(
    robot: RobotModel, files: dict[str, Path], overrides: dict[str, Any]
) -> PlanningPipeline:
    """`plan`'s pipeline: its model loads (converted first, with progress) only when an
    instruction first needs it, so fast paths and bad instructions answer at once."""
    settings = _planner_settings(files, overrides)
    return build_pipeline(
        robot, settings, eager=False, before_load=lambda: _convert_embedded_model(settings)
    )


def _start_positions(
    robot: RobotModel, files: dict[str, Path], start: str | None = None
) -> dict[str, float]:
    """Agent -> position `plan` plans from: the pose `start` (the joints it does not name at 0
    within their limits: the gripper closed), the running graph's joint states for 'current',
    or where the embedded simulation starts (sim.yaml initial_pose) when None."""
    if start == CURRENT:
        return _current_positions(robot)
    if start is None:
        sim = sim_settings_from_params(P.load_parameters([files["sim"]], "mujoco_sim"))
        start = sim.initial_pose
    elif start not in robot.poses:
        known = ", ".join([*robot.poses, CURRENT])
        raise ConfigError(f"--from {start!r} is not a start: use one of {known}")
    joints = initial_positions(robot, start)
    return {agent.name: joints[agent.joint.name] for agent in robot.agents}


def _current_positions(robot: RobotModel) -> dict[str, float]:
    """Agent -> position from the /joint_states of the graph on this ROS_DOMAIN_ID; a
    GraphError within CURRENT_STATE_S when no complete joint state arrives."""
    from .ros.client import GraphClient, GraphError

    with _ros():
        client = GraphClient(robot, node_name=f"llm_mas_cli_{os.getpid()}")
        try:
            joints = client.fresh_positions(CURRENT_STATE_S)
        finally:
            client.close()
    missing = [joint for joint, value in joints.items() if math.isnan(value)]
    if missing:
        domain = os.environ.get("ROS_DOMAIN_ID") or "0"
        unheard = "" if len(missing) == len(joints) else f" of {', '.join(missing)}"
        raise GraphError(
            f"no /joint_states{unheard} on ROS_DOMAIN_ID={domain} within {CURRENT_STATE_S:g} s: "
            "start the system with `llm-mas-ros up` (in a shell with the same ROS_DOMAIN_ID)"
        )
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
    texts = _instructions(args)  # a missing file fails fast
    robot, files = _load(args.config)
    pipeline = _pipeline(robot, files, _planner_overrides(args))  # the model loads lazily
    positions = _start_positions(robot, files, args.start)
    status = 0
    for text in texts:
        try:
            plan = pipeline.plan(text, positions)
        except PlanError as error:
            status = status or EXIT_FAILED
            failed = plan_result(Plan(text, ""), ExecutionState.FAILED, str(error))
            print(json.dumps(failed) if args.json else f"{text!r}: cannot plan: {error}")
            continue
        state, reason = None, ""
        if plan.rejected:
            first = plan.rejected[0]
            state, reason = ExecutionState.REJECTED, f"rejected: {first.agent}: {first.reason}"
        status = status or (EXIT_REJECTED if plan.rejected else 0)
        result = plan_result(plan, state, reason)
        print(json.dumps(result) if args.json else plan.describe(), flush=True)
    return status


def plan_result(plan: Plan, state: ExecutionState | None, reason: str) -> dict[str, Any]:
    """The one JSON object of every outcome: the plan (ARCHITECTURE section 5) with `ok`,
    `state` ('planned' for a plan that was only planned) and `reason`; run/say add
    `final_positions` and `timings_ms`."""
    ok = state is None or state in (ExecutionState.DONE, ExecutionState.STOPPED)
    return {**plan.to_json(), "ok": ok, "state": state or "planned", "reason": reason}


@contextlib.contextmanager
def _ros() -> Iterator[None]:
    """rclpy for this process (imported here: `plan` must work without ROS), with the
    package's Fast DDS profile like the nodes (Fast DDS reads the variable when rclpy.init
    creates the participant, so setting it here is early enough)."""
    _check_domain_id(os.environ.get("ROS_DOMAIN_ID", ""))
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


def _check_domain_id(text: str) -> None:
    """ROS_DOMAIN_ID as ROS 2 takes it (unset or empty: 0), else a ConfigError of our own
    (rcl would print a Fast DDS error for 250, and accept -1)."""
    if not text.strip():
        return
    try:
        domain = int(text)
    except ValueError:
        domain = -1
    if domain not in DOMAIN_IDS:
        raise ConfigError(
            f"ROS_DOMAIN_ID={text!r} is not a ROS 2 domain id: use an integer from "
            f"{DOMAIN_IDS.start} to {DOMAIN_IDS.stop - 1}"
        )


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
def _graph(args: argparse.Namespace, inherit_output: bool) -> Iterator[ProcessGroup | None]:
    """Start sim + agents + planner (None when attaching to a running system)."""
    if getattr(args, "attach", False):
        yield None
        return
    overrides = _planner_overrides(args)
    specs = node_list(
        sim=args.sim,
        config_dir=args.config,
        agents=args.agents,
        sim_parameters=_sim_overrides(args),
    )
    # Checked here, before any process starts: a setting the node would refuse fails now.
    _convert_embedded_model(_planner_settings(config_files(args.config), overrides))
    specs = _with_planner_parameters(specs, overrides)
    with ProcessGroup(specs, inherit_output=inherit_output) as group:
        yield group


def _with_planner_parameters(specs: list[NodeSpec], overrides: dict[str, Any]) -> list[NodeSpec]:
    """The planner node's spec with `overrides` as parameters (node-scoped `-p`, which beat
    planner.yaml's own section); the other specs as they are."""
    return [
        dataclasses.replace(spec, parameters={**spec.parameters, **overrides})
        if spec.name == PLANNER_NODE
        else spec
        for spec in specs
    ]


def _refuse_planner_flags(args: argparse.Namespace, why: str) -> None:
    """A ConfigError when planner flags were given to a command that cannot honour them."""
    given = [
        flag
        for flag, value in (
            ("--planner", args.planner),
            ("--model-path", getattr(args, "model_path", None)),
            ("--threads", getattr(args, "threads", None)),
            ("--device", getattr(args, "device", None)),
        )
        if value is not None
    ]
    if given:
        raise ConfigError(f"{' '.join(given)}: {why}")


def _sim_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """--viewer / --record as mujoco_sim parameters (the path absolute: a node's working
    folder may differ)."""
    overrides: dict[str, Any] = {}
    if getattr(args, "viewer", False):
        overrides["viewer"] = True
    if getattr(args, "record", None):
        overrides["record"] = str(Path(args.record).expanduser().resolve())
    if overrides and (getattr(args, "attach", False) or args.sim != "mujoco"):
        raise ConfigError("--viewer and --record need the embedded sim (not --attach, --sim none)")
    return overrides


def _alive(group: ProcessGroup | None) -> Callable[[], str | None]:
    return group.first_death if group else lambda: None


@contextlib.contextmanager
def _ready_client(
    robot: RobotModel,
    timeout_s: float,
    alive: Callable[[], str | None] = lambda: None,
    planner_within_s: float | None = None,
) -> Iterator[Any]:
    """A GraphClient of the running system, once its planner is ready; with
    `planner_within_s`, a GraphError right away when no planner is on the domain by then."""
    from .ros.client import GraphClient

    client = GraphClient(robot, node_name=f"llm_mas_cli_{os.getpid()}")
    try:
        if planner_within_s is not None:
            client.wait_for_planner(planner_within_s)
        client.wait_ready(timeout_s, alive)
        yield client
    finally:
        client.close()


def _print_outcome(outcome: Any, as_json: bool) -> None:
    result = outcome.to_json()
    if as_json:
        print(json.dumps(result), flush=True)
        return
    for number, step in enumerate(result["steps"], 1):
        print(f"step {number}: " + "; ".join(f"{g['agent']}: {g['goal']}" for g in step))
    for rejection in result["rejected"]:
        print(f"rejected {rejection['agent']}: {rejection['reason']}")
    answer = result["answer"]
    if answer is not None:
        print(f"answer: {answer}")
    verdict = "ok" if outcome.ok else f"{outcome.state}: {outcome.reason}"
    print(f"{verdict} (after {result['timings_ms']['done']} ms)")
    if answer is None or result["steps"]:  # an answer moved nothing: the positions are noise
        print("final positions: " + _positions_text(outcome.final_positions))


def _positions_text(positions: dict[str, float]) -> str:
    return ", ".join(f"{joint}={value:.4f}" for joint, value in positions.items())


def _execute(client: Any, args: argparse.Namespace, **options: Any) -> int:
    outcome = client.execute(
        args.instruction, args.timeout, stop_on_timeout=not args.keep_running, **options
    )
    _print_outcome(outcome, args.json)
    return OUTCOME_EXIT_CODES.get(outcome.planner.state, EXIT_FAILED)


def cmd_run(args: argparse.Namespace) -> int:
    check_instruction(args.instruction)  # before anything starts
    _sim_overrides(args)  # --viewer/--record with --attach: an error before anything starts
    if args.attach:
        _refuse_planner_flags(args, RUNNING_PLANNER.format(command="run --attach"))
    else:
        _planner_overrides(args)  # --model-path with another --planner: before anything starts
    robot, _ = _load(args.config)
    with (
        contextlib.nullcontext() if args.attach else _own_domain(),
        _graph(args, inherit_output=False) as group,
        _ros(),
        _ready_client(robot, args.ready_timeout, _alive(group)) as client,
    ):
        code = _execute(client, args, alive=_alive(group))
        if group and code == 0:
            group.discard_logs()
        elif group:
            print(f"llm-mas-ros: the nodes' logs are in {group.log_dir}", file=sys.stderr)
    return code


def cmd_say(args: argparse.Namespace) -> int:
    check_instruction(args.instruction)  # before any waiting
    _refuse_planner_flags(args, RUNNING_PLANNER.format(command="say"))
    robot, _ = _load(args.config)
    progress = None if args.json else (lambda message: print(f"planner: {message}", flush=True))
    discovery_s = min(PLANNER_DISCOVERY_S, args.ready_timeout)
    with _ros(), _ready_client(robot, args.ready_timeout, planner_within_s=discovery_s) as client:
        return _execute(client, args, on_progress=progress)


def cmd_up(args: argparse.Namespace) -> int:
    from .ros.graph import spin_until

    robot, _ = _load(args.config)
    with (
        _graph(args, inherit_output=True) as group,
        _ros(),
        _ready_client(robot, args.ready_timeout, _alive(group)) as client,
    ):
        alive = _alive(group)
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


def cmd_monitor(args: argparse.Namespace) -> int:
    from .ros.monitor import run_monitor

    robot, _ = _load(args.config)
    with _ros():
        return run_monitor(robot, refresh_hz=args.refresh)


def cmd_bench(args: argparse.Namespace) -> int:
    """The latency bench in a graph of its own (a free domain, this host only), like `run`:
    the settings and --out are checked before anything starts."""
    from .latency_bench.bench_command import run_bench, writable

    try:
        settings = settings_for(
            args.quick,
            rates_hz=args.rates,
            seconds=args.seconds,
            scaling_agents=args.scaling,
            scaling_seconds=args.seconds,
            decode_seconds=args.seconds,
            starts=args.starts,
            naive_starts=args.naive_starts,
            trials=args.trials,
            planner=args.planner,
            decode_load=args.decode_load,
        )
    except ValueError as error:
        raise ConfigError(str(error)) from error
    out = writable(Path(args.out).expanduser())
    with _own_domain(), _ros():
        return run_bench(settings, out, args.json)


# Commands that hand their arguments to a parser of their own, imported only when run: what
# they import (torch, mujoco) stays out of plan/run/say.
DELEGATED = {
    "train-policy": (
        "llm_mas_ros.training.train_cli",
        "train_policy",
        "train the agents' language-conditioned policy in the embedded sim",
    ),
    "eval-policy": (
        "llm_mas_ros.training.eval_policy",
        "eval_policy",
        "score the learned policy against the classical controller on held-out phrasings",
    ),
}


def cmd_delegated(args: argparse.Namespace) -> int:
    module, function, _ = DELEGATED[args.command]
    config = ["--config", args.config] if args.config else []
    run: Callable[[list[str]], int] = getattr(importlib.import_module(module), function)
    return run([*config, *args.rest])


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
    plan.add_argument(
        "--from",
        dest="start",
        metavar="POSE",
        help="where the robot is: a pose of robot.yaml (home, ready, stow; the gripper closed "
        "unless it names it) or current (the /joint_states of the running system); default: "
        "sim.yaml initial_pose, home",
    )
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

    monitor = commands.add_parser(
        "monitor", help="live view of every agent and the planner on the domain (q quits)"
    )
    monitor.add_argument(
        "--refresh", type=float, default=10.0, help="redraws per second (default 10)"
    )
    monitor.set_defaults(run=cmd_monitor)

    bench = commands.add_parser(
        "bench",
        help="sense->act, CPU, start->ready, scaling, instruction latency: the tuned runtime "
        "vs a naive build vs the floor, in one run (JSON, markdown, PNG plots)",
    )
    _add_bench_flags(bench)
    bench.set_defaults(run=cmd_bench)

    for name, (_, _, text) in DELEGATED.items():
        delegated = commands.add_parser(
            name, help=f"{text} (options: llm-mas-ros {name} --help)", add_help=False
        )
        delegated.add_argument("rest", nargs=argparse.REMAINDER)
        delegated.set_defaults(run=cmd_delegated)

    for sub in (plan, run, up, say):  # say refuses it: the running planner's is set by up
        sub.add_argument("--planner", choices=BACKENDS, help="planner backend (default: config)")
    for sub in (plan, run, up):
        _add_model_flags(sub)
    for sub in (plan, run, say, bench):
        sub.add_argument("--json", action="store_true", help="print one JSON object per result")
    for sub in (run, say):
        sub.add_argument(
            "--timeout",
            type=float,
            default=120.0,
            help="seconds to wait for the instruction to finish (default 120); then it is "
            "stopped (exit 5)",
        )
        sub.add_argument(
            "--keep-running",
            action="store_true",
            help="at --timeout, leave the instruction running and say so (exit 1)",
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
        sub.add_argument(
            "--viewer",
            action="store_true",
            help="show the embedded sim in MuJoCo's viewer (where a display exists)",
        )
        sub.add_argument(
            "--record",
            metavar="PATH",
            help="render the embedded sim's motion off-screen to PATH (.png contact sheet or "
            ".mp4), written when the sim stops",
        )
    return parser


def _add_model_flags(sub: argparse.ArgumentParser) -> None:
    """The planner model's settings, over config/planner.yaml's."""
    sub.add_argument(
        "--model-path",
        metavar="DIR",
        help="transformers causal-LM directory (implies --planner local)",
    )
    sub.add_argument(
        "--threads",
        type=_threads,
        metavar="N",
        help="CPU threads for the model (0: automatic, one on 2 CPUs; default: config)",
    )
    sub.add_argument(
        "--device", choices=DEVICES, help="where the model runs (default: config, auto)"
    )


def _add_bench_flags(bench: argparse.ArgumentParser) -> None:
    """The bench's budget: the full run (every rate, 7 to 56 agents, the model) unless
    --quick or a flag says otherwise."""
    bench.add_argument(
        "--out", default="bench-results", metavar="DIR",
        help="folder for bench.json, bench.md and the PNG plots (default: ./bench-results)",
    )  # fmt: skip
    bench.add_argument(
        "--quick", action="store_true",
        help="a smoke run of a few seconds per section (100 and 500 Hz, 7 and 14 agents, "
        "rules planner, a busy stand-in for decoding)",
    )  # fmt: skip
    bench.add_argument(
        "--rates", type=_numbers(float), metavar="HZ,...",
        help="state rates of sense->act (default 100,200,500; the highest is the headline)",
    )  # fmt: skip
    bench.add_argument(
        "--seconds", type=float, metavar="S",
        help="measured seconds per system and rate, per scaling point and per decode window",
    )  # fmt: skip
    bench.add_argument(
        "--scaling", type=_numbers(int), metavar="N,...",
        help="agent counts of the scaling section, whole arms of 7 (default 7,14,28,56)",
    )  # fmt: skip
    bench.add_argument("--starts", type=int, metavar="N", help="starts of the tuned process")
    bench.add_argument(
        "--naive-starts", type=int, metavar="N", help="starts of the naive build (7 processes)"
    )
    bench.add_argument("--trials", type=int, metavar="N", help="instructions of each kind")
    bench.add_argument(
        "--planner", choices=PLANNERS, help="planner of the decode and instruction sections"
    )
    bench.add_argument(
        "--decode-load", choices=DECODE_LOADS,
        help="what loads the CPU while sense->act is measured: the planner's model decoding "
        "(default) or a busy stand-in process",
    )  # fmt: skip


def _numbers(kind: Callable[[str], float]) -> Callable[[str], list[float]]:
    """An argparse type: a comma-separated list of `kind` (float or int)."""

    def parse(text: str) -> list[float]:
        try:
            return [kind(part) for part in text.split(",") if part.strip()]
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list") from None

    return parse


def _threads(text: str) -> int:
    try:
        threads = int(text)
    except ValueError:
        threads = -1
    if threads < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a thread count (0: automatic)")
    return threads


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
    later ones back as unrecognised arguments and keeps those that are not options.
    `train-policy` and `eval-policy` hand all of their arguments to their own parsers."""
    parser = _parser()
    args, extra = parser.parse_known_args(argv)
    if args.command in DELEGATED:
        args.rest, extra = [*extra, *args.rest], []
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
    except KeyboardInterrupt as interrupt:
        positions = getattr(interrupt, "positions", None)  # ros.client.Interrupted
        if positions:
            print(f"llm-mas-ros: stopped; joints at {_positions_text(positions)}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as error:  # last resort, e.g. from rclpy or the OS: a line, not a trace
        print(f"llm-mas-ros: error: {_one_line(error)}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    raise SystemExit(main())
