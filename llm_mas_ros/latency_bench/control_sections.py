"""The bench's control-path sections: sense->act per rate and system, scaling with the number of
agents, start -> ready, and sense->act while the planner decodes. Each returns its part of the
result (JSON-ready) and, for the plots, the raw latencies (s).

Runs in the bench process after rclpy.init, in the bench's own ROS domain.
"""

from __future__ import annotations

import contextlib
import itertools
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from rclpy.node import Node
from std_msgs.msg import String

from ..launcher.bringup import NodeSpec, node_list
from ..launcher.processes import ProcessGroup
from ..ros import qos, topics
from . import bench_systems as S
from . import latency_stats as L
from .bench_config import write_config
from .bench_settings import ARM_AGENTS, MODEL_INSTRUCTIONS, BenchSettings
from .prober import Prober, Window

FIRST_ANSWER_S = 20.0  # a matched system answers its first state within this
HEADLINE_ONLY = ("tuned_classical", "tuned_moving", "tuned_classical_moving")  # one rate
FALLBACK_LOG = "classical fallback"  # what the agents process logs when the guard gives up
BUSY_CPU_S = 0.5  # CPU (s) the stand-in has used once past its imports, in its busy loop


@dataclass
class Live:
    """A started system, its prober, and when it became ready (s after its start)."""

    system: S.System
    group: ProcessGroup
    node: Node
    prober: Prober
    ready_s: float | None = None
    first_answer_s: float | None = None
    goals_acked: bool = True


@contextlib.contextmanager
def running(
    systems: Sequence[S.System], log_dir: Path, timeout_s: float
) -> Iterator[dict[str, Live]]:
    """Start `systems` together, wait until each is matched, answers a state and holds its
    goal (`System.goal`); stop them all on the way out (Ctrl-C included)."""
    lives: dict[str, Live] = {}
    try:
        for system in systems:
            lives[system.key] = _launch(system, log_dir)
        for live in lives.values():
            _wait_ready(live, timeout_s)
        yield lives
    finally:
        for live in lives.values():
            live.group.stop()
            live.node.destroy_node()


def _launch(system: S.System, log_dir: Path) -> Live:
    name = f"bench_prober_{system.key}"  # unique: systems in the root namespace share it
    node = Node(name, namespace=system.namespace)
    prober = Prober(
        node, system.joints, system.command_topics, system.state_qos, system.command_qos
    )
    live = Live(system, S.start(system, log_dir), node, prober)
    live.ready_s = -time.monotonic()  # completed into 'seconds after start' once ready
    return live


def _wait_ready(live: Live, timeout_s: float) -> None:
    started = -(live.ready_s or 0.0)
    system, prober = live.system, live.prober
    matched = prober.wait_matched(system.state_subscribers, timeout_s, live.group.first_death)
    if matched is None:
        raise RuntimeError(f"{system.key} did not match within {timeout_s:g} s")
    answered = prober.first_answer(FIRST_ANSWER_S)
    if answered is None:
        raise RuntimeError(f"{system.key} matched but answered no state in {FIRST_ANSWER_S} s")
    live.ready_s, live.first_answer_s = matched - started, answered - started
    if system.goal_topics:
        live.goals_acked = prober.send_goals(live.node, system.goal_topics, system.goal)


@dataclass
class Measured:
    """One (system, rate) over all its windows: latencies, jitter and the prober's own
    publish lateness (s), CPU and wall time (s), states, losses, late publishes."""

    agents: int
    period_s: float
    latency: list[np.ndarray] = field(default_factory=list)
    jitter: list[np.ndarray] = field(default_factory=list)
    publish_late: list[np.ndarray] = field(default_factory=list)
    cpu_s: float = 0.0
    wall_s: float = 0.0
    states: int = 0
    lost: int = 0
    late: int = 0

    def add(self, window: Window, cpu_s: float) -> None:
        self.latency.append(window.latency_s)
        self.jitter.append(L.jitter(window.acted_s, window.period_s))
        self.publish_late.append(window.publish_late_s)
        self.cpu_s += cpu_s
        self.wall_s += window.wall_s
        self.states += len(window.published_s)
        self.lost += window.lost
        self.late += window.late_publishes

    @property
    def latencies(self) -> np.ndarray:
        return np.concatenate(self.latency)

    def to_json(self) -> dict[str, Any]:
        return {
            "latency_us": L.summary(self.latencies, "us"),
            "latency_cdf_us": L.cdf(self.latencies, "us"),
            "jitter_us": L.summary(np.concatenate(self.jitter), "us"),
            "prober_publish_late_us": L.summary(np.concatenate(self.publish_late), "us"),
            "cpu_per_agent_pct": L.cpu_share(self.cpu_s, self.wall_s, self.agents),
            "cpu_per_state_us": round(self.cpu_s / self.states * 1e6, 3),
            "achieved_hz": round(self.states / self.wall_s, 3),
            "states": self.states,
            "lost": self.lost,
            "late_publishes": self.late,
        }


def measure(
    live: Live,
    rate_hz: float,
    seconds: float,
    warm_up_s: float,
    between: Callable[[float], None] | None = None,
    into: Measured | None = None,
) -> Measured:
    """One window on `live` (after a warm-up the CPU reading leaves out), added to `into`."""
    if warm_up_s > 0:
        live.prober.window(rate_hz, warm_up_s, 0.0, between)
    pids = S.pids(live.group)
    before = S.cpu_seconds(pids)
    window = live.prober.window(rate_hz, seconds, 0.0, between)
    measured = into or Measured(live.system.agents, 1.0 / rate_hz)
    measured.add(window, S.cpu_seconds(pids) - before)
    return measured


def describe(live: Live) -> dict[str, Any]:
    return {
        "label": live.system.label,
        "processes": len(live.system.specs),
        "start_to_ready_s": None if live.ready_s is None else round(live.ready_s, 3),
        "agents": live.system.agents,
        "policy_fallbacks_logged": S.logged(live.group, FALLBACK_LOG),
        "goals_acked": live.goals_acked,
    }


# -- sense -> act per rate ------------------------------------------------------------------
def headline_systems(settings: BenchSettings, work: Path) -> tuple[list[S.System], str]:
    """Tuned (learned policy, like the naive build's network), tuned with the shipped
    classical policy, both once more with every joint inside a segment (holding, a learned
    group skips its network), naive, and the floors, each in its namespace; and what was done
    to the shipped weights to load them ('' for nothing)."""
    learned = write_config(work / "arm", 1, "learned")
    classical = write_config(work / "arm_classical", 1, "classical")
    rate = settings.headline_rate_hz
    joints = learned.robot.joint_names
    systems = [
        S.tuned(
            "tuned",
            "tuned: the agents process of `up`, one batched numpy step of the learned policy "
            "(the default)",
            learned.folder,
            learned.robot,
            "/tuned",
            rate,
        ),
        S.tuned(
            "tuned_classical",
            "tuned, classical policy (policy: classical)",
            classical.folder,
            classical.robot,
            "/tuned_classical",
            rate,
        ),
        S.tuned(
            "tuned_moving",
            f"tuned (learned), every joint inside a segment ('{S.MOVING}'): the network runs",
            learned.folder,
            learned.robot,
            "/tuned_moving",
            rate,
            S.MOVING,
        ),
        S.tuned(
            "tuned_classical_moving",
            f"tuned (classical), every joint inside a segment ('{S.MOVING}')",
            classical.folder,
            classical.robot,
            "/tuned_classical_moving",
            rate,
            S.MOVING,
        ),
        S.naive("naive", learned.robot_file, learned.robot, "/naive", rate),
        S.echo("echo", "floor: rclpy echo, EventsExecutor", joints, "/echo", waitset=False),
        S.echo(
            "echo_all",
            f"floor: rclpy echo of one command per agent ({len(joints)} messages, as tuned sends)",
            joints,
            "/echo_all",
            waitset=False,
            replies=len(joints),
        ),
        S.echo("waitset", "floor: rcl wait-set echo, raw take", joints, "/waitset", waitset=True),
    ]
    return systems, learned.weights_note


def sense_act(settings: BenchSettings, work: Path) -> dict[str, Any]:
    """Every headline system at every rate (the classical and moving variants at the headline
    rate only), in
    `passes` rounds, each round visiting the systems in a rotated order."""
    systems, weights_note = headline_systems(settings, work)
    measured: dict[str, dict[str, Measured]] = {s.key: {} for s in systems}
    with running(systems, work / "logs", settings.ready_timeout_s) as lives:
        for turn, rate in itertools.product(range(settings.passes), settings.rates_hz):
            order = systems[turn % len(systems) :] + systems[: turn % len(systems)]
            for system in order:
                if system.key in HEADLINE_ONLY and rate != settings.headline_rate_hz:
                    continue
                slot = measured[system.key]
                slot[L.rate_key(rate)] = measure(
                    lives[system.key],
                    rate,
                    settings.seconds / settings.passes,
                    settings.warm_up_s,
                    into=slot.get(L.rate_key(rate)),
                )
        described = {key: describe(live) for key, live in lives.items()}
    return {
        "weights_note": weights_note,
        "systems": described,
        "sense_act": {k: {r: m.to_json() for r, m in v.items()} for k, v in measured.items()},
    }


# -- scaling ----------------------------------------------------------------------------------
def scaling(settings: BenchSettings, work: Path) -> dict[str, Any]:
    """The tuned runtime with 7, 14, ... agents (copies of the arm), one at a time."""
    rate = settings.scaling_rate_hz
    points = []
    for count in settings.scaling_agents:
        config = write_config(work / f"arms_{count}", count // ARM_AGENTS, "learned")
        system = S.tuned(
            f"scale_{count}",
            f"tuned, {count} agents",
            config.folder,
            config.robot,
            f"/scale_{count}",
            rate,
        )
        with running([system], work / "logs", settings.ready_timeout_s) as lives:
            live = lives[system.key]
            result = measure(live, rate, settings.scaling_seconds, settings.warm_up_s).to_json()
            points.append(
                {
                    "agents": count,
                    "start_to_ready_s": round(live.ready_s or 0.0, 3),
                    **{k: result[k] for k in ("latency_us", "cpu_per_agent_pct")},
                    "cpu_per_state_us": result["cpu_per_state_us"],
                    "lost": result["lost"],
                    **describe(live),
                }
            )
    return {"rate_hz": rate, "points": points, "growth": scaling_growth(points)}


def scaling_growth(points: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """How sense->act p50 and the CPU per state grow with the agents (latency_stats.growth)."""
    if len(points) < 2:
        return {}
    counts = [point["agents"] for point in points]
    return {
        "latency_p50": L.growth(counts, [point["latency_us"]["p50"] for point in points]),
        "cpu_per_state": L.growth(counts, [point["cpu_per_state_us"] for point in points]),
    }


# -- start -> ready --------------------------------------------------------------------------
def starts(settings: BenchSettings, work: Path) -> dict[str, Any]:
    """Start the tuned agents process `starts` times (and the naive build `naive_starts`
    times), alone, each until it is matched (ready) and answers a state (first act)."""
    config = write_config(work / "arm_starts", 1, "learned")
    rate = settings.headline_rate_hz
    makers: dict[str, Callable[[int], S.System]] = {
        "tuned": lambda i: S.tuned(
            f"start_{i}", "tuned", config.folder, config.robot, f"/start_{i}", rate
        ),
        "naive": lambda i: S.naive(
            f"naive_start_{i}", config.robot_file, config.robot, f"/naive_start_{i}", rate
        ),
    }
    counts = {"tuned": settings.starts, "naive": settings.naive_starts}
    result: dict[str, Any] = {}
    for key, make in makers.items():
        ready: list[float] = []
        answered: list[float] = []
        for index in range(counts[key]):
            with running([make(index)], work / "logs", settings.ready_timeout_s) as lives:
                (live,) = lives.values()
                ready.append(live.ready_s or float("nan"))
                answered.append(live.first_answer_s or float("nan"))
        result[key] = (
            {"starts": len(ready), "ready_s": _start_summary(ready)}
            | {"first_answer_s": _start_summary(answered)}
            if ready
            else {"not_measured": f"--naive-starts {counts[key]}"}
        )
    return result


def _start_summary(values: Sequence[float]) -> dict[str, Any]:
    base = L.summary(values, "s")
    array = np.asarray(values, dtype=float)
    base["p95"] = round(float(np.percentile(array[np.isfinite(array)], 95)), 3)
    return base


# -- sense -> act while the planner decodes -----------------------------------------------------
class InstructionSender:
    """Sends the next of `texts` every `interval_s` from `between` calls (the prober's)."""

    def __init__(self, node: Node, texts: Sequence[str], interval_s: float) -> None:
        self.publisher = node.create_publisher(String, topics.INSTRUCTION, qos.INSTRUCTIONS)
        self.texts = itertools.cycle(texts)
        self.interval_s = interval_s
        self.next_at = 0.0
        self.sent = 0

    def __call__(self, now: float) -> None:
        if now >= self.next_at:
            self.publisher.publish(String(data=next(self.texts)))
            self.sent += 1
            self.next_at = now + self.interval_s


def decode_load(settings: BenchSettings, model_reason: str | None) -> tuple[NodeSpec, str]:
    """The process that loads the CPU while sense->act is measured, and what it is."""
    if settings.decode_load == "model" and model_reason is None:
        (planner,) = node_list(sim="none", part="planner", planner_backend=settings.planner)
        return planner, (
            f"the planner node ({settings.planner}) decoding a new free-form instruction every "
            f"{settings.decode_interval_s:g} s"
        )
    why = model_reason or "--decode-load busy"
    stand_in = NodeSpec("cpu_stand_in", f"{S.PACKAGE}.cpu_stand_in", None)
    return stand_in, f"a CPU-busy stand-in process (one busy thread, normal priority): {why}"


def while_decoding(
    settings: BenchSettings, work: Path, model_reason: str | None
) -> dict[str, Any]:
    """Sense->act of the tuned agents (learned, the default: the planner's goals make them
    move) at rest beside an idle planner, then while it decodes; in the root namespace.
    A busy stand-in is busy from its start: at rest is then measured before it starts."""
    config = write_config(work / "arm_decode", 1, "learned")
    rate = settings.decode_rate_hz
    agents = S.tuned("decode", "tuned, learned", config.folder, config.robot, "/", rate)
    load, what = decode_load(settings, model_reason)
    is_model = load.module != f"{S.PACKAGE}.cpu_stand_in"
    with running([agents], work / "logs", settings.ready_timeout_s) as lives:
        live = lives["decode"]
        sender = InstructionSender(live.node, MODEL_INSTRUCTIONS, settings.decode_interval_s)

        def window(between: Callable[[float], None] | None = None) -> Measured:
            return measure(live, rate, settings.decode_seconds, settings.warm_up_s, between)

        rest: tuple[Measured, float | None] = (window(), None)  # no load process yet
        with ProcessGroup([load], log_dir=work / "logs" / "decode_load") as loader:
            if is_model:
                _wait_subscribed(sender, loader, settings.ready_timeout_s)
                rest = _with_cpu(loader, window)  # beside the planner, idle
            else:
                _wait_busy(loader, settings.ready_timeout_s)
            busy = _with_cpu(loader, lambda: window(sender if is_model else None))
    return {
        "rate_hz": rate,
        "load": what,
        "at_rest": {**rest[0].to_json(), "load_cpu_pct": rest[1]},
        "loaded": {**busy[0].to_json(), "load_cpu_pct": busy[1]},
        "instructions_sent": sender.sent,
        "p99_loaded_over_rest": L.ratio(
            busy[0].to_json()["latency_us"]["p99"], rest[0].to_json()["latency_us"]["p99"]
        ),
    }


def _wait_busy(loader: ProcessGroup, timeout_s: float) -> None:
    """Until the stand-in has used BUSY_CPU_S of CPU: it then runs its busy loop."""
    deadline = time.monotonic() + timeout_s
    while S.cpu_seconds(S.pids(loader)) < BUSY_CPU_S:
        if death := loader.first_death():
            raise RuntimeError(death)
        if time.monotonic() > deadline:
            raise RuntimeError(f"the CPU stand-in did not start within {timeout_s:g} s")
        time.sleep(0.01)


def _wait_subscribed(sender: InstructionSender, loader: ProcessGroup, timeout_s: float) -> None:
    """The planner subscribes to /instruction once its model is loaded and warmed up."""
    deadline = time.monotonic() + timeout_s
    while sender.publisher.get_subscription_count() == 0:
        if death := loader.first_death():
            raise RuntimeError(death)
        if time.monotonic() > deadline:
            raise RuntimeError(f"the planner was not ready within {timeout_s:g} s")
        time.sleep(0.05)


def _with_cpu(group: ProcessGroup, run: Callable[[], Measured]) -> tuple[Measured, float | None]:
    """`run()`, and the share of one core (%) `group`'s processes used meanwhile."""
    pids = S.pids(group)
    before, began = S.cpu_seconds(pids), time.monotonic()
    measured = run()
    return measured, L.cpu_share(S.cpu_seconds(pids) - before, time.monotonic() - began, 1)
