"""The arm as a multi-agent environment: a PettingZoo `ParallelEnv`, one agent per joint agent.

Each episode every agent gets a goal in the agent language, sampled from generated phrasings
(move to / move by with styles and durations, hold, open / close, wave); the agents' goals,
segments and goal slots are kept by the very `AgentGroup` the agents process runs, so the env
parses (`parse_subgoal`) and plans (`plan_motion`) exactly as the robot does, and the expert is
the classical `MinimumJerkPolicy` on the same observation.

- Observation (per agent, float32): `learned_policy.FEATURE_NAMES` (joint state, segment and
  phase, the goal's numeric slots and skill), one-hot agent type (the agents in
  `possible_agents` order), then the embedding of the goal's manner words (`embedding_dim`
  columns; zeros without an encoder). With an encoder, motions are timed by its tempo (as a
  learned agent's are), without one by their style. Positions are shares of the joint's half
  range, times in s.
- Action (per agent): the next position command, shape (1,), rad or m, within the URDF limits
  (out-of-range commands are clipped by the servo, as on the robot).
- One step is one control tick (1 / control rate, 10 ms by default) of MuJoCo physics.
- Reward (the same for every agent: a team reward), per tick, minus a weighted sum of: tracking
  error against the commanded minimum-jerk profile (in tolerances), command roughness (second
  difference in units of v_max * dt), lateness (share of agents past their planned end and not
  yet within tolerance: arriving together on the shared schedule), and at the last tick the
  final error (in tolerances). All terms are capped, so one bad agent cannot drown the others.
- Episodes end by truncation when every motion is over plus `settle_s`.
Units: rad or m, s.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from ..control.agent import AgentGroup
from ..control.learned_policy import feature_count, observation_features, type_rows
from ..control.motion import plan_motion
from ..control.policies import GoalEncoder, MinimumJerkPolicy, Observation
from ..errors import SubgoalError
from ..language.agent_language import Skill, parse_subgoal
from ..robot.model import Agent, AgentKind, JointType, RobotModel
from .arm import ArmSimulation
from .sim_settings import SimSettings

# Words of the generated phrasings (training). Held-out lists for evaluation are other tuples.
# Manner words of training, with the tempo each asks for (a style of robot.control's
# speed_fraction; 'default' for words that say nothing about speed): the labels the tempo head
# learns from, through the words' embedding. Most are adverbs the classical controller does not
# know; evaluation uses other words (eval_policy.HELD_OUT_PHRASINGS).
TRAIN_MANNER = {
    **dict.fromkeys(
        (
            "slowly",
            "slow",
            "gradually",
            "deliberately",
            "patiently",
            "hesitantly",
            "calmly",
            "peacefully",
            "tentatively",
            "reluctantly",
        ),
        "slowly",
    ),
    **dict.fromkeys(
        (
            "gently",
            "carefully",
            "smoothly",
            "cautiously",
            "delicately",
            "tenderly",
            "lightly",
            "gingerly",
            "warily",
            "gracefully",
            "quietly",
        ),
        "gently",
    ),
    **dict.fromkeys(
        (
            "quickly",
            "fast",
            "quick",
            "hastily",
            "hurriedly",
            "promptly",
            "immediately",
            "instantly",
            "urgently",
            "suddenly",
            "abruptly",
            "frantically",
            "vigorously",
            "eagerly",
            "impatiently",
            "sharply",
        ),
        "quickly",
    ),
    **dict.fromkeys(
        (
            "normally",
            "directly",
            "precisely",
            "exactly",
            "simply",
            "firmly",
            "properly",
            "correctly",
            "accurately",
            "automatically",
            "manually",
            "independently",
            "separately",
        ),
        "default",
    ),
}
TRAIN_STYLES = tuple(TRAIN_MANNER)
TRAIN_MOVE_VERBS = ("move", "go", "rotate", "turn", "bring it", "set the joint", "")
TRAIN_HOLD_PHRASES = ("hold", "stay still", "keep still", "hold position", "stay in place")
TRAIN_WAVE_VERBS = ("wave", "waggle", "wiggle")


@dataclass(frozen=True)
class Phrasings:
    """Word lists the goal phrasings are generated from; each must parse as agent language."""

    styles: tuple[str, ...] = TRAIN_STYLES
    move_verbs: tuple[str, ...] = TRAIN_MOVE_VERBS
    hold_phrases: tuple[str, ...] = TRAIN_HOLD_PHRASES
    wave_verbs: tuple[str, ...] = TRAIN_WAVE_VERBS
    open_words: tuple[str, ...] = ("open", "release")
    close_words: tuple[str, ...] = ("close", "grip")
    style_probability: float = 0.5
    duration_probability: float = 0.25


def _quantity(value: float, agent: Agent, rng: np.random.Generator) -> str:
    """`value` (rad or m) in a unit people write, rounded as they would."""
    if agent.joint.kind is JointType.PRISMATIC:
        if rng.random() < 0.5:
            return f"{value * 1000.0:.0f} mm"
        return f"{value * 100.0:.1f} cm"
    if rng.random() < 0.2:
        return f"{value:.2f} rad"
    unit = ("degrees", "deg", "°")[int(rng.integers(3))]
    return f"{math.degrees(value):.0f} {unit}"


def _pick(rng: np.random.Generator, words: Sequence[str]) -> str:
    return words[int(rng.integers(len(words)))]


def sample_goal(
    agent: Agent,
    start: float,
    rng: np.random.Generator,
    phrasings: Phrasings = Phrasings(),
    duration_s: float | None = None,
) -> str:
    """One goal phrasing for `agent` at `start` (rad or m); `duration_s` forces 'in T s' on
    a motion (a shared step). The caller checks that it parses and plans."""
    joint = agent.joint
    span = joint.upper - joint.lower if math.isfinite(joint.upper - joint.lower) else 2 * math.pi
    low = joint.lower if math.isfinite(joint.lower) else -math.pi
    gripper = agent.kind is AgentKind.GRIPPER
    kinds = ["to", "to", "by", "hold", "wave"] + (["open", "close"] if gripper else [])
    kind = _pick(rng, kinds)
    if kind == "hold":
        return _pick(rng, phrasings.hold_phrases)
    if kind in ("open", "close"):
        text = _pick(rng, phrasings.open_words if kind == "open" else phrasings.close_words)
    elif kind == "to":
        target = low + span * rng.uniform(0.1, 0.9)
        verb = "open" if gripper and rng.random() < 0.3 else _pick(rng, phrasings.move_verbs)
        text = f"{verb} to {_quantity(target, agent, rng)}".strip()
    elif kind == "by":
        offset = span * rng.uniform(0.05, 0.3) * (1 if rng.random() < 0.5 else -1)
        text = f"{_pick(rng, phrasings.move_verbs)} by {_quantity(offset, agent, rng)}".strip()
    else:
        amplitude = f" by {_quantity(span * rng.uniform(0.02, 0.06), agent, rng)}"
        count = int(rng.integers(1, 4))
        text = f"{_pick(rng, phrasings.wave_verbs)}{amplitude if rng.random() < 0.6 else ''}"
        text += f" {count} times"
    if duration_s is None and rng.random() < phrasings.duration_probability:
        duration_s = float(rng.uniform(0.8, 3.0))
    if duration_s is not None:
        text += f" in {duration_s:.1f} s"
    if rng.random() < phrasings.style_probability:
        style = _pick(rng, phrasings.styles)
        text = f"{style} {text}" if rng.random() < 0.5 else f"{text}, {style}"
    return text


@dataclass(frozen=True)
class RewardWeights:
    """Weights of the team reward's terms (each term is dimensionless and capped)."""

    tracking: float = 1.0
    smoothness: float = 0.1
    lateness: float = 0.5
    final: float = 10.0
    cap: float = 10.0


class _ZeroEncoder:
    """No text encoder: the embedding columns stay zero, motions keep their style's tempo."""

    def __init__(self, dim: int) -> None:
        self.dim = dim

    def encode(self, manner: str) -> np.ndarray:
        return np.zeros(self.dim, dtype=np.float32)

    def speed_fraction(self, embedding: np.ndarray) -> float | None:
        return None


class _Relay:
    """The group's policy inside the env: the agents' own actions, set before each step."""

    name = "env_actions"

    def __init__(self, count: int) -> None:
        self.commands = np.zeros(count)

    def act(self, observation: Observation) -> np.ndarray:
        return self.commands


class ArmTeamEnv(ParallelEnv):  # type: ignore[misc]
    """The arm's joint agents as a PettingZoo ParallelEnv (see the module docstring)."""

    metadata: ClassVar[dict[str, Any]] = {"name": "llm_mas_ros_arm_team_v0", "render_modes": []}

    def __init__(
        self,
        robot: RobotModel,
        settings: SimSettings | None = None,
        *,
        encoder: GoalEncoder | None = None,
        embedding_dim: int = 0,
        phrasings: Phrasings = Phrasings(),
        shared_step_probability: float = 0.3,
        settle_s: float = 1.0,
        max_motion_s: float = 6.0,
        reward_weights: RewardWeights = RewardWeights(),
    ) -> None:
        """`encoder` embeds each goal once (its dim wins over `embedding_dim`); a shared step
        gives every moving agent the same 'in T s'; goals whose motion lasts over
        `max_motion_s` are resampled."""
        self.robot = robot
        self.sim = ArmSimulation(robot, settings)
        self.encoder: GoalEncoder = encoder or _ZeroEncoder(embedding_dim)
        self.embedding_dim = self.encoder.dim
        self.phrasings = phrasings
        self.shared_step_probability = shared_step_probability
        self.settle_s = settle_s
        self.max_motion_s = max_motion_s
        self.weights = reward_weights
        self.possible_agents: list[str] = list(robot.agent_names)
        self.agents: list[str] = []
        self._agents = robot.agents
        self.dt = 1.0 / robot.control.rate_hz
        self.physics_steps = max(1, round(self.dt / self.sim.timestep))
        self.types = type_rows(self.possible_agents, self.possible_agents)
        self.lower = np.array([a.joint.lower for a in self._agents])
        self.upper = np.array([a.joint.upper for a in self._agents])
        self.tolerance = np.array([robot.control.tolerance(a.joint) for a in self._agents])
        velocity = np.array([a.joint.velocity for a in self._agents])
        self.max_step = np.where(np.isfinite(velocity), velocity, 1.0) * self.dt
        size = feature_count(len(self.possible_agents)) + self.embedding_dim
        self._observation_spaces = {
            name: spaces.Box(-np.inf, np.inf, shape=(size,), dtype=np.float32)
            for name in self.possible_agents
        }
        self._action_spaces = {
            agent.name: spaces.Box(
                np.float32(agent.joint.lower), np.float32(agent.joint.upper), (1,), np.float32
            )
            for agent in self._agents
        }
        self._expert = MinimumJerkPolicy()
        self._rng = np.random.default_rng()
        self.goals: dict[str, str] = {}
        count = len(self.possible_agents)
        self.ticks, self.horizon = 0, 1
        self._relay = _Relay(count)
        self._commands = np.zeros(count)
        self._previous = np.zeros(count)
        self._features = np.zeros((count, size), np.float32)

    # -- PettingZoo API ---------------------------------------------------------------------
    def observation_space(self, agent: str) -> spaces.Box:
        return self._observation_spaces[agent]

    def action_space(self, agent: str) -> spaces.Box:
        return self._action_spaces[agent]

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, dict[str, Any]]]:
        """A new episode: random start pose and goals (from `seed` when given). `options` may
        give `goals` {agent: text} and `positions` {agent: rad or m} instead."""
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        options = options or {}
        self._reset_state()
        starts = {a.name: self._sample_start(a) for a in self._agents}
        starts.update(options.get("positions", {}))
        self.sim.reset({a.joint.name: starts[a.name] for a in self._agents})
        self.goals = dict(options.get("goals") or self._sample_goals(self.sim.positions))
        self.group = AgentGroup(self._agents, self.robot, self._relay, self.encoder)
        self._observe(0.0)
        for core in self.group.cores:  # a refused goal holds, as on the robot: infos say why
            core.receive_goal(self.goals[core.agent.name], 0.0)
        self.end_s = np.array([core.motion.duration_s for core in self.group.cores])
        self.targets = np.array([core.motion.target for core in self.group.cores])
        self.horizon = math.ceil((float(self.end_s.max()) + self.settle_s) / self.dt - 1e-9)
        self.agents = list(self.possible_agents)
        self._fill()
        self._commands[:] = self.sim.positions
        self._previous[:] = self._commands
        return self._observations(), self._infos()

    def step(
        self, actions: dict[str, np.ndarray]
    ) -> tuple[
        dict[str, np.ndarray],
        dict[str, float],
        dict[str, bool],
        dict[str, bool],
        dict[str, dict[str, Any]],
    ]:
        """Apply every agent's command (rad or m; a missing one holds the last command) for one
        control tick; the team reward of the tick goes to every agent."""
        commands = self._relay.commands
        commands[:] = self._commands
        for row, name in enumerate(self.possible_agents):
            if name in actions:
                commands[row] = float(np.asarray(actions[name]).reshape(-1)[0])
        np.clip(commands, self.lower, self.upper, out=commands)
        self.group.step(self.now)
        for row, command in enumerate(commands):
            self.sim.set_command(row, float(command))
        self.sim.step(self.physics_steps)
        self.ticks += 1
        self._observe(self.now)
        self._fill()
        reward = self._reward(commands)
        self._previous[:] = self._commands
        self._commands[:] = commands
        done = self.ticks >= self.horizon
        names = list(self.agents)
        if done:
            self.agents = []
        return (
            {name: obs for name, obs in self._observations().items() if name in names},
            dict.fromkeys(names, reward),
            dict.fromkeys(names, False),
            dict.fromkeys(names, done),
            {name: info for name, info in self._infos().items() if name in names},
        )

    def render(self) -> None:
        return None

    def close(self) -> None:
        return None

    # -- for trainers and tests -------------------------------------------------------------
    @property
    def now(self) -> float:
        return self.ticks * self.dt

    @property
    def observation(self) -> Observation:
        """The batched observation of all agents (the one a runtime policy reads)."""
        return self.group.observation

    def expert_actions(self) -> dict[str, np.ndarray]:
        """What the classical controller commands now (rad or m), per agent."""
        expert = self._expert.act(self.group.observation)
        return {n: np.array([expert[i]], np.float32) for i, n in enumerate(self.possible_agents)}

    def final_errors(self) -> np.ndarray:
        """|position - motion target| of every agent now (rad or m)."""
        error: np.ndarray = np.abs(self.sim.positions - self.targets)
        return error

    # -- internals --------------------------------------------------------------------------
    def _reset_state(self) -> None:
        self.ticks, self.horizon = 0, 1
        for array in (self._relay.commands, self._commands, self._previous, self._features):
            array.fill(0.0)

    def _sample_start(self, agent: Agent) -> float:
        joint = agent.joint
        if not (math.isfinite(joint.lower) and math.isfinite(joint.upper)):
            return float(self._rng.uniform(-math.pi, math.pi))
        margin = 0.0 if agent.kind is AgentKind.GRIPPER else 0.15
        span = joint.upper - joint.lower
        return float(joint.lower + span * self._rng.uniform(margin, 1.0 - margin))

    def _sample_goals(self, positions: np.ndarray) -> dict[str, str]:
        shared = None
        if self._rng.random() < self.shared_step_probability:
            shared = float(self._rng.uniform(1.0, 3.0))
        return {
            agent.name: self._valid_goal(agent, float(positions[row]), shared)
            for row, agent in enumerate(self._agents)
        }

    def _valid_goal(self, agent: Agent, start: float, shared: float | None) -> str:
        """A phrasing that parses and plans from `start` within `max_motion_s`."""
        for _ in range(100):
            text = sample_goal(agent, start, self._rng, self.phrasings, shared)
            try:
                goal = parse_subgoal(text, agent, self.robot.poses)
                motion = plan_motion(goal, agent, start, self.robot)
            except SubgoalError:
                continue
            if goal.skill is Skill.HOLD or motion.duration_s <= self.max_motion_s:
                return text
        return self.phrasings.hold_phrases[0]

    def _observe(self, now: float) -> None:
        positions, velocities = self.sim.positions, self.sim.velocities
        for row, core in enumerate(self.group.cores):
            core.observe(float(positions[row]), float(velocities[row]), now)

    def _fill(self) -> None:
        for row, core in enumerate(self.group.cores):
            core.fill(row, self.group.observation, self.now)
        count = len(self.possible_agents)
        self._features[:, : feature_count(count)] = observation_features(
            self.group.observation, self.types, count
        )
        self._features[:, feature_count(count) :] = self.group.observation.goal_embedding

    def _observations(self) -> dict[str, np.ndarray]:
        return {name: self._features[row].copy() for row, name in enumerate(self.possible_agents)}

    def _infos(self) -> dict[str, dict[str, Any]]:
        return {
            core.agent.name: {"goal": core.goal, "state": core.state.value, "error": core.error}
            for core in self.group.cores
        }

    def _reward(self, commands: np.ndarray) -> float:
        """The team reward of the tick that just ran (see the module docstring): positions
        now against the commanded profile now, so a policy that leads the servo's lag wins."""
        w, cap = self.weights, self.weights.cap
        positions = self.sim.positions
        reference = self._expert.act(self.group.observation)
        tracking = np.minimum(np.abs(positions - reference) / self.tolerance, cap)
        roughness = (commands - 2.0 * self._commands + self._previous) / self.max_step
        smooth = np.minimum(roughness * roughness, cap)
        error = np.abs(positions - self.targets)
        late = (self.now > self.end_s) & (error > self.tolerance) & (self.end_s > 0)
        reward = -(
            w.tracking * tracking.mean() + w.smoothness * smooth.mean() + w.lateness * late.mean()
        )
        if self.ticks >= self.horizon:
            reward -= w.final * np.minimum(error / self.tolerance, cap).mean()
        return float(reward)
