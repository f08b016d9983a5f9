"""A learned, language-conditioned policy: one parameter-shared MLP for every joint agent.

Inputs per agent (one row of `Observation`, turned into `FEATURE_NAMES` by
`observation_features`): the joint state, the planned segment, its minimum-jerk phase and the
classical controller's command and velocity on it, the goal's numeric slots and skill, a one-hot
of the agent's type (its name in the weights' `type_names`), and the text embedding of the
goal's manner words (`manner.MannerModel`, which the weights carry), which conditions every
hidden layer by FiLM (h <- (1 + g(e)) h + b(e)). The style the parser read is no input: the
policy knows how to move only from the words' embedding, whose tempo head also times the
motion (the agent plans the segment at `MannerModel.speed_fraction`).

Output: the next command as a residual on the classical controller's command `base`,
    command = base + output_scale * half_range * y            (`command_from_output`),
applied only while a segment is under way, so y = 0 is the classical minimum-jerk controller
and a holding joint gets exactly the classical command: the network learns only what that
controller misses (the servo's lag behind a moving profile, coupling), rests exactly on its
target by construction, and a small y can never jump the joint. The same scale serves revolute
(rad) and prismatic (m) joints.

The weights file names the features it was trained on (`feature_names`); loading aligns them by
name, so a feature this code adds later (a new skill code) reads as "never seen" (a zero row)
rather than breaking old weights, and a feature the weights need that this code no longer makes
is a clear error.

Inference (`LearnedPolicy.act`, `forward`) is numpy only: the agents process never imports
torch. Training (`torch_model`, `export_weights`, `torch_model_from`) imports torch when called.
Units: rad or m, s; features are dimensionless (positions as shares of the joint's half range).
"""

from __future__ import annotations

import dataclasses
import importlib
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from ..errors import ConfigError
from .manner import MannerModel
from .policies import (
    SKILL_CODES,
    MinimumJerkPolicy,
    Observation,
    clip_into,
    minimum_jerk_fraction,
    minimum_jerk_rate,
)

# Columns of `observation_features`, then one column per agent type (`type_names`).
STATE_FEATURES = (  # the first SCALED_FEATURES are shares of the half range
    "position",  # (p - mid) / half: -1 at the lower limit, +1 at the upper
    "velocity",  # v / half (1/s)
    "error_to_goal",  # (goal target - p) / half
    "error_to_segment",  # (segment target - p) / half
    "segment_distance",  # (segment target - segment start) / half
    "reference_error",  # (classical command - p) / half: how far the joint lags the profile
    "reference_velocity",  # the profile's velocity / half (1/s), 0 when holding
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
)
FEATURE_NAMES = STATE_FEATURES + GOAL_FEATURES
SCALED_FEATURES = 7  # STATE_FEATURES[:7] are divided by the joint's half range


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


def reference(observation: Observation) -> tuple[np.ndarray, np.ndarray]:
    """The classical controller's command (rad or m) and its profile's velocity (per s)."""
    obs = observation
    duration = obs.duration_s
    phase = np.divide(obs.elapsed_s, duration, out=np.ones_like(duration), where=duration > 0.0)
    rate = np.divide(
        minimum_jerk_rate(phase), duration, out=np.zeros_like(duration), where=duration > 0.0
    )
    return MinimumJerkPolicy().act(obs), (obs.segment_target - obs.segment_start) * rate


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
    base, base_velocity = reference(obs)
    given = np.isfinite(obs.goal_skill)
    target = np.where(np.isfinite(obs.goal_target), obs.goal_target, obs.segment_target)
    out = np.zeros((count, feature_count(type_count)), dtype=np.float32)
    columns = [
        (obs.position - mid) / half,
        obs.velocity / half,
        (target - obs.position) / half,
        (obs.segment_target - obs.position) / half,
        (obs.segment_target - obs.segment_start) / half,
        (base - obs.position) / half,
        base_velocity / half,
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
    type_at = len(FEATURE_NAMES)
    skill = np.nan_to_num(obs.goal_skill, nan=-1.0).astype(np.int64)
    out[rows[skill >= 0], skill_at + skill[skill >= 0]] = 1.0
    out[rows[types >= 0], type_at + types[types >= 0]] = 1.0
    return out


def moving(observation: Observation) -> np.ndarray:
    """Rows whose segment is under way (0 < elapsed < duration): where the residual acts."""
    obs = observation
    return np.asarray((obs.elapsed_s > 0.0) & (obs.elapsed_s < obs.duration_s))


def command_from_output(
    y: np.ndarray,
    base: np.ndarray,
    half: np.ndarray,
    output_scale: float,
    lower: np.ndarray,
    upper: np.ndarray,
    active: np.ndarray,
) -> np.ndarray:
    """The command (rad or m) for the network's output y: a residual on `base`, the classical
    command, of `output_scale` half ranges per unit of y, only on `active` rows (`moving`: a
    joint holding, or at the end of its segment, gets exactly the classical command, so it
    rests exactly on its target whatever the network's bias), saturated at the URDF limits (a
    bounded action, as the env's action space is: a residual that leans past a limit the
    classical command sits on, an open gripper, must not read as a fault). What the guard
    still judges is what these cannot fix: NaN and jumps."""
    command: np.ndarray = np.clip(base + active * (output_scale * half * y), lower, upper)
    return command


@dataclass(frozen=True)
class PolicyWeights:
    """The trained network: `hidden[i]` = (W (in, out), b (out,)), FiLM `film[i]` = (Wg, bg,
    Wb, bb) from the embedding (E, out) per hidden layer (empty when embedding_dim is 0), and
    the output layer (W (H, 1), b (1,)); all float32. `manner` embeds the goals' manner words
    (its dim is embedding_dim) and times them; None: the weights read no text."""

    type_names: tuple[str, ...]
    embedding_dim: int
    output_scale: float
    hidden: tuple[tuple[np.ndarray, np.ndarray], ...]
    film: tuple[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray], ...]
    output: tuple[np.ndarray, np.ndarray]
    manner: MannerModel | None = None

    @property
    def feature_count(self) -> int:
        return feature_count(len(self.type_names))

    def save(self, path: str | Path | BinaryIO) -> None:
        """A small .npz (no pickle): loadable by `load` with numpy alone."""
        arrays: dict[str, np.ndarray] = {
            "feature_names": np.array(FEATURE_NAMES, dtype=np.str_),
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
        if self.manner is not None:
            arrays.update(self.manner.arrays())
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
                manner=MannerModel.from_arrays(arrays),
            )
            first = _aligned_first_layer(arrays, path)
        except KeyError as error:
            raise ConfigError(f"policy weights {path} lack {error}") from error
        return dataclasses.replace(weights, hidden=((first, hidden[0][1]), *hidden[1:]))


def _aligned_first_layer(arrays: dict[str, np.ndarray], path: str | Path) -> np.ndarray:
    """The first layer's weights with one row per feature of THIS code (`FEATURE_NAMES`, then
    the agent types): a feature the file was not trained on gets a zero row ('never seen')."""
    trained = [str(n) for n in arrays["feature_names"]]
    first = arrays["hidden0_w"].astype(np.float32)
    types = len(arrays["type_names"])
    if first.shape[0] != len(trained) + types:
        raise ConfigError(
            f"policy weights {path}: {first.shape[0]} input rows for "
            f"{len(trained)} features and {types} agent types"
        )
    gone = sorted(set(trained) - set(FEATURE_NAMES))
    if gone:
        raise ConfigError(
            f"policy weights {path} need features this code no longer makes: "
            f"{', '.join(gone)}; retrain them (llm-mas-ros train-policy)"
        )
    row_of = {name: row for row, name in enumerate(trained)}
    aligned = np.zeros((feature_count(types), first.shape[1]), dtype=np.float32)
    for row, name in enumerate(FEATURE_NAMES):
        if name in row_of:
            aligned[row] = first[row_of[name]]
    aligned[len(FEATURE_NAMES) :] = first[len(trained) :]
    return aligned


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


# The first TICK_FEATURES columns of `observation_features` change every tick, the rest only
# with the goal.
TICK_FEATURES = len(STATE_FEATURES)


class LearnedPolicy:
    """The `Policy` of a trained network for the agents `agent_names` (the observation's rows),
    one numpy forward pass for all of them per tick.

    `command` is the control-rate path: the same function as `forward(observation_features)`
    (a test checks), in float64 into arrays allocated once. What depends on the goal alone (the
    goal slots, skill and agent type one-hots, the FiLM scales of the embedding) is
    folded into per-row first-layer biases and FiLM terms, recomputed only when the
    observation's `goal_version` changes; a tick computes the 11 state features, 3 matrix
    products and the residual."""

    name = "learned"

    def __init__(self, weights: PolicyWeights, agent_names: Sequence[str]) -> None:
        self.weights = weights
        self.types = type_rows(agent_names, weights.type_names)
        self.classical = MinimumJerkPolicy()
        count = len(agent_names)
        self._no_text = np.zeros((count, weights.embedding_dim), dtype=np.float32)
        f64 = np.float64
        layers = [(w.astype(f64), b.astype(f64)) for w, b in weights.hidden]
        self._first_w, self._first_b = layers[0]
        self._layers = layers[1:]
        self._film_weights = [tuple(a.astype(f64) for a in film) for film in weights.film]
        self._conditioned = weights.embedding_dim > 0 and bool(weights.film)
        self._tick_w = np.ascontiguousarray(self._first_w[:TICK_FEATURES])
        self._out_w = weights.output[0].astype(f64)
        self._out_b = float(weights.output[1][0])
        widths = [w.shape[1] for w, _ in layers]
        # Per-row terms of the goal, refreshed when the goal changes (see _refresh_goal): each
        # layer's FiLM scale, and its bias with the goal's share and the FiLM shift folded in,
        # so a tick computes z = (h W) * gamma + bias: one multiply and one add per layer.
        self._gamma = [np.ones((count, width)) for width in widths]
        self._bias = [np.zeros((count, width)) for width in widths]
        self._goal_version = -1
        self._x = np.zeros((TICK_FEATURES, count))
        self._z = [np.zeros((count, width)) for width in widths]
        self._y = np.zeros((count, 1))
        self._command = np.zeros(count)
        self.base = np.zeros(count)  # the classical command of the last `command`'s input
        self._cube = np.zeros(count)
        self._target = np.zeros(count)
        self._mask = np.zeros(count, dtype=bool)  # duration > 0 (the segment is timed)
        self._started = np.zeros(count, dtype=bool)  # scratch: elapsed > 0
        self._goal_given = np.zeros(count, dtype=bool)  # the goal names a target (per goal)
        self._active = np.zeros(count, dtype=bool)
        self._limits: np.ndarray | None = None
        self._goal_of: Observation | None = None
        self._mid = self._half = self._inv_half = self._step = np.zeros(count)

    def raw(self, observation: Observation) -> np.ndarray:
        """The network's output y (N,) before it becomes a command (the reference path)."""
        features = observation_features(observation, self.types, len(self.weights.type_names))
        return forward(self.weights, features, self._embedding(observation))

    def command(self, observation: Observation) -> np.ndarray:
        """The next command (N,) as the network gives it, saturated at the limits
        (`command_from_output`; a guard judges the rest); an array reused by the next call.
        `base` then holds the classical command of the same observation (computed along with
        the features, which share its phase and profile), equal to `MinimumJerkPolicy.act`.
        When no row moves, the residual is off on every row (`moving`): the network is not
        run and `base` itself is returned, so a holding arm costs a learned agent about what
        it costs a classical one."""
        o, x = observation, self._x
        if self._limits is not o.lower:  # the group's limits: the same array every tick
            self._mid, self._half = joint_scale(o.lower, o.upper)
            self._inv_half, self._limits = 1.0 / self._half, o.lower
            self._step = self.weights.output_scale * self._half
        if self._goal_version != o.goal_version or self._goal_of is not o:
            self._refresh_goal(o)
        if not self._profile(o, x):
            return self.base  # every row holds: the residual is off, the classical command
        self._state_features(o, x)
        z = self._z[0]
        np.matmul(x.T, self._tick_w, out=z)
        h = self._activate(0, z)
        for i, (w, _) in enumerate(self._layers, 1):
            z = self._z[i]
            np.matmul(h, w, out=z)
            h = self._activate(i, z)
        np.matmul(h, self._out_w, out=self._y)
        command = self._command
        np.add(self._y[:, 0], self._out_b, out=command)
        command *= self._step
        command *= self._active  # only while the segment is under way (set by _profile)
        command += self.base
        clip_into(command, o.lower, o.upper)  # see command_from_output
        return command

    def _profile(self, o: Observation, x: np.ndarray) -> bool:
        """The tick's profile: segment distance x[4], phase x[7], profile x[8] and time left
        x[9] (unscaled), the classical command into `base`, and which rows move (`_active`:
        0 < elapsed < duration, `moving`); True when any row moves. With as few numpy calls
        as they allow (each costs ~0.5-1 us at this size): the profile is
        `minimum_jerk_fraction`'s very sequence of operations, so `base` is bit for bit the
        classical command."""
        timed, cube, base = self._mask, self._cube, self.base
        np.subtract(o.segment_target, o.segment_start, out=x[4])
        phase, profile = x[7], x[8]
        phase.fill(1.0)
        np.divide(
            o.elapsed_s, o.duration_s, out=phase, where=np.greater(o.duration_s, 0.0, out=timed)
        )
        clip_into(phase, 0.0, 1.0)
        np.multiply(phase, 6.0, out=profile)  # s s s (10 + s (-15 + 6 s))
        profile += -15.0
        profile *= phase
        profile += 10.0
        np.multiply(phase, phase, out=cube)
        cube *= phase
        np.multiply(cube, profile, out=profile)
        np.multiply(x[4], profile, out=base)  # start + distance x fraction, within the limits
        base += o.segment_start
        clip_into(base, o.lower, o.upper)
        np.subtract(o.duration_s, o.elapsed_s, out=x[9])
        np.greater(x[9], 0.0, out=self._active)  # elapsed < duration, and 0 < elapsed
        np.logical_and(
            self._active, np.greater(o.elapsed_s, 0.0, out=self._started), out=self._active
        )
        return bool(self._active.any())

    def _state_features(self, o: Observation, x: np.ndarray) -> None:
        """The rest of STATE_FEATURES into x (after `_profile`), positions scaled by the half
        range."""
        target, phase, rate = self._target, x[7], x[6]
        np.copyto(target, o.segment_target)
        np.copyto(target, o.goal_target, where=self._goal_given)
        np.subtract(o.position, self._mid, out=x[0])
        np.copyto(x[1], o.velocity)
        np.subtract(target, o.position, out=x[2])
        np.subtract(o.segment_target, o.position, out=x[3])
        np.subtract(self.base, o.position, out=x[5])
        np.subtract(1.0, phase, out=rate)  # 30 s^2 (1 - s)^2 * distance / duration
        rate *= phase
        np.square(rate, out=rate)
        rate *= x[4]
        np.divide(rate, o.duration_s, out=rate, where=self._mask)
        rate *= 30.0
        np.maximum(x[9], 0.0, out=x[9])
        np.copyto(x[10], o.duration_s)
        x[:SCALED_FEATURES] *= self._inv_half

    def _refresh_goal(self, o: Observation) -> None:
        """Per row, from the reference features of this observation: the goal's share of the
        first layer (its numeric slots and skill, the agent type), each layer's FiLM terms
        (gamma, beta) of the embedding, and the folded bias gamma * (goal share + b) + beta."""
        np.isfinite(o.goal_target, out=self._goal_given)
        features = observation_features(o, self.types, len(self.weights.type_names))
        goal = features[:, TICK_FEATURES:].astype(np.float64)
        first = self._bias[0]
        np.matmul(goal, self._first_w[TICK_FEATURES:], out=first)
        first += self._first_b
        for i, (_, b) in enumerate(self._layers, 1):
            self._bias[i][:] = b
        if self._conditioned:
            embedding = self._embedding(o).astype(np.float64)
            for i, (gw, gb, bw, bb) in enumerate(self._film_weights):
                np.add(1.0, embedding @ gw + gb, out=self._gamma[i])
                self._bias[i] *= self._gamma[i]
                self._bias[i] += embedding @ bw + bb
        self._goal_version, self._goal_of = o.goal_version, o

    def act(self, observation: Observation) -> np.ndarray:
        return self.command(observation)

    def _embedding(self, observation: Observation) -> np.ndarray:
        embedding = observation.goal_embedding
        if embedding.shape[1] != self.weights.embedding_dim:
            return self._no_text  # no encoder configured: the text-free conditioning
        return embedding.astype(np.float32, copy=False)

    def _activate(self, layer: int, z: np.ndarray) -> np.ndarray:
        """z = (h W) -> FiLM-scaled (when the weights have it), the folded bias, ReLU; in
        place."""
        if self._conditioned:
            z *= self._gamma[layer]
        z += self._bias[layer]
        np.maximum(z, 0.0, out=z)
        return z


def residual_target(
    command: np.ndarray, base: np.ndarray, lower: np.ndarray, upper: np.ndarray, scale: float
) -> np.ndarray:
    """The y that `command_from_output` turns into `command` on the classical command `base`
    (the behaviour-cloning label)."""
    _, half = joint_scale(lower, upper)
    target: np.ndarray = (command - base) / (scale * half)
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


def torch_model_from(weights: PolicyWeights) -> Any:
    """A `torch_model` module holding `weights` (float32, eval mode): the inverse of
    `export_weights`, to fine-tune trained weights or to step them in torch."""
    torch = _torch()
    hidden = [w.shape[1] for w, _ in weights.hidden]
    model = torch_model(
        weights.type_names, weights.embedding_dim, hidden, output_scale=weights.output_scale
    )

    def load(layer: Any, w: np.ndarray, b: np.ndarray) -> None:
        layer.weight.copy_(torch.from_numpy(np.ascontiguousarray(w.T)))
        layer.bias.copy_(torch.from_numpy(b))

    with torch.no_grad():
        for layer, (w, b) in zip(model.hidden, weights.hidden, strict=True):
            load(layer, w, b)
        for i, (gw, gb, bw, bb) in enumerate(weights.film):
            load(model.gamma[i], gw, gb)
            load(model.beta[i], bw, bb)
        load(model.output, *weights.output)
    return model.eval()
