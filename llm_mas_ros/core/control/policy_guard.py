"""The runtime guard in front of a learned policy, and the choice of each agent's policy.

`GuardedPolicy` is ONE batched `Policy` for a group in which some agents run the learned
network and the others the classical controller: per tick, one classical call for every row and
(when any row is learned) one network call for every row. A learned row's command is kept only
if it is finite, within the row's URDF position limits and a step from the last command no
larger than the URDF velocity limit allows (times `velocity_margin`) over the time since that
command (at least one period: a late tick may step further, as the classical command does);
otherwise that row gets
the classical command this tick and the violation is counted. `violations` violations within
`window_s` and the row falls back to the classical controller for good, with a reason
(`fallback`). Arrays are allocated once; a violation costs a little Python, a clean tick none.

`build_policy` turns the robot's configuration (`policy`, `agents.<name>.policy`,
`policy_weights`, `policy_guard_*`) into the group's policy; unreadable weights leave every
agent on the classical controller, with a warning and a fallback reason, never a crash.
Units: rad or m, s.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from ..errors import ConfigError
from ..robot.model import Agent, PolicyKind, RobotModel
from .learned_policy import LearnedPolicy, PolicyWeights
from .policies import MinimumJerkPolicy, Observation, Policy


class CommandSource(Protocol):
    """What the guard judges: commands (N,) of an observation (`LearnedPolicy.command`),
    after which `base` holds the classical command of the same observation (a residual
    policy builds on it; the guard takes it for the rows it does not keep)."""

    base: np.ndarray

    def command(self, observation: Observation) -> np.ndarray: ...


@dataclass(frozen=True)
class GuardSettings:
    """`violations` clipped commands within `window_s` (s) make a row fall back; a step may
    imply up to `velocity_margin` times the URDF velocity limit (one tick of jitter)."""

    violations: int = 5
    window_s: float = 1.0
    velocity_margin: float = 1.2


class GuardedPolicy:
    """Learned rows (`learned`) guarded and backed by `classical`; the other rows classical.
    `skip` (written by the group every tick) marks rows that take the classical command this
    tick without judging the network: no joint state yet, e-stop."""

    name = "guarded"

    def __init__(
        self,
        learned: CommandSource,
        classical: Policy,
        rows: Sequence[bool],
        velocity_limits: np.ndarray,
        period_s: float,
        settings: GuardSettings = GuardSettings(),
        units: Sequence[str] = (),
    ) -> None:
        count = len(rows)
        self.learned_policy, self.classical = learned, classical
        self.settings = settings
        self.learned = np.array(rows, dtype=bool)  # rows still on the network
        self.skip = np.zeros(count, dtype=bool)
        self.violations = np.zeros(count, dtype=np.int64)  # counted, all time
        self.fallback = [""] * count  # why a row left the network ("" while it has not)
        self.fallbacks = 0  # rows fallen back so far: a group notices a change by it
        limits = np.asarray(velocity_limits, dtype=float)
        # the largest step per second of time between commands (rad/s or m/s)
        self.max_rate = np.where(np.isfinite(limits), limits, np.inf) * settings.velocity_margin
        self.period_s = period_s
        self.units = tuple(units) or ("",) * count
        self._window_ticks = max(1, math.ceil(settings.window_s / period_s - 1e-9))
        self._ticks_at = np.full((count, settings.violations), -np.inf)  # ring per row
        self._tick = 0
        self._last = np.full(count, np.nan)  # command sent per row last tick
        self._last_elapsed = np.full(count, np.nan)  # its segment time (s)
        self._max_step = np.zeros(count)
        self._out = np.zeros(count)
        self._use = np.zeros(count, dtype=bool)
        self._bad = np.zeros(count, dtype=bool)
        self._check = np.zeros(count, dtype=bool)
        self._from = np.zeros(count)
        self._step = np.zeros(count)

    def act(self, observation: Observation) -> np.ndarray:
        out, use = self._out, self._use
        np.logical_not(self.skip, out=use)
        np.logical_and(use, self.learned, out=use)
        if not use.any():
            np.copyto(out, self.classical.act(observation))
        else:
            command = self.learned_policy.command(observation)
            np.copyto(out, self.learned_policy.base)  # the classical command, computed along
            if command is not self.learned_policy.base:  # else nothing moves: nothing to judge
                self._judge(observation, command, use)
        np.copyto(self._last, out)
        np.copyto(self._last, np.nan, where=self.skip)
        np.copyto(self._last_elapsed, observation.elapsed_s)
        self._tick += 1
        return out

    def _judge(self, observation: Observation, command: np.ndarray, use: np.ndarray) -> None:
        """Put the learned command of the `use` rows into the output where it passes (finite,
        within the limits, within the velocity limit of the last command); count the rest."""
        out, bad, check = self._out, self._bad, self._check
        start = self._from  # the last command, or where the joint is before the first
        np.copyto(start, self._last)
        np.copyto(start, observation.position, where=np.isnan(start, out=check))
        np.subtract(command, start, out=self._step)
        np.abs(self._step, out=self._step)
        self._allowed_step(observation)
        np.isfinite(command, out=bad)
        np.logical_not(bad, out=bad)
        for judged in (
            np.less(command, observation.lower, out=check),
            np.greater(command, observation.upper, out=check),
            np.greater(self._step, self._max_step, out=check),
        ):
            np.logical_or(bad, judged, out=bad)
        np.logical_and(bad, use, out=bad)
        np.logical_xor(use, bad, out=use)  # the learned rows whose command stands
        np.copyto(out, command, where=use)
        if bad.any():
            self._record(observation, command, start)

    def _allowed_step(self, observation: Observation) -> None:
        """`_max_step` = velocity limit x the time since the last command, at least a period.
        Within a segment that time is the growth of its elapsed time; when a segment began
        since (or before the first command), at least the segment's elapsed time has passed."""
        elapsed, since, restarted = observation.elapsed_s, self._max_step, self._check
        np.subtract(elapsed, self._last_elapsed, out=since)
        np.greater_equal(elapsed, self._last_elapsed, out=restarted)  # False against NaN
        np.logical_not(restarted, out=restarted)
        np.copyto(since, elapsed, where=restarted)
        np.fmax(since, self.period_s, out=since)
        np.multiply(since, self.max_rate, out=self._max_step)

    def _record(self, observation: Observation, command: np.ndarray, start: np.ndarray) -> None:
        need = self.settings.violations
        for row in np.flatnonzero(self._bad).tolist():
            self.violations[row] += 1
            ring = self._ticks_at[row]
            ring[self.violations[row] % need] = self._tick
            if self._tick - ring.min() < self._window_ticks:
                why = self._describe(row, observation, float(command[row]), float(start[row]))
                self.learned[row] = False
                self.fallback[row] = (
                    f"{need} guard violations within {self.settings.window_s:g} s, last: {why}"
                )
                self.fallbacks += 1

    def _describe(self, row: int, obs: Observation, command: float, start: float) -> str:
        unit = self.units[row]
        lower, upper = float(obs.lower[row]), float(obs.upper[row])
        if not math.isfinite(command):
            return f"{command} command"
        if not lower <= command <= upper:
            return f"command {command:.4g} {unit} outside the limits [{lower:.4g}, {upper:.4g}]"
        seconds = self._max_step[row] / self.max_rate[row]
        speed = abs(command - start) / seconds
        limit = self.max_rate[row] / self.settings.velocity_margin
        return f"a step at {speed:.4g} {unit}/s beyond the velocity limit {limit:.4g} {unit}/s"


def _network(
    weights: PolicyWeights, names: list[str], device: str
) -> tuple[CommandSource, list[str]]:
    """The learned network on `device`: numpy on the CPU, torch on a CUDA GPU (the CPU and a
    warning when there is none)."""
    if device == "cuda":
        from .torch_policy import TorchPolicy, cuda_available

        available, why = cuda_available()
        if available:
            return TorchPolicy(weights, names, "cuda"), []
        return LearnedPolicy(weights, names), [
            f"policy_device cuda: {why}; the network runs on the CPU"
        ]
    return LearnedPolicy(weights, names), []


@dataclass(frozen=True)
class PolicyChoice:
    """The group's policy, the kind each row runs, why a row configured learned does not
    (`fallback`, "" where it does or was not), and warnings for the log."""

    policy: Policy
    kinds: tuple[PolicyKind, ...]
    fallback: tuple[str, ...]
    warnings: tuple[str, ...]
    guard: GuardedPolicy | None


def build_policy(agents: Sequence[Agent], robot: RobotModel) -> PolicyChoice:
    """The policy of a group of `agents` as `robot.control` configures it: the classical
    controller alone when no agent is learned (nothing loaded), else a `GuardedPolicy`."""
    control = robot.control
    kinds = [control.policy_of(agent.name) for agent in agents]
    classical = MinimumJerkPolicy()
    none = ("",) * len(agents)
    learned = [kind is PolicyKind.LEARNED for kind in kinds]
    if not any(learned):
        return PolicyChoice(classical, tuple(kinds), none, (), None)
    path = control.policy_weights
    try:
        weights = PolicyWeights.load(control.policy_weights_path())
    except ConfigError as error:
        why = f"learned policy unavailable: {error}"
        names = ", ".join(a.name for a, on in zip(agents, learned, strict=True) if on)
        fallback = tuple(why if on else "" for on in learned)
        warning = f"{why} ({path}); agents {names} run the classical controller"
        classical_kinds = (PolicyKind.CLASSICAL,) * len(agents)
        return PolicyChoice(classical, classical_kinds, fallback, (warning,), None)
    fallback_list, warnings = list(none), []
    for row, agent in enumerate(agents):
        if learned[row] and agent.name not in weights.type_names:
            learned[row] = False
            fallback_list[row] = f"the policy weights {path} were not trained for {agent.name}"
            warnings.append(f"{fallback_list[row]}: it runs the classical controller")
    network, where = _network(weights, [agent.name for agent in agents], control.policy_device)
    warnings += where
    guard = GuardedPolicy(
        network,
        classical,
        learned,
        np.array([agent.joint.velocity for agent in agents]),
        1.0 / control.rate_hz,
        GuardSettings(control.guard_violations, control.guard_window_s),
        [agent.joint.unit for agent in agents],
    )
    final = tuple(PolicyKind.LEARNED if on else PolicyKind.CLASSICAL for on in learned)
    return PolicyChoice(guard, final, tuple(fallback_list), tuple(warnings), guard)
