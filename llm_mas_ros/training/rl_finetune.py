"""Reinforcement-learning fine-tuning of the behaviour-cloned policy: parameter-shared PPO
(Stable-Baselines3) in the multi-agent env, on the env's team reward.

Why RL after BC: the BC teacher only cancels the servo's first-order lag; the team reward
scores what it cannot see: tracking the commanded minimum-jerk profile under the real dynamics
(gravity, coupling between joints, the lag's transients), arriving together on a shared
schedule (lateness), smoothness, and the final error.

- Parameter sharing: `AgentVecEnv` presents ONE `ArmTeamEnv` as an SB3 `VecEnv` with one
  sub-env per agent, so every agent's ticks train the same network. Its action is the network's
  output y (the residual of `command_from_output`, y = 0 is the classical controller), so the
  network PPO trains is exactly the runtime's `LearnedPolicy` network.
- Policy: `FilmActorCriticPolicy`, whose action mean IS the `torch_model` FiLM MLP, initialised
  from the BC weights (PPO starts at the BC policy), with a state-independent log std (small:
  exploration around BC, not from scratch) and a separate value MLP. The value MLP also reads a
  team block (the time left in the episode and every agent's tick features): the reward is the
  team's, so one agent's own row cannot predict it (a centralised critic, as in MAPPO); the
  actor reads only the agent's own row, as at run time.
- Rows where y has no effect (the agent holds, or its segment is over: `moving` is false) get
  their log-probabilities masked to 0, so their ratio is 1 and they add no gradient noise.
- The critic learns `critic_lr_scale` times faster than the actor: it starts from scratch while
  the actor is already good, and a fine-tuning actor must move slowly.

`finetune` trains, then scores the BC weights and the fine-tuned ones on the SAME held-out
episodes (`behaviour_cloning.evaluate`, seeds from `HELD_OUT_SEED_OFFSET`) and keeps the better
by `choose`. Checkpoints (SB3 .zip) make a run resumable. Units: rad or m, s; y is
dimensionless (units of output_scale half ranges).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import time
import zipfile
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.vec_env import VecEnv
from torch import nn

from ..core.control.learned_policy import (
    FEATURE_NAMES,
    TICK_FEATURES,
    PolicyWeights,
    command_from_output,
    export_weights,
    feature_count,
    joint_scale,
    moving,
    reference,
    torch_model,
    torch_model_from,
)
from ..core.errors import ConfigError
from ..core.robot.model import RobotModel
from ..core.sim.multi_agent_env import ArmTeamEnv
from .behaviour_cloning import HELD_OUT_SEED_OFFSET, Controller, TrainConfig, evaluate

PHASE_COLUMN = FEATURE_NAMES.index("phase")
REMAINING_COLUMN = FEATURE_NAMES.index("remaining_s")
# |y| bound of the action space (SB3 wants a finite Box): at output_scale 0.02, y = 100 is two
# half ranges, past the joint limits where the command saturates: unbounded in effect.
Y_BOUND = 100.0


@dataclass(frozen=True)
class RLConfig:
    """Budget and PPO hyper-parameters of one fine-tuning run.

    Timesteps are SB3's: one per agent per control tick (7 agents: 7 per 10 ms tick)."""

    total_timesteps: int = 600_000  # agent-steps (~3.5 min on 2 idle cores); CLI --rl-steps
    n_steps: int = 512  # ticks per rollout (x agents = the rollout's samples)
    batch_size: int = 512  # samples per minibatch
    n_epochs: int = 5  # passes over each rollout
    learning_rate: float = 1e-4  # actor's Adam step: small, fine-tuning (2e-4 drifted worse)
    critic_lr_scale: float = 10.0  # the critic learns this much faster (it starts from scratch)
    clip_range: float = 0.1  # PPO ratio clip: small steps away from BC
    ent_coef: float = 0.0  # no entropy bonus: the exploration noise is set by log_std_init
    vf_coef: float = 0.5
    max_grad_norm: float = 1.0
    gamma: float = 0.99  # per tick: a ~1 s horizon (100 ticks), longer than the servo's lag
    gae_lambda: float = 0.95
    reward_scale: float = 0.1  # team reward x this for PPO: returns of order 10, not 100
    log_std_init: float = math.log(0.2)  # exploration std in y units (a BC residual is ~1)
    critic_hidden: tuple[int, ...] = (64, 64)
    team_critic: bool = True  # the value MLP also reads the team block (see the module doc)
    max_motion_s: float = 4.0  # the env's longest motion (s), as in BC
    held_out_episodes: int = 8  # BC vs BC+RL comparison episodes
    seed: int = 0
    threads: int = 1  # torch threads: small nets run fastest on one
    workers: int = 0  # processes scoring the held-out episodes (0: this one)
    ray_address: str | None = None  # or score them on Ray

    def __post_init__(self) -> None:
        positive = ("n_steps", "batch_size", "n_epochs", "threads", "held_out_episodes")
        bad = [name for name in positive if getattr(self, name) < 1]
        if self.total_timesteps < 0:
            bad.append("total_timesteps")
        if bad:
            raise ConfigError(f"RL fine-tuning: {', '.join(bad)} must be positive")


# -- the environment ----------------------------------------------------------------------------
class AgentVecEnv(VecEnv):
    """One `ArmTeamEnv` as a `VecEnv` of its agents: sub-env i is agent i, all stepped together.

    Observation i: agent i's env row (features, then the goal embedding), then, when
    `team_critic`, the team block for the critic: the time left in the episode (s) and every
    agent's tick features (the first TICK_FEATURES columns of each row, agent order). Action i:
    agent i's network output y, shape (1,), within +-Y_BOUND (unbounded in effect); the command
    is `command_from_output` on the classical command of the observation the action was chosen
    on. Reward i: the team reward x `reward_scale`. Every sub-env is done together when the
    episode ends (its end is the task's end, with the final-error term, so it is terminal, not
    a time-limit cut); the episode then restarts at once from the next seed
    (`terminal_observation` in the infos).
    Training episode seeds are drawn below `HELD_OUT_SEED_OFFSET`, so never held-out ones."""

    def __init__(
        self,
        env: ArmTeamEnv,
        output_scale: float,
        seed: int = 0,
        *,
        team_critic: bool = True,
        reward_scale: float = 1.0,
    ) -> None:
        self.env = env
        self.names = list(env.possible_agents)
        count = len(self.names)
        self.actor_width = feature_count(count) + env.embedding_dim
        width = self.actor_width + (1 + TICK_FEATURES * count if team_critic else 0)
        self.team_critic = team_critic
        self.output_scale = output_scale
        self.reward_scale = reward_scale
        self.render_mode = None
        self._rng = np.random.default_rng(seed)
        self._actions = np.zeros(count)
        self._return, self._length = 0.0, 0
        self.episode_returns: deque[float] = deque(maxlen=20)  # unscaled team returns
        observation = spaces.Box(-np.inf, np.inf, (width,), np.float32)
        action = spaces.Box(-Y_BOUND, Y_BOUND, (1,), np.float32)
        super().__init__(count, observation, action)

    def reset(self) -> np.ndarray:
        if self._seeds[0] is not None:  # VecEnv.seed(s) was called: a new seed stream
            self._rng = np.random.default_rng(self._seeds[0])
        self._reset_seeds()
        self._reset_options()
        return self._begin()

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions, dtype=np.float64).reshape(self.num_envs)

    def step_wait(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[dict[str, Any]]]:
        observation = self.env.observation
        base, _ = reference(observation)
        _, half = joint_scale(observation.lower, observation.upper)
        command = command_from_output(
            self._actions,
            base,
            half,
            self.output_scale,
            observation.lower,
            observation.upper,
            moving(observation),
        )
        rows, rewards, *_ = self.env.step(
            {name: command[i : i + 1] for i, name in enumerate(self.names)}
        )
        reward = float(rewards[self.names[0]])
        self._return, self._length = self._return + reward, self._length + 1
        out = self._stack(rows)
        done = not self.env.agents
        infos: list[dict[str, Any]] = [{} for _ in self.names]
        if done:
            episode = {"r": self._return, "l": self._length}
            self.episode_returns.append(self._return)
            infos = [{"terminal_observation": row, "episode": episode} for row in out]
            out = self._begin()
        scaled = np.full(self.num_envs, reward * self.reward_scale, dtype=np.float32)
        return out, scaled, np.full(self.num_envs, done), infos

    def close(self) -> None:
        self.env.close()

    def get_attr(self, attr_name: str, indices: Any = None) -> list[Any]:
        """The attribute of the one env (of this wrapper for `render_mode`), per index."""
        owner = self if attr_name == "render_mode" else self.env
        return [getattr(owner, attr_name) for _ in self._get_indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: Any = None) -> None:
        setattr(self.env, attr_name, value)

    def env_method(
        self, method_name: str, *method_args: Any, indices: Any = None, **method_kwargs: Any
    ) -> list[Any]:
        """Calls the one env's method ONCE (every sub-env is the same env), per index."""
        result = getattr(self.env, method_name)(*method_args, **method_kwargs)
        return [result for _ in self._get_indices(indices)]

    def env_is_wrapped(self, wrapper_class: type[Any], indices: Any = None) -> list[bool]:
        return [False for _ in self._get_indices(indices)]

    def _begin(self) -> np.ndarray:
        rows, _ = self.env.reset(seed=int(self._rng.integers(HELD_OUT_SEED_OFFSET)))
        self._return, self._length = 0.0, 0
        return self._stack(rows)

    def _stack(self, rows: dict[str, np.ndarray]) -> np.ndarray:
        own = np.stack([rows[name] for name in self.names]).astype(np.float32)
        if not self.team_critic:
            return own
        left_s = (self.env.horizon - self.env.ticks) * self.env.dt
        team = np.concatenate(([left_s], own[:, :TICK_FEATURES].reshape(-1)))
        return np.hstack([own, np.broadcast_to(team, (own.shape[0], team.size))]).astype(
            np.float32
        )


# -- the policy ---------------------------------------------------------------------------------
class _FilmExtractor(nn.Module):
    """SB3's mlp_extractor: the actor latent is y itself (the FiLM MLP on the agent's own
    features and embedding), the critic latent a tanh MLP on the whole observation."""

    def __init__(self, actor: Any, observation_width: int, critic_hidden: Sequence[int]):
        super().__init__()
        self.actor: Any = actor
        self.features = feature_count(len(actor.type_names))
        self.embedding_dim = int(actor.embedding_dim)
        layers: list[nn.Module] = []
        sizes = [observation_width, *critic_hidden]
        for a, b in itertools.pairwise(sizes):
            layers += [nn.Linear(a, b), nn.Tanh()]
        self.critic = nn.Sequential(*layers)
        self.latent_dim_pi = 1
        self.latent_dim_vf = sizes[-1]

    def forward(self, observation: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.forward_actor(observation), self.forward_critic(observation)

    def forward_actor(self, observation: torch.Tensor) -> torch.Tensor:
        features = observation[:, : self.features]
        if self.embedding_dim > 0:
            embedding = observation[:, self.features : self.features + self.embedding_dim]
        else:  # torch_model's FiLM layers take a width-1 input when there is no embedding
            embedding = observation.new_zeros((observation.shape[0], 1))
        y: torch.Tensor = self.actor(features, embedding).unsqueeze(-1)
        return y

    def forward_critic(self, observation: torch.Tensor) -> torch.Tensor:
        latent: torch.Tensor = self.critic(observation)
        return latent


class FilmActorCriticPolicy(ActorCriticPolicy):
    """PPO's policy: a Gaussian over y whose mean is the `torch_model` FiLM MLP of shape
    (`type_names`, `embedding_dim`, `hidden`, `output_scale`); state-independent log std; a
    separate value MLP (`critic_hidden`). `load_actor` sets the mean network's weights (the BC
    ones before training). Log-probabilities of rows where y does not act are 0."""

    def __init__(
        self,
        observation_space: spaces.Space[Any],
        action_space: spaces.Space[Any],
        lr_schedule: Callable[[float], float],
        *,
        type_names: Sequence[str],
        embedding_dim: int,
        hidden: Sequence[int],
        output_scale: float,
        critic_hidden: Sequence[int] = (64, 64),
        critic_lr_scale: float = 1.0,
        **kwargs: Any,
    ) -> None:
        self.film_shape = (tuple(type_names), int(embedding_dim), tuple(hidden), output_scale)
        self.critic_hidden = tuple(critic_hidden)
        self.critic_lr_scale = critic_lr_scale
        kwargs.setdefault("ortho_init", False)  # orthogonal init would overwrite the FiLM MLP
        super().__init__(observation_space, action_space, lr_schedule, **kwargs)

    def _build_mlp_extractor(self) -> None:
        actor = torch_model(*self.film_shape)
        width = int(np.prod(self.observation_space.shape or (1,)))
        self.mlp_extractor = _FilmExtractor(actor, width, self.critic_hidden)  # type: ignore[assignment]

    def _build(self, lr_schedule: Callable[[float], float]) -> None:
        """SB3's build, then y = the actor latent itself, and one optimiser with the actor's
        and the critic's parameters in groups whose `lr_scale` `_ScaledLrPPO` applies."""
        super()._build(lr_schedule)
        self.action_net = nn.Identity()
        extractor: Any = self.mlp_extractor
        actor = [*extractor.actor.parameters(), self.log_std]
        critic = [*extractor.critic.parameters(), *self.value_net.parameters()]
        groups = [
            {"params": actor, "lr_scale": 1.0},
            {"params": critic, "lr_scale": self.critic_lr_scale},
        ]
        optimizer_class: Any = self.optimizer_class
        self.optimizer = optimizer_class(groups, lr=lr_schedule(1), **self.optimizer_kwargs)

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        type_names, embedding_dim, hidden, output_scale = self.film_shape
        data.update(
            type_names=type_names,
            embedding_dim=embedding_dim,
            hidden=hidden,
            output_scale=output_scale,
            critic_hidden=self.critic_hidden,
            critic_lr_scale=self.critic_lr_scale,
        )
        return data

    @property
    def actor(self) -> Any:
        """The mean network: a `torch_model` module (`export_weights` turns it to weights)."""
        extractor: Any = self.mlp_extractor
        return extractor.actor

    def load_actor(self, weights: PolicyWeights) -> None:
        self.actor.load_state_dict(torch_model_from(weights).state_dict())

    def forward(
        self, obs: torch.Tensor, deterministic: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        actions, values, log_prob = super().forward(obs, deterministic)
        return actions, values, log_prob * _acting(obs)

    def evaluate_actions(
        self, obs: Any, actions: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        values, log_prob, entropy = super().evaluate_actions(obs, actions)
        return values, log_prob * _acting(obs), entropy


def _acting(observation: torch.Tensor) -> torch.Tensor:
    """1 on rows whose segment is under way (0 < phase, time left > 0: `moving`), else 0."""
    phase = observation[:, PHASE_COLUMN]
    return ((phase > 0.0) & (observation[:, REMAINING_COLUMN] > 0.0)).to(observation.dtype)


class _ScaledLrPPO(PPO):
    """PPO whose optimiser's param groups may carry `lr_scale` (the critic learns faster)."""

    def _update_learning_rate(self, optimizers: list[Any] | Any) -> None:
        super()._update_learning_rate(optimizers)
        for group in self.policy.optimizer.param_groups:
            group["lr"] *= group.get("lr_scale", 1.0)


# -- training -----------------------------------------------------------------------------------
class _Progress(BaseCallback):
    """A progress line and a checkpoint every ~10% of the timesteps, at the start of a rollout
    (after the previous update: nothing collected is lost on resume)."""

    def __init__(
        self,
        total: int,
        vec: AgentVecEnv,
        progress: Callable[[str], None] | None,
        checkpoint: Path | None,
    ) -> None:
        super().__init__()
        self.total, self.vec, self.report, self.checkpoint = total, vec, progress, checkpoint
        self.every = max(1, total // 10)
        self.next_at = 0
        self.began = time.monotonic()

    def _on_training_start(self) -> None:
        self.next_at = (self.num_timesteps // self.every + 1) * self.every

    def _on_rollout_start(self) -> None:
        if self.num_timesteps < self.next_at:
            return
        self.next_at = (self.num_timesteps // self.every + 1) * self.every
        if self.checkpoint is not None:
            self.model.save(self.checkpoint)
        if self.report is not None:
            returns = self.vec.episode_returns
            mean = f"{np.mean(returns):.1f}" if returns else "n/a"
            self.report(
                f"rl: {self.num_timesteps}/{self.total} steps, team return {mean} "
                f"(last {len(returns)} episodes), {time.monotonic() - self.began:.0f} s"
            )

    def _on_step(self) -> bool:
        return True


def make_model(
    vec: AgentVecEnv, weights: PolicyWeights, config: RLConfig = RLConfig()
) -> _ScaledLrPPO:
    """A fresh PPO whose policy starts at `weights` (the BC policy)."""
    policy_kwargs = {
        "type_names": tuple(weights.type_names),
        "embedding_dim": weights.embedding_dim,
        "hidden": tuple(w.shape[1] for w, _ in weights.hidden),
        "output_scale": weights.output_scale,
        "critic_hidden": config.critic_hidden,
        "critic_lr_scale": config.critic_lr_scale,
        "log_std_init": config.log_std_init,
    }
    model = _ScaledLrPPO(
        FilmActorCriticPolicy,
        vec,
        learning_rate=config.learning_rate,
        n_steps=config.n_steps,
        batch_size=config.batch_size,
        n_epochs=config.n_epochs,
        gamma=config.gamma,
        gae_lambda=config.gae_lambda,
        clip_range=config.clip_range,
        ent_coef=config.ent_coef,
        vf_coef=config.vf_coef,
        max_grad_norm=config.max_grad_norm,
        policy_kwargs=policy_kwargs,
        seed=config.seed,
        device="cpu",
        verbose=0,
    )
    policy: FilmActorCriticPolicy = model.policy  # type: ignore[assignment]
    policy.load_actor(weights)
    return model


def load_model(path: Path, vec: AgentVecEnv, config: RLConfig) -> _ScaledLrPPO:
    """The checkpoint at `path` on `vec`, reseeded by its timestep count (a resumed run draws
    new episodes and noise, not those it started with)."""
    try:
        model = _ScaledLrPPO.load(path, env=None, device="cpu")
        model.set_env(vec)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, RuntimeError) as error:
        raise ConfigError(f"cannot resume from the RL checkpoint {path}: {error}") from error
    model.set_random_seed(config.seed + model.num_timesteps)
    return model


def held_out_seeds(config: RLConfig) -> range:
    """The episodes BC and BC+RL are compared on: train-policy's held-out ones."""
    first = config.seed + HELD_OUT_SEED_OFFSET
    return range(first, first + config.held_out_episodes)


def score(
    robot: RobotModel, weights: PolicyWeights, seeds: range, config: RLConfig
) -> dict[str, float]:
    """`behaviour_cloning.evaluate` of the numpy runtime policy of `weights`, fanned out over
    the config's workers or Ray."""
    rollouts = TrainConfig(
        max_motion_s=config.max_motion_s,
        workers=config.workers,
        ray_address=config.ray_address,
        manner=weights.manner,
    )
    return evaluate(robot, Controller("learned", weights), seeds, rollouts)


MARGIN = 0.01  # relative: a difference under 1% is evaluation noise, not a gain or a loss
SLACK = 1e-6  # absolute (rad or mm): errors this small are numerically zero


def choose(bc: dict[str, float], tuned: dict[str, float]) -> tuple[str, str]:
    """Which weights to ship, and why. "bc+rl" when its final errors (rad and mm) are no worse
    than BC's (within MARGIN / SLACK) and it either succeeds more often, or as often with a
    revolute tracking error at least MARGIN lower and a prismatic one no worse; else "bc": the
    fine-tuning must earn its place on the held-out episodes."""

    def no_worse(key: str) -> bool:
        return tuned[key] <= bc[key] * (1.0 + MARGIN) + SLACK

    if not (no_worse("final_error_rad") and no_worse("final_error_mm")):
        return "bc", "BC+RL has a worse final error"
    if tuned["success"] > bc["success"]:
        return "bc+rl", "BC+RL succeeds more often"
    if tuned["success"] < bc["success"]:
        return "bc", "BC+RL succeeds less often"
    gain = 1.0 - tuned["tracking_error_rad"] / max(bc["tracking_error_rad"], 1e-12)
    if not no_worse("tracking_error_mm"):
        return "bc", "BC+RL tracks the gripper worse"
    if gain >= MARGIN:
        return "bc+rl", f"BC+RL tracks {100 * gain:.2f}% closer at the same success"
    return "bc", f"BC+RL tracks only {100 * gain:.2f}% closer (under {100 * MARGIN:.0f}%)"


def finetune(
    robot: RobotModel,
    weights: PolicyWeights,
    config: RLConfig = RLConfig(),
    progress: Callable[[str], None] | None = None,
    checkpoint: str | Path | None = None,
) -> tuple[PolicyWeights, dict[str, Any]]:
    """PPO from the BC `weights` up to `config.total_timesteps`, then BC vs BC+RL on the same
    held-out episodes; returns the chosen weights (`choose`) and the report. With `checkpoint`
    (an SB3 .zip path) the model is saved every ~10% and at the end, and a run whose checkpoint
    exists resumes from it (its timestep count, not from 0)."""
    began = time.monotonic()
    torch.set_num_threads(config.threads)
    env = ArmTeamEnv(robot, max_motion_s=config.max_motion_s, encoder=weights.manner)
    vec = AgentVecEnv(
        env,
        weights.output_scale,
        config.seed,
        team_critic=config.team_critic,
        reward_scale=config.reward_scale,
    )
    path = Path(checkpoint) if checkpoint is not None else None
    resumed = path is not None and path.exists()
    model = load_model(path, vec, config) if path and resumed else make_model(vec, weights, config)
    start = int(model.num_timesteps)
    remaining = config.total_timesteps - start
    if remaining > 0:
        callback = _Progress(config.total_timesteps, vec, progress, path)
        model.learn(remaining, callback=callback, reset_num_timesteps=start == 0)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        model.save(path)
    tuned = dataclasses.replace(export_weights(model.policy.actor), manner=weights.manner)
    train_s = time.monotonic() - began
    if progress:
        progress(f"rl: {model.num_timesteps} steps in {train_s:.0f} s; held-out comparison")
    seeds = held_out_seeds(config)
    scores = {
        "bc": score(robot, weights, seeds, config),
        "bc+rl": score(robot, tuned, seeds, config),
    }
    chosen, reason = choose(scores["bc"], scores["bc+rl"])
    report = {
        "held_out": scores,
        "held_out_seeds": [seeds.start, seeds.stop - 1],
        "chosen": chosen,
        "reason": reason,
        "timesteps": int(model.num_timesteps),
        "resumed_at": start if resumed else None,
        "train_seconds": train_s,
        "seconds": time.monotonic() - began,
        "config": asdict(config),
    }
    return (tuned if chosen == "bc+rl" else weights), report
