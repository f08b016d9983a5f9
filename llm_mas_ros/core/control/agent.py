"""Agents without ROS: goal handling, state machine and one batched control step for a group.

A ROS shell feeds an `AgentGroup` with joint states, goals and e-stops (callbacks only store),
calls `step(now)` once per control tick and publishes the commands and statuses it returns.
Time `now` is in seconds on the caller's monotonic clock (CLOCK_MONOTONIC is host-wide on
Linux, so stamps from several processes on one machine compare directly).

Joint-state freshness, per agent (`watch`): no state for `state_timeout_periods` control
periods -> *stalled*: it sends no command (a position controller keeps the last one: the joint
holds), its motion clock stops, its status is WARN; a state within `state_timeout_s` resumes
the motion where its clock stopped, without a jump. No state for `state_timeout_s` -> *lost*:
it fails its goal (ERROR) and still sends nothing; the first state after that re-holds at the
measured position (a restarted simulator starts elsewhere: nothing drives it back).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum, StrEnum

import numpy as np

from ..errors import SubgoalError
from ..language.agent_language import parse_subgoal
from ..robot.model import Agent, PolicyKind, RobotModel
from .latency import LatencyReport
from .motion import Motion, plan_motion
from .policies import GoalEncoder, MinimumJerkPolicy, Observation, Policy
from .policy_guard import GuardedPolicy, build_policy


class AgentState(StrEnum):
    WAITING = "waiting"  # no joint state seen yet
    IDLE = "idle"  # holding, no goal yet
    MOVING = "moving"
    DONE = "done"  # last goal reached; holding there
    HOLDING = "holding"  # asked to hold, or stopped after an error
    ERROR = "error"  # last goal rejected or failed; holding, `error` says why
    ESTOP = "estop"  # emergency stop active: frozen, goals refused


class Level(int, Enum):
    """diagnostic_msgs/DiagnosticStatus levels."""

    OK = 0
    WARN = 1
    ERROR = 2
    STALE = 3


@dataclass(frozen=True)
class AgentStatus:
    """What an agent reports on /diagnostics. `goal_count` counts goals received, so a planner can
    tell the status of its own goal from an older one; times are on the monotonic clock (s)."""

    name: str
    state: AgentState
    level: Level
    message: str
    goal: str
    goal_count: int
    goal_digest: str  # identifies the goal text whole (`goal` is clipped): see goal_digest()
    target: float | None
    position: float
    progress: float
    error: str
    goal_received_at: float | None
    first_command_at: float | None
    # the controller it runs: "learned", "classical", or "classical (fallback: why)" for an
    # agent configured learned that runs the classical one (then the level is at least WARN)
    policy: str = PolicyKind.CLASSICAL.value
    # its process's hop latencies (shared by the agents it hosts), where measured
    latency: LatencyReport | None = None
    # its process's real-time settings: 'setting value: applied' or '...: not applied: why'
    realtime: tuple[str, ...] = ()
    # ready to act: a joint state heard and its command topic matched by a subscriber (the
    # controller); `readiness` says what it waits for ("ready" when it is)
    ready: bool = False
    readiness: str = ""
    # entries of /joint_states for its joint dropped as broken (NaN, no position), and why the
    # latest was
    states_dropped: int = 0
    drop_reason: str = ""


def goal_digest(text: str) -> str:
    """A short id of a goal text: a planner tells its own goal from another by it, whatever
    the length of the text (statuses clip long goals)."""
    return hashlib.blake2s(text.encode(), digest_size=8).hexdigest()


class AgentCore:
    """One agent's goal, motion and state. Positions in rad or m, times in s.

    The agent owns row `row` of `observation` (its group's, or a one-row one of its own): it
    writes the goal slots there when it accepts a goal, with `encoder`'s embedding of the goal's
    manner words when one is given, and clears them when it holds for another reason. While
    `reads_manner` (a learned policy drives it) the embedding's tempo also times the motion."""

    def __init__(
        self,
        agent: Agent,
        robot: RobotModel,
        observation: Observation | None = None,
        row: int = 0,
        encoder: GoalEncoder | None = None,
    ) -> None:
        self.agent = agent
        self.robot = robot
        dim = encoder.dim if encoder else 0
        self.observation = Observation.zeros(1, dim) if observation is None else observation
        self.row = row
        self.encoder = encoder
        self.tolerance = robot.control.tolerance(agent.joint)
        self.state = AgentState.WAITING
        self.position = math.nan
        self.velocity = 0.0
        self.last_state_at = -math.inf
        self.command = math.nan
        self.motion = Motion(math.nan)
        self.segment = 0
        self.segment_started_at = 0.0
        self.goal = ""
        self.goal_count = 0
        self.goal_digest = ""
        self.error = ""
        self.goal_received_at: float | None = None
        self.first_command_at: float | None = None
        self.estop = False
        self.pending: object = None  # a goal heard before the first state: started on it
        self.stalled = False  # no state for stall_s: no command, motion clock stopped
        self.lost = False  # no state for state_timeout_s: goal failed, re-hold on the next
        self.paused_at = 0.0  # when the motion clock stopped (s), while stalled
        periods = robot.control.state_timeout_periods
        self.stall_s = (
            periods / robot.control.rate_hz if periods > 0 else robot.control.state_timeout_s
        )
        self.policy = PolicyKind.CLASSICAL.value  # what its group runs for it (name of a kind)
        self.fallback = ""  # why it runs the classical controller though configured learned
        self.reads_manner = False  # its motion is timed by the encoder's tempo, not the style

    # -- inputs -------------------------------------------------------------------------------
    def observe(self, position: float, velocity: float, now: float) -> None:
        first = not self.has_state
        self.position, self.velocity, self.last_state_at = position, velocity, now
        if first:  # start by holding where the joint is (keeping an earlier refusal visible)
            state = AgentState.IDLE if self.state is AgentState.WAITING else self.state
            self._hold(position, state, now)
            if self.pending is not None:  # heard before this state: start it from here
                goal, self.pending = self.pending, None
                self._begin(goal, now)
        elif self.lost:  # the joint may be anywhere now (a restarted sim): hold where it is
            self.stalled = self.lost = False
            self.command = math.nan
            self._hold(position, self.state, now)
        elif self.stalled:  # the motion goes on from where its clock stopped: no jump
            self.stalled = False
            self.segment_started_at += now - self.paused_at

    @property
    def has_state(self) -> bool:
        return not math.isnan(self.position)

    def receive_goal(self, text: object, now: float) -> None:
        """Accept a goal or refuse it with a reason; a refused goal leaves the joint holding.
        A goal heard before the first joint state (a restarted agent's standing goal, heard
        at discovery) waits for it: `observe` starts it from the joint's measured position."""
        self.goal_count += 1
        self.goal = text if isinstance(text, str) else repr(text)
        self.goal_digest = goal_digest(self.goal)
        self.goal_received_at, self.first_command_at = now, None
        if not self.has_state and not self.estop:
            self.pending, self.error, self.state = text, "", AgentState.WAITING
            return
        self._begin(text, now)

    def _begin(self, text: object, now: float) -> None:
        try:
            self._start(text, now)
        except SubgoalError as error:
            self._refuse(str(error), now)

    def set_estop(self, active: bool, now: float) -> None:
        if active and not self.estop:
            self.estop = True
            # Stop where the joint IS, not where the trajectory was leading it: the servo
            # brakes now instead of finishing the tracking lag (a category 2 stop).
            here = self.position if self.has_state else self._here()
            self._hold(here, AgentState.ESTOP, now)
        elif not active and self.estop:
            self.estop = False
            self._hold(self._here(), AgentState.HOLDING, now)

    # -- control --------------------------------------------------------------------------------
    def is_stale(self, now: float) -> bool:
        return now - self.last_state_at > self.robot.control.state_timeout_s

    @property
    def acting(self) -> bool:
        """Whether this agent sends a command this tick: it has a fresh joint state."""
        return self.has_state and not self.stalled

    def watch(self, now: float) -> bool:
        """Judge the joint state's age (see the module doc): stalled past stall_s, lost past
        state_timeout_s. True when either began now (the status changes)."""
        if not self.has_state or self.lost:
            return False
        if self.is_stale(now):
            self.lose_state(now)
            self.stalled = self.lost = True
            return True
        if not self.stalled and now - self.last_state_at > self.stall_s:
            self.stalled, self.paused_at = True, self.last_state_at
            return True
        return False

    def fill(self, row: int, observation: Observation, now: float) -> None:
        """Write this agent's row of the batched observation."""
        segments = self.motion.segments
        if self.segment < len(segments):
            start = self.motion.start if self.segment == 0 else segments[self.segment - 1].target
            target, duration = segments[self.segment].target, segments[self.segment].duration_s
        else:
            start = target = self.motion.target
            duration = 0.0
        observation.position[row] = self.position
        observation.velocity[row] = self.velocity
        observation.segment_start[row] = start
        observation.segment_target[row] = target
        observation.elapsed_s[row] = now - self.segment_started_at
        observation.duration_s[row] = duration

    def after_command(self, command: float, now: float) -> None:
        """Record the command sent this tick and advance segments / detect completion."""
        self.command = command
        if self.first_command_at is None and self.state is AgentState.MOVING:
            self.first_command_at = now
        segments = self.motion.segments
        while (
            self.segment < len(segments)
            and now - self.segment_started_at >= segments[self.segment].duration_s
        ):
            self.segment_started_at += segments[self.segment].duration_s
            self.segment += 1
        if self.state is AgentState.MOVING and self.segment >= len(segments):
            self._check_arrival(now)

    def lose_state(self, now: float) -> None:
        """No joint state for too long: fail the goal, hold where we last commanded (the
        controller's last command: nothing more is sent) and say so."""
        if self.state in (AgentState.MOVING, AgentState.IDLE, AgentState.DONE, AgentState.HOLDING):
            age = now - self.last_state_at
            reason = "no joint state" if math.isinf(age) else f"no joint state for {age:.2f} s"
            self.error = f"{reason}: holding"
            self._hold(self._here(), AgentState.ERROR, now)

    # -- report ---------------------------------------------------------------------------------
    def status(
        self, now: float, latency: LatencyReport | None = None, realtime: tuple[str, ...] = ()
    ) -> AgentStatus:
        """What to report now; `latency` and `realtime` are its process's (see AgentStatus)."""
        level = {
            AgentState.WAITING: Level.WARN,
            AgentState.ERROR: Level.ERROR,
            AgentState.ESTOP: Level.WARN,
        }.get(self.state, Level.OK)
        if self.state is not AgentState.WAITING and self.is_stale(now):
            level = Level.STALE if self.state is AgentState.ERROR else Level.WARN
        if (self.fallback or self.stalled) and level is Level.OK:
            level = Level.WARN
        message = (
            self.state.value
            if not self.error or self.state is not AgentState.ERROR
            else f"error: {self.error}"
        )
        if self.stalled and not self.lost:
            message = f"stalled: no joint state for {(now - self.last_state_at) * 1e3:.0f} ms"
        return AgentStatus(
            name=self.agent.name,
            state=self.state,
            level=level,
            message=message,
            goal=self.goal,
            goal_count=self.goal_count,
            goal_digest=self.goal_digest,
            target=None if math.isnan(self.motion.target) else self.motion.target,
            position=self.position,
            progress=self._progress(now),
            error=self.error,
            goal_received_at=self.goal_received_at,
            first_command_at=self.first_command_at,
            policy=self.policy_label,
            latency=latency,
            realtime=realtime,
        )

    @property
    def policy_label(self) -> str:
        return f"{self.policy} (fallback: {self.fallback})" if self.fallback else self.policy

    # -- internals ------------------------------------------------------------------------------
    def _here(self) -> float:
        """Where to hold: the last command if one was sent (no jump), else the measured one."""
        return self.command if math.isfinite(self.command) else self.position

    def _hold(self, position: float, state: AgentState, now: float) -> None:
        """Hold without a goal (first state, refusal, e-stop, lost state): no goal slots."""
        self.motion = Motion(position)
        self._restart_clock(now)
        self.state = state
        self.observation.clear_goal(self.row)

    def _restart_clock(self, now: float) -> None:
        """A new motion's clock starts now; stalled, it stays stopped until states return."""
        self.segment, self.segment_started_at = 0, now
        if self.stalled:
            self.paused_at = now

    def _start(self, text: object, now: float) -> None:
        if self.estop:
            raise SubgoalError("emergency stop is active: goal refused")
        if self.is_stale(now):
            raise SubgoalError("joint state is stale: cannot move")
        goal = parse_subgoal(text, self.agent, self.robot.poses)
        # Once per goal, here rather than in fill(): the first tick of the goal reads it.
        embedding, speed = None, None
        if self.encoder:
            embedding = self.encoder.encode(goal.manner)
            speed = self.encoder.speed_fraction(embedding) if self.reads_manner else None
        motion = plan_motion(goal, self.agent, self._here(), self.robot, speed_fraction=speed)
        self.observation.set_goal(self.row, goal, motion.target, embedding)
        self.error = "; ".join(motion.notes)
        self.motion = motion
        self._restart_clock(now)
        self.state = AgentState.MOVING if motion.segments else AgentState.HOLDING

    def _refuse(self, reason: str, now: float) -> None:
        self.error = reason
        state = AgentState.ESTOP if self.estop else AgentState.ERROR
        if not self.has_state:
            self.state = state  # nothing to hold yet; observe() starts holding
            return
        self._hold(self._here(), state, now)

    def _check_arrival(self, now: float) -> None:
        error = abs(self.position - self.motion.target)
        if error <= self.tolerance:
            self.state = AgentState.DONE
        elif now - self.segment_started_at > self.robot.control.settle_timeout_s:
            unit = self.agent.joint.unit
            self.error = (
                f"did not reach target: still {error:.4f} {unit} away "
                f"{self.robot.control.settle_timeout_s:g} s after the motion ended"
            )
            self.state = AgentState.ERROR

    def _progress(self, now: float) -> float:
        if self.state is AgentState.DONE:
            return 1.0
        total = self.motion.duration_s
        if self.state is not AgentState.MOVING or total <= 0:
            return 0.0
        done = sum(s.duration_s for s in self.motion.segments[: self.segment])
        return float(min(1.0, (done + now - self.segment_started_at) / total))


def _manner_of(policy: Policy) -> GoalEncoder | None:
    """The manner model of a learned policy's weights (inside a guard or not), else None."""
    learned = policy.learned_policy if isinstance(policy, GuardedPolicy) else policy
    weights = getattr(learned, "weights", None)
    manner: GoalEncoder | None = getattr(weights, "manner", None)
    return manner


class AgentGroup:
    """All agents of one process: one observation, ONE policy call per tick."""

    def __init__(
        self,
        agents: Sequence[Agent],
        robot: RobotModel,
        policy: Policy | None = None,
        encoder: GoalEncoder | None = None,
    ):
        """`policy` None: each agent's as `robot.control` configures it (`build_policy`:
        learned rows and classical rows in one guarded step; `warnings` say what could not be
        had). `encoder` embeds each accepted goal's manner words into the observation's
        `goal_embedding`, once per goal; by default the learned policy's own (`PolicyWeights.
        manner`), none for the classical controller, which reads no text. Agents not on the
        classical controller take their tempo from the encoder (`AgentCore.reads_manner`)."""
        self.warnings: tuple[str, ...] = ()
        self.guard: GuardedPolicy | None = None
        classical = PolicyKind.CLASSICAL.value
        kinds, fallbacks = [classical] * len(agents), [""] * len(agents)
        if policy is None:
            choice = build_policy(agents, robot)
            policy, self.guard, self.warnings = choice.policy, choice.guard, choice.warnings
            kinds = [kind.value for kind in choice.kinds]
            fallbacks = list(choice.fallback)
        elif isinstance(policy, GuardedPolicy):
            self.guard = policy
            kinds = [
                (PolicyKind.LEARNED if on else PolicyKind.CLASSICAL).value for on in policy.learned
            ]
        elif not isinstance(policy, MinimumJerkPolicy):
            kinds = [policy.name] * len(agents)
        encoder = encoder or _manner_of(policy)
        self.observation = Observation.zeros(len(agents), encoder.dim if encoder else 0)
        self.cores = [
            AgentCore(agent, robot, self.observation, row, encoder)
            for row, agent in enumerate(agents)
        ]
        for core, kind, why in zip(self.cores, kinds, fallbacks, strict=True):
            core.policy, core.fallback = kind, why
            core.reads_manner = encoder is not None and kind != classical
        self.policy: Policy = policy
        self.fallbacks = 0  # agents the guard moved to the classical controller so far
        self.observation.lower[:] = [a.joint.lower for a in agents]
        self.observation.upper[:] = [a.joint.upper for a in agents]
        self.period_s = 1.0 / robot.control.rate_hz
        self.next_tick_at = -math.inf  # on a grid of period_s: see `due`

    def core(self, name: str) -> AgentCore:
        for core in self.cores:
            if core.agent.name == name:
                return core
        raise KeyError(name)

    def due(self, now: float) -> bool:
        """True when a control tick is due. Ticks lie on a fixed grid of period_s, so a state
        stream faster than the control rate (250 Hz states, 100 Hz control) yields the control
        rate on average; spacing ticks a period after the *state* that triggered the last one
        would round every interval up to a whole number of state periods (12 ms: 83 Hz)."""
        return now >= self.next_tick_at

    def _schedule(self, now: float) -> None:
        """Advance the grid by one period; restart it at `now` when it has fallen a period or
        more behind (states slower than the control rate, a pause), so no burst of catch-up
        ticks follows."""
        self.next_tick_at += self.period_s
        if self.next_tick_at <= now:
            self.next_tick_at = now + self.period_s

    def step(self, now: float) -> np.ndarray | None:
        """Commands (one per agent, rad or m; NaN for an agent without a fresh joint state:
        send it nothing) for this tick, or None when no agent has a state yet. A step that was
        not `due` (an e-stop acts at once) leaves the tick grid as it is."""
        if not any(core.has_state for core in self.cores):
            return None
        self.watch(now)
        guard = self.guard
        for row, core in enumerate(self.cores):
            core.fill(row, self.observation, now)
            if guard is not None:
                guard.skip[row] = core.estop or not core.acting
        commands = self.policy.act(self.observation)
        if guard is not None and guard.fallbacks != self.fallbacks:
            self._fall_back(guard)
        for row, core in enumerate(self.cores):
            if core.acting:
                core.after_command(float(commands[row]), now)
            else:  # no fresh state: nothing is sent (NaN), the controller holds
                commands[row] = math.nan
        if self.due(now):
            self._schedule(now)
        return commands

    def watch(self, now: float) -> bool:
        """Judge every agent's joint-state age (AgentCore.watch); True when a status changed."""
        return sum(core.watch(now) for core in self.cores) > 0

    def _fall_back(self, guard: GuardedPolicy) -> None:
        self.fallbacks = guard.fallbacks
        for row, core in enumerate(self.cores):
            if guard.fallback[row] and not core.fallback:
                core.policy, core.fallback = PolicyKind.CLASSICAL.value, guard.fallback[row]
                core.reads_manner = False

    def fallen_back(self) -> list[str]:
        """'agent: why' of every agent that runs the classical controller as a fallback."""
        return [f"{core.agent.name}: {core.fallback}" for core in self.cores if core.fallback]

    def statuses(
        self, now: float, latency: LatencyReport | None = None, realtime: tuple[str, ...] = ()
    ) -> list[AgentStatus]:
        return [core.status(now, latency, realtime) for core in self.cores]
