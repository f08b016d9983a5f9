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


# Columns of `observation_features` before the skill and style one-hots.
NUMERIC_FEATURES = len(FEATURE_NAMES) - len(SKILL_CODES) - len(STYLE_CODES)


class LearnedPolicy:
    """The `Policy` of a trained network for the agents `agent_names` (the observation's rows),
    one numpy forward pass for all of them per tick.

    `command` is the control-rate path: the same function as `forward(observation_features)`
    (a test checks), but into arrays allocated once, with the one-hot inputs (skill, style,
    agent type) folded into the first layer as row look-ups, in float64."""

    name = "learned"

    def __init__(self, weights: PolicyWeights, agent_names: Sequence[str]) -> None:
        self.weights = weights
        self.types = type_rows(agent_names, weights.type_names)
        count = len(agent_names)
        self._no_text = np.zeros((count, weights.embedding_dim), dtype=np.float32)
        f64 = np.float64
        layers = [(w.astype(f64), b.astype(f64)) for w, b in weights.hidden]
        self._layers = layers[1:]
        self._film = [tuple(a.astype(f64) for a in film) for film in weights.film]
        first_w, first_b = layers[0]
        skills_at, styles_at = NUMERIC_FEATURES, NUMERIC_FEATURES + len(SKILL_CODES)
        types_at = len(FEATURE_NAMES)
        width = first_w.shape[1]
        zero = np.zeros((1, width))
        self._first_w = np.ascontiguousarray(first_w[:NUMERIC_FEATURES])
        self._skill_rows = np.vstack([first_w[skills_at:styles_at], zero])  # row -1: none
        self._style_rows = np.vstack([first_w[styles_at:types_at], zero])
        type_weights = np.vstack([first_w[types_at:], zero])
        self._first_b = first_b + type_weights[np.where(self.types >= 0, self.types, -1)]
        self._out_w = weights.output[0].astype(f64)
        self._out_b = float(weights.output[1][0])
        self._x = np.zeros((NUMERIC_FEATURES, count))
        self._z = [np.zeros((count, w.shape[1])) for w, _ in layers]
        self._rows = np.zeros((count, width))
        self._y = np.zeros((count, 1))
        self._command = np.zeros(count)
        self._target = np.zeros(count)
        self._mask = np.zeros(count, dtype=bool)
        self._index = np.zeros(count, dtype=np.int64)
        self._limits: np.ndarray | None = None
        self._mid = self._half = self._inv_half = np.zeros(count)

    def raw(self, observation: Observation) -> np.ndarray:
        """The network's output y (N,) before it becomes a command (the reference path)."""
        features = observation_features(observation, self.types, len(self.weights.type_names))
        return forward(self.weights, features, self._embedding(observation))

    def command(self, observation: Observation) -> np.ndarray:
        """The next command (N,) as the network gives it, NOT clipped to the limits (a guard
        judges it); an array reused by the next call."""
        o, x = observation, self._x
        if self._limits is not o.lower:  # the group's limits: the same array every tick
            self._mid, self._half = joint_scale(o.lower, o.upper)
            self._inv_half, self._limits = 1.0 / self._half, o.lower
        mid, inv, mask, target = self._mid, self._inv_half, self._mask, self._target
        np.copyto(target, o.segment_target)
        np.copyto(target, o.goal_target, where=np.isfinite(o.goal_target, out=mask))
        np.subtract(o.position, mid, out=x[0])
        np.multiply(o.velocity, inv, out=x[1])
        np.subtract(target, o.position, out=x[2])
        np.subtract(o.segment_target, o.position, out=x[3])
        np.subtract(o.segment_target, o.segment_start, out=x[4])
        phase, profile = x[5], x[6]
        phase.fill(1.0)
        np.divide(
            o.elapsed_s, o.duration_s, out=phase, where=np.greater(o.duration_s, 0.0, out=mask)
        )
        np.clip(phase, 0.0, 1.0, out=phase)
        np.multiply(phase, 6.0, out=profile)  # 10 s^3 - 15 s^4 + 6 s^5
        for step in (-15.0, 10.0):
            profile += step
            profile *= phase
        profile *= phase
        profile *= phase
        np.subtract(o.duration_s, o.elapsed_s, out=x[7])
        np.maximum(x[7], 0.0, out=x[7])
        np.copyto(x[8], o.duration_s)
        np.isfinite(o.goal_skill, out=mask)
        np.copyto(x[9], mask)
        np.subtract(target, mid, out=x[10])
        np.logical_not(mask, out=mask)
        np.copyto(x[10], 0.0, where=mask)
        np.copyto(x[11], o.goal_duration_s)
        np.copyto(x[12], np.isfinite(o.goal_duration_s, out=mask))
        np.multiply(o.goal_amplitude, inv, out=x[13])
        np.copyto(x[14], o.goal_repetitions)
        for row in (0, 2, 3, 4, 10):
            x[row] *= inv
        for row in (11, 13, 14):  # NaN: no such slot (np.nan_to_num costs ~15 us a call)
            np.copyto(x[row], 0.0, where=np.isnan(x[row], out=mask))
        z = self._z[0]
        np.matmul(x.T, self._first_w, out=z)
        z += self._first_b
        for slot, table in ((o.goal_skill, self._skill_rows), (o.goal_style, self._style_rows)):
            np.copyto(target, slot)  # `target` is free again: the slot's codes, -1 for none
            np.copyto(target, -1.0, where=np.isnan(target, out=mask))
            self._index[:] = target
            np.take(table, self._index, axis=0, out=self._rows)
            z += self._rows
        embedding = self._embedding(o) if self._film else self._no_text
        h = self._activate(0, z, embedding)
        for i, (w, b) in enumerate(self._layers, 1):
            z = self._z[i]
            np.matmul(h, w, out=z)
            z += b
            h = self._activate(i, z, embedding)
        np.matmul(h, self._out_w, out=self._y)
        command = self._command
        np.multiply(
            self._y[:, 0] + self._out_b, self.weights.output_scale * self._half, out=command
        )
        command += o.position
        return command

    def act(self, observation: Observation) -> np.ndarray:
        command = self.command(observation)
        if observation.lower.size:
            np.clip(command, observation.lower, observation.upper, out=command)
        return command

    def _embedding(self, observation: Observation) -> np.ndarray:
        embedding = observation.goal_embedding
        if embedding.shape[1] != self.weights.embedding_dim:
            return self._no_text  # no encoder configured: the text-free conditioning
        return embedding.astype(np.float32, copy=False)

    def _activate(self, layer: int, z: np.ndarray, embedding: np.ndarray) -> np.ndarray:
        """FiLM (when the weights have it) and ReLU, in place."""
        if self._film and self.weights.embedding_dim > 0:
            gw, gb, bw, bb = self._film[layer]
            z *= 1.0 + embedding @ gw + gb
            z += embedding @ bw + bb
        np.maximum(z, 0.0, out=z)
        return z


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
