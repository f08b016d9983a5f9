"""A learned, language-conditioned policy: one parameter-shared MLP for every joint agent.

Inputs per agent (one row of `Observation`, turned into `FEATURE_NAMES` by
`observation_features`): the joint state, the planned segment and its minimum-jerk phase, the
goal's numeric slots, a one-hot of the agent's type (its name in the weights' `type_names`), and
the goal's text embedding, which conditions every hidden layer by FiLM (h <- (1 + g(e)) h + b(e)).

Output: the next command as a residual on the measured position,
    command = position + output_scale * half_range * y,
so the network predicts a small, well-scaled step (a joint moves at most v_max * dt per tick),
the same for revolute (rad) and prismatic (m) joints, and the command stays next to where the
joint is even for an input it never saw (a residual on the target would jump there). At rest on
the target y = 0.

Inference (`LearnedPolicy.act`, `forward`) is numpy only: the agents process never imports
torch. Training (`torch_model`, `export_weights`) imports torch when called.
Units: rad or m, s; features are dimensionless (positions as shares of the joint's half range).
"""

from __future__ import annotations

import importlib
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError
from .policies import SKILL_CODES, STYLE_CODES, Observation, minimum_jerk_fraction

# Columns of `observation_features`, then one column per agent type (`type_names`).
STATE_FEATURES = (
    "position",  # (p - mid) / half: -1 at the lower limit, +1 at the upper
    "velocity",  # v / half (1/s)
    "error_to_goal",  # (goal target - p) / half
    "error_to_segment",  # (segment target - p) / half
    "segment_distance",  # (segment target - segment start) / half
    "phase",  # elapsed / duration of the segment in [0, 1]; 1 when holding
    "profile",  # minimum-jerk share of the segment covered at that phase
    "remaining_s",  # time left in the segment (s)
    "segment_duration_s",  # (s), 0 when holding
)
GOAL_FEATURES = (
    "goal_given",  # 1 with a goal, 0 when holding without one
    "goal_target",  # (goal target - mid) / half, 0 without one
    "goal_duration_s",  # asked duration (s), 0 when not said
    "goal_duration_given",
    "goal_amplitude",  # wave amplitude / half, 0 when not said
    "goal_repetitions",  # wave repetitions, 0 for other skills
    *(f"skill_{skill.name.lower()}" for skill in SKILL_CODES),  # one-hot of SKILL_CODES
    *(f"style_{style}" for style in STYLE_CODES),  # one-hot of STYLE_CODES; none: all 0
)
FEATURE_NAMES = STATE_FEATURES + GOAL_FEATURES


def feature_count(type_count: int) -> int:
    return len(FEATURE_NAMES) + type_count


def joint_scale(lower: np.ndarray, upper: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Middle and half range of each joint (rad or m); 0 and 1 for an unlimited joint."""
    finite = np.isfinite(lower) & np.isfinite(upper)
    mid = np.where(finite, 0.5 * (lower + upper), 0.0)
    half = np.where(finite, 0.5 * (upper - lower), 1.0)
    return mid, np.where(half > 0.0, half, 1.0)


def type_rows(agent_names: Sequence[str], type_names: Sequence[str]) -> np.ndarray:
    """Index of each agent in `type_names` (-1: a type the weights do not know)."""
    known = {name: i for i, name in enumerate(type_names)}
    return np.array([known.get(name, -1) for name in agent_names], dtype=np.int64)


def observation_features(
    observation: Observation, types: np.ndarray, type_count: int
) -> np.ndarray:
    """The policy input of every agent (N, feature_count(type_count)), float32, no NaN.
    `types` gives each row's agent type (from `type_rows`)."""
    obs = observation
    count = obs.position.shape[0]
    mid, half = joint_scale(obs.lower, obs.upper)
    duration = obs.duration_s
    phase = np.divide(obs.elapsed_s, duration, out=np.ones_like(duration), where=duration > 0.0)
    phase = np.clip(phase, 0.0, 1.0)
    given = np.isfinite(obs.goal_skill)
    target = np.where(np.isfinite(obs.goal_target), obs.goal_target, obs.segment_target)
    out = np.zeros((count, feature_count(type_count)), dtype=np.float32)
    columns = [
        (obs.position - mid) / half,
        obs.velocity / half,
        (target - obs.position) / half,
        (obs.segment_target - obs.position) / half,
        (obs.segment_target - obs.segment_start) / half,
        phase,
        minimum_jerk_fraction(phase),
        np.maximum(duration - obs.elapsed_s, 0.0),
        duration,
        given,
        np.where(given, (target - mid) / half, 0.0),
        np.nan_to_num(obs.goal_duration_s, nan=0.0),
        np.isfinite(obs.goal_duration_s),
        np.nan_to_num(obs.goal_amplitude / half, nan=0.0),
        np.nan_to_num(obs.goal_repetitions, nan=0.0),
    ]
    for column, values in enumerate(columns):
        out[:, column] = values
    rows = np.arange(count)
    skill_at = len(columns)
    style_at = skill_at + len(SKILL_CODES)
    type_at = len(FEATURE_NAMES)
    skill = np.nan_to_num(obs.goal_skill, nan=-1.0).astype(np.int64)
    style = np.nan_to_num(obs.goal_style, nan=-1.0).astype(np.int64)
    out[rows[skill >= 0], skill_at + skill[skill >= 0]] = 1.0
    out[rows[style >= 0], style_at + style[style >= 0]] = 1.0
    out[rows[types >= 0], type_at + types[types >= 0]] = 1.0
    return out


@dataclass(frozen=True)
class PolicyWeights:
    """The trained network: `hidden[i]` = (W (in, out), b (out,)), FiLM `film[i]` = (Wg, bg,
    Wb, bb) from the embedding (E, out) per hidden layer (empty when embedding_dim is 0), and
    the output layer (W (H, 1), b (1,)); all float32."""

    type_names: tuple[str, ...]
    embedding_dim: int
    output_scale: float
    hidden: tuple[tuple[np.ndarray, np.ndarray], ...]
    film: tuple[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray], ...]
    output: tuple[np.ndarray, np.ndarray]

    @property
    def feature_count(self) -> int:
        return feature_count(len(self.type_names))

    def save(self, path: str | Path) -> None:
        """A small .npz (no pickle): loadable by `load` with numpy alone."""
        arrays: dict[str, np.ndarray] = {
            "type_names": np.array(self.type_names, dtype=np.str_),
            "embedding_dim": np.array(self.embedding_dim),
            "output_scale": np.array(self.output_scale),
            "out_w": self.output[0],
            "out_b": self.output[1],
        }
        for i, (w, b) in enumerate(self.hidden):
            arrays[f"hidden{i}_w"], arrays[f"hidden{i}_b"] = w, b
        for i, film in enumerate(self.film):
            for name, value in zip(("gw", "gb", "bw", "bb"), film, strict=True):
                arrays[f"film{i}_{name}"] = value
        np.savez(path, **arrays)  # type: ignore[arg-type]

    @classmethod
    def load(cls, path: str | Path) -> PolicyWeights:
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {name: data[name] for name in data.files}
        except (OSError, ValueError) as error:
            raise ConfigError(f"cannot read policy weights {path}: {error}") from error
        try:
            layers = sum(1 for name in arrays if name.startswith("hidden") and name[-2:] == "_w")
            f32 = np.float32
            hidden = tuple(
                (arrays[f"hidden{i}_w"].astype(f32), arrays[f"hidden{i}_b"].astype(f32))
                for i in range(layers)
            )
            film = tuple(
                tuple(arrays[f"film{i}_{n}"].astype(f32) for n in ("gw", "gb", "bw", "bb"))
                for i in range(layers)
                if f"film{i}_gw" in arrays
            )
            weights = cls(
                type_names=tuple(str(n) for n in arrays["type_names"]),
                embedding_dim=int(arrays["embedding_dim"]),
                output_scale=float(arrays["output_scale"]),
                hidden=hidden,
                film=film,
                output=(arrays["out_w"].astype(f32), arrays["out_b"].astype(f32)),
            )
        except KeyError as error:
            raise ConfigError(f"policy weights {path} lack {error}") from error
        if hidden and hidden[0][0].shape[0] != weights.feature_count:
            raise ConfigError(
                f"policy weights {path} expect {hidden[0][0].shape[0]} features, "
                f"this code makes {weights.feature_count}"
            )
        return weights


def forward(weights: PolicyWeights, features: np.ndarray, embedding: np.ndarray) -> np.ndarray:
    """The network's raw output y (N,) for features (N, F) and embeddings (N, E), in numpy."""
    h = features
    conditioned = weights.embedding_dim > 0 and bool(weights.film)
    for i, (w, b) in enumerate(weights.hidden):
        z = h @ w + b
        if conditioned:
            gw, gb, bw, bb = weights.film[i]
            z = (1.0 + embedding @ gw + gb) * z + (embedding @ bw + bb)
        h = np.maximum(z, 0.0)
    y: np.ndarray = (h @ weights.output[0] + weights.output[1])[:, 0]
    return y


class LearnedPolicy:
    """The `Policy` of a trained network for the agents `agent_names` (the observation's rows),
    one numpy forward pass for all of them per tick."""

    name = "learned"

    def __init__(self, weights: PolicyWeights, agent_names: Sequence[str]) -> None:
        self.weights = weights
        self.types = type_rows(agent_names, weights.type_names)
        self._no_text = np.zeros((len(agent_names), weights.embedding_dim), dtype=np.float32)

    def raw(self, observation: Observation) -> np.ndarray:
        """The network's output y (N,) before it becomes a command."""
        features = observation_features(observation, self.types, len(self.weights.type_names))
        embedding = observation.goal_embedding
        if embedding.shape[1] != self.weights.embedding_dim:
            embedding = self._no_text  # no encoder configured: the text-free conditioning
        return forward(self.weights, features, embedding.astype(np.float32, copy=False))

    def act(self, observation: Observation) -> np.ndarray:
        _, half = joint_scale(observation.lower, observation.upper)
        y = self.raw(observation)
        command: np.ndarray = observation.position + self.weights.output_scale * half * y
        if observation.lower.size:
            np.clip(command, observation.lower, observation.upper, out=command)
        return command


def residual_target(
    command: np.ndarray, position: np.ndarray, lower: np.ndarray, upper: np.ndarray, scale: float
) -> np.ndarray:
    """The y that `LearnedPolicy.act` turns into `command` (the behaviour-cloning label)."""
    _, half = joint_scale(lower, upper)
    target: np.ndarray = (command - position) / (scale * half)
    return target


# -- training side: torch, imported only when these are called --------------------------------
def _torch() -> Any:
    return importlib.import_module("torch")


def torch_model(
    type_names: Sequence[str],
    embedding_dim: int,
    hidden: Sequence[int] = (64, 64),
    output_scale: float = 0.02,
) -> Any:
    """A torch module with the same shape as `forward`, to train; `export_weights` turns it
    into `PolicyWeights`. FiLM layers start at identity (zero weights)."""
    torch = _torch()
    nn = torch.nn
    module: Any = nn.Module

    class FilmMlp(module):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.type_names = tuple(type_names)
            self.embedding_dim = embedding_dim
            self.output_scale = output_scale
            sizes = [feature_count(len(type_names)), *hidden]
            self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in itertools.pairwise(sizes))
            self.gamma = nn.ModuleList(nn.Linear(max(embedding_dim, 1), b) for b in hidden)
            self.beta = nn.ModuleList(nn.Linear(max(embedding_dim, 1), b) for b in hidden)
            for layer in [*self.gamma, *self.beta]:
                nn.init.zeros_(layer.weight)
                nn.init.zeros_(layer.bias)
            self.output = nn.Linear(sizes[-1], 1)

        def forward(self, features: Any, embedding: Any) -> Any:
            h = features
            for i, layer in enumerate(self.hidden):
                z = layer(h)
                if self.embedding_dim > 0:
                    z = (1.0 + self.gamma[i](embedding)) * z + self.beta[i](embedding)
                h = torch.relu(z)
            return self.output(h)[:, 0]

    return FilmMlp()


def export_weights(model: Any) -> PolicyWeights:
    """`PolicyWeights` (float32 numpy) of a module made by `torch_model`."""

    def arrays(layer: Any) -> tuple[np.ndarray, np.ndarray]:
        weight = layer.weight.detach().cpu().numpy().T.astype(np.float32)
        return np.ascontiguousarray(weight), layer.bias.detach().cpu().numpy().astype(np.float32)

    film: tuple[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray], ...] = ()
    if model.embedding_dim > 0:
        film = tuple(
            (*arrays(g), *arrays(b)) for g, b in zip(model.gamma, model.beta, strict=True)
        )
    return PolicyWeights(
        type_names=tuple(model.type_names),
        embedding_dim=int(model.embedding_dim),
        output_scale=float(model.output_scale),
        hidden=tuple(arrays(layer) for layer in model.hidden),
        film=film,
        output=arrays(model.output),
    )
