"""Behaviour cloning of a privileged teacher in the multi-agent env, with noise injection.

The teacher (`LagCompensatingTeacher`) is the classical minimum-jerk command plus a velocity
feed-forward that cancels the servo's lag: a position servo of stiffness kp and damping kv
trails a profile moving at v by about (kv / kp) v (0.06 s x v with the sim's gains), which is
most of the classical controller's tracking error. The teacher reads the gains from the sim
(privileged); the student, a residual on the classical command, must infer the correction from
what it observes, and the RL stage (rl_finetune) then improves on what the teacher misses.
Demonstrations: the teacher rolled out over generated phrasings; in a share of the episodes the
executed command carries a slowly varying offset (DART-style noise injection), while the label
stays the teacher's command at the state actually reached, so the policy sees the states it
drifts into. Held-out episodes (other seeds) score the student against the classical
controller on the same goals. Units: rad or m, s.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ..core.control.learned_policy import (
    LearnedPolicy,
    PolicyWeights,
    export_weights,
    reference,
    residual_target,
    torch_model,
)
from ..core.control.manner import MannerModel
from ..core.control.policies import MinimumJerkPolicy, Observation
from ..core.robot.model import JointType, RobotModel
from ..core.sim.multi_agent_env import ArmTeamEnv
from .fan_out import fan_out

HELD_OUT_SEED_OFFSET = 1_000_000  # held-out episodes use seeds far from the training ones


@dataclass(frozen=True)
class TrainConfig:
    """Budget and hyper-parameters of one behaviour-cloning run."""

    episodes: int = 60
    held_out_episodes: int = 8
    epochs: int = 10
    batch_size: int = 512
    learning_rate: float = 3e-3
    hidden: tuple[int, ...] = (64, 64)
    output_scale: float = 0.02
    noise_share: float = 0.5  # share of demonstration episodes with injected noise
    noise_steps: float = 3.0  # noise offset scale, in ticks at the velocity limit (v_max * dt)
    max_motion_s: float = 4.0
    seed: int = 0
    threads: int = 2
    workers: int = 0  # processes that roll out episodes (0: in this process)
    ray_address: str | None = None  # 'auto' or a Ray cluster address: roll out on Ray instead
    # the manner words' embedding and tempo (manner_embedding.build_manner) the envs read goals
    # with and the weights carry; None: no text (motions keep their style's tempo)
    manner: MannerModel | None = None


def make_env(robot: RobotModel, config: TrainConfig) -> ArmTeamEnv:
    """The training env of `config`: its episode length, its manner model."""
    return ArmTeamEnv(robot, max_motion_s=config.max_motion_s, encoder=config.manner)


@dataclass
class Demonstrations:
    features: np.ndarray  # (rows, F + E) float32, the env's observations
    labels: np.ndarray  # (rows,) the residual y of the expert's command

    def __len__(self) -> int:
        return int(self.labels.shape[0])


@dataclass
class Report:
    """What a run measured: errors in rad (revolute joints) and mm (the gripper)."""

    demonstrations: int
    train_loss: float
    held_out: dict[str, dict[str, float]] = field(default_factory=dict)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class LagCompensatingTeacher:
    """The classical command plus (kv / kp) times the profile's velocity, within the limits and
    within the velocity limit of the last command (the lead would otherwise add the profile's
    acceleration times kv / kp to a fast move's peak speed); training only: it knows the sim's
    servo gains. Call `reset` at the start of each episode."""

    name = "lag_compensating_teacher"

    def __init__(self, env: ArmTeamEnv) -> None:
        s = env.sim.settings
        prismatic = np.array([a.joint.kind is JointType.PRISMATIC for a in env.robot.agents])
        self.lag_s = np.where(
            prismatic, s.prismatic_kv / s.prismatic_kp, s.revolute_kv / s.revolute_kp
        )
        self.max_step = env.max_step  # v_max * dt per joint
        self._last: np.ndarray | None = None

    def reset(self) -> None:
        self._last = None

    def act(self, observation: Observation) -> np.ndarray:
        base, velocity = reference(observation)
        command: np.ndarray = base + self.lag_s * velocity
        if self._last is not None:
            np.clip(command, self._last - self.max_step, self._last + self.max_step, out=command)
        if observation.lower.size:
            np.clip(command, observation.lower, observation.upper, out=command)
        self._last = command.copy()
        return command


def _labels(env: ArmTeamEnv, teacher: np.ndarray, scale: float) -> np.ndarray:
    obs = env.observation
    base, _ = reference(obs)
    return residual_target(teacher, base, obs.lower, obs.upper, scale)


@dataclass(frozen=True)
class Controller:
    """What drives every agent in an evaluation, picklable for a worker: the classical
    controller, the lag-compensating teacher, or the runtime policy of `weights`."""

    kind: str  # "classical" | "teacher" | "learned"
    weights: PolicyWeights | None = None

    def actor(self, env: ArmTeamEnv) -> tuple[Callable[[], np.ndarray], Callable[[], None]]:
        """(act, reset): the commands of `env`'s observation, and the per-episode reset."""
        if self.kind == "learned" and self.weights is not None:
            learned = LearnedPolicy(self.weights, env.possible_agents)
            return lambda: learned.act(env.observation), lambda: None
        if self.kind == "teacher":
            teacher = LagCompensatingTeacher(env)
            return lambda: teacher.act(env.observation), teacher.reset
        if self.kind == "classical":
            classical = MinimumJerkPolicy()
            return lambda: classical.act(env.observation), lambda: None
        raise ValueError(f"no controller {self.kind!r} (learned needs weights)")


@dataclass(frozen=True)
class Episodes:
    """One work item: the episodes of `seeds` in a fresh env of `robot`, either demonstrated
    by the teacher (`controller` None: noise and labels per `config`) or scored."""

    robot: RobotModel
    config: TrainConfig
    seeds: tuple[int, ...]
    controller: Controller | None = None


def _chunks(robot: RobotModel, config: TrainConfig, seeds: range, **more: Any) -> list[Episodes]:
    """`seeds` in about two items per worker (one item in this process): items amortise a
    worker's env build and keep both cores busy until the end."""
    count = max(1, min(len(seeds), 2 * (config.workers or (2 if config.ray_address else 0))))
    size = -(-len(seeds) // count)
    return [
        Episodes(robot, config, tuple(seeds[i : i + size]), **more)
        for i in range(0, len(seeds), size)
    ]


def _run(
    function: Callable[[Episodes], Any],
    items: list[Episodes],
    label: str,
    progress: Callable[[str], None] | None,
) -> list[Any]:
    config = items[0].config
    episodes = sum(len(item.seeds) for item in items)

    def report(done: int, total: int) -> None:
        if progress is not None:
            progress(f"{label}: {done}/{total} parts of {episodes} episodes")

    return fan_out(
        function,
        items,
        workers=config.workers,
        ray_address=config.ray_address,
        progress=report,
        label=f"{label} episodes",
    )


def _demonstrate(item: Episodes) -> Demonstrations:
    """The teacher's demonstrations over the episodes of `item`. Each episode's noise comes
    from its own seed, so the data do not depend on how episodes were split over workers."""
    config = item.config
    env = make_env(item.robot, config)
    expert_policy = LagCompensatingTeacher(env)
    features, labels = [], []
    names = env.possible_agents
    for seed in item.seeds:
        rng = np.random.default_rng([config.seed, seed])
        observations, _ = env.reset(seed=seed)
        expert_policy.reset()
        noisy = rng.random() < config.noise_share
        offset = np.zeros(len(names))
        while env.agents:
            expert = expert_policy.act(env.observation)
            features.append(np.stack([observations[n] for n in names]))
            labels.append(_labels(env, expert, config.output_scale))
            command = expert
            if noisy:  # a slowly varying offset: drifts the state off the profile
                offset = 0.95 * offset + rng.normal(0.0, 0.3, len(names)) * env.max_step
                command = expert + config.noise_steps * offset
            observations, *_ = env.step({n: command[i : i + 1] for i, n in enumerate(names)})
    return Demonstrations(np.concatenate(features), np.concatenate(labels).astype(np.float32))


def collect(
    robot: RobotModel, config: TrainConfig, progress: Callable[[str], None] | None = None
) -> Demonstrations:
    """Teacher rollouts over `config.episodes` seeded episodes (seed, seed + 1, ...), fanned
    out over `config.workers` processes or Ray (`config.ray_address`)."""
    seeds = range(config.seed, config.seed + config.episodes)
    parts = _run(_demonstrate, _chunks(robot, config, seeds), "demonstrations", progress)
    return Demonstrations(
        np.concatenate([part.features for part in parts]),
        np.concatenate([part.labels for part in parts]),
    )


def fit(
    data: Demonstrations,
    env: ArmTeamEnv,
    config: TrainConfig,
    progress: Callable[[str], None] | None = None,
) -> tuple[PolicyWeights, float]:
    """Train the parameter-shared FiLM MLP on `data`; returns its weights and the last
    epoch's mean loss."""
    import torch

    torch.manual_seed(config.seed)
    torch.set_num_threads(config.threads)
    model = torch_model(env.possible_agents, env.embedding_dim, config.hidden, config.output_scale)
    optimiser = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, max(1, config.epochs))
    width = data.features.shape[1] - env.embedding_dim
    features = torch.from_numpy(data.features[:, :width])
    embedding = torch.from_numpy(np.ascontiguousarray(data.features[:, width:]))
    labels = torch.from_numpy(data.labels)
    generator = torch.Generator().manual_seed(config.seed)
    loss_mean = float("nan")
    for epoch in range(config.epochs):
        order = torch.randperm(len(data), generator=generator)
        total, batches = 0.0, 0
        for start in range(0, len(data), config.batch_size):
            batch = order[start : start + config.batch_size]
            loss = torch.nn.functional.smooth_l1_loss(
                model(features[batch], embedding[batch]), labels[batch], beta=0.1
            )
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total, batches = total + float(loss.detach()), batches + 1
        schedule.step()
        loss_mean = total / max(batches, 1)
        if progress:
            progress(f"epoch {epoch + 1}/{config.epochs}: loss {loss_mean:.4f}")
    return dataclasses.replace(export_weights(model), manner=config.manner), loss_mean


def rollout_errors(
    env: ArmTeamEnv,
    act: Callable[[], np.ndarray],
    seeds: Sequence[int],
    reset: Callable[[], None] = lambda: None,
) -> tuple[np.ndarray, np.ndarray]:
    """Per tick |position - commanded profile| (ticks, N) and per episode final errors
    (episodes, N), rad or m, over the episodes of `seeds`, every agent driven by `act()`."""
    expert = MinimumJerkPolicy()
    tracking, final = [], []
    for seed in seeds:
        env.reset(seed=seed)
        reset()
        while env.agents:
            command = act()
            env.step({n: command[i : i + 1] for i, n in enumerate(env.possible_agents)})
            tracking.append(np.abs(env.sim.positions - expert.act(env.observation)))
        final.append(env.final_errors())
    width = len(env.possible_agents)
    return np.reshape(tracking, (-1, width)), np.reshape(final, (-1, width))


def _score(item: Episodes) -> tuple[np.ndarray, np.ndarray]:
    assert item.controller is not None
    env = make_env(item.robot, item.config)
    act, reset = item.controller.actor(env)
    return rollout_errors(env, act, item.seeds, reset)


def summarise(robot: RobotModel, tracking: np.ndarray, final: np.ndarray) -> dict[str, float]:
    """Mean tracking and final error (rad; mm for prismatic joints) and the share of episodes
    where every agent ends within 0.01 rad / 1 mm."""
    prismatic = np.array([a.joint.kind is JointType.PRISMATIC for a in robot.agents])
    unit = np.where(prismatic, 1000.0, 1.0)  # m -> mm
    success_at = np.where(prismatic, 0.001, 0.01)
    track, last = tracking * unit, final * unit
    return {
        "tracking_error_rad": float(track[:, ~prismatic].mean()),
        "tracking_error_mm": float(track[:, prismatic].mean()),
        "final_error_rad": float(last[:, ~prismatic].mean()),
        "final_error_mm": float(last[:, prismatic].mean()),
        "success": float(np.all(final < success_at, axis=1).mean()) if len(final) else 0.0,
    }


def evaluate(
    robot: RobotModel,
    controller: Controller,
    seeds: range,
    config: TrainConfig = TrainConfig(),
    progress: Callable[[str], None] | None = None,
) -> dict[str, float]:
    """`summarise` of `controller` over the episodes of `seeds`, fanned out as `collect` is."""
    items = _chunks(robot, config, seeds, controller=controller)
    parts = _run(_score, items, f"scoring {controller.kind}", progress)
    tracking = np.concatenate([part[0] for part in parts])
    final = np.concatenate([part[1] for part in parts])
    return summarise(robot, tracking, final)


def train_behaviour_cloning(
    robot: RobotModel,
    config: TrainConfig = TrainConfig(),
    progress: Callable[[str], None] | None = None,
) -> tuple[PolicyWeights, Report]:
    """Demonstrations, training, and the held-out comparison with the classical controller
    and the teacher."""
    began = time.monotonic()
    env = make_env(robot, config)
    data = collect(robot, config, progress)
    weights, loss = fit(data, env, config, progress)
    first = config.seed + HELD_OUT_SEED_OFFSET
    seeds = range(first, first + config.held_out_episodes)
    report = Report(demonstrations=len(data), train_loss=loss)
    for name, controller in (
        ("policy", Controller("learned", weights)),
        ("classical", Controller("classical")),
        ("teacher", Controller("teacher")),
    ):
        report.held_out[name] = evaluate(robot, controller, seeds, config)
    report.seconds = time.monotonic() - began
    return weights, report
