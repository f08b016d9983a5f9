"""Stage 0 of `train-policy`: the manner words' embedding table and the tempo head on it
(`MannerModel`), from a frozen language model.

- Words: every word the agent language takes as manner (`manner_vocabulary`: its style words
  and the English adverbs of manner, ~430), each embedded in one sentence (`TEMPLATE`) by a
  causal LM (the embedded SmolLM2 by default; any local transformers model), hidden states
  mean-pooled over the sentence at one layer. Put in a sentence, an adverb reads as a way of
  moving; on its own, a sentence encoder puts 'leisurely' near 'lively'.
- Reduction: the hidden dims z-scored over the vocabulary, then its principal components,
  scaled to unit RMS norm per word: a small, centred table (the mean word is 0, 'no manner').
- Tempo head: ridge regression without intercept from a word's row to log(speed fraction /
  default), on the training words `TRAIN_MANNER` only, whose labels are the speed fractions
  of their style in robot.yaml.
- Layer, components and ridge are chosen by leave-one-word-out error on the training words:
  the held-out words of eval-policy play no part in any choice.
Runs in ~20-40 s on 2 cores with SmolLM2 (one batched forward pass over the vocabulary).
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..core.control.manner import MannerModel, fit_tempo, manner_vocabulary
from ..core.errors import ConfigError
from ..core.robot.model import RobotModel
from ..core.sim.multi_agent_env import TRAIN_MANNER

TEMPLATE = "Move the joint to the target {word}."
LAYER_SHARES = (0.33, 0.5, 0.67, 0.83, 1.0)  # candidate layers, as shares of the model's depth
DIMS = (8, 16, 32)
RIDGES = (0.3, 1.0, 3.0, 10.0, 30.0)
BATCH = 64


@dataclass(frozen=True)
class MannerChoice:
    """What leave-one-word-out chose, and its error (log speed ratio, RMS)."""

    layer: int
    dim: int
    ridge: float
    cv_rmse: float


def load_language_model(name: str, threads: int) -> Any:
    """`smollm2` (the embedded planner model) or a transformers model directory."""
    from ..core.planning.llm.models import load_local, load_smollm2

    if name == "smollm2":
        return load_smollm2(device="cpu", dtype="float32", threads=threads)
    if not (Path(name).expanduser() / "config.json").is_file():
        raise ConfigError(
            f"--language-model {name}: not a transformers model folder (no config.json); "
            "give smollm2, none, or a folder saved with save_pretrained"
        )
    return load_local(name, device="cpu", dtype="float32", threads=threads)


def sentence_states(loaded: Any, words: Sequence[str]) -> np.ndarray:
    """(layers + 1, len(words), hidden) float32: each word's `TEMPLATE` sentence, mean-pooled
    over its tokens at every layer (index 0: the token embeddings)."""
    import torch

    tokenizer, model = loaded.tokenizer, loaded.model
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "right"
    batches = []
    with torch.inference_mode():
        for start in range(0, len(words), BATCH):
            sentences = [TEMPLATE.format(word=w) for w in words[start : start + BATCH]]
            encoded = tokenizer(sentences, return_tensors="pt", padding=True)
            out = model(**encoded.to(loaded.device), output_hidden_states=True)
            mask = encoded["attention_mask"].unsqueeze(-1).to(out.hidden_states[0].dtype)
            pooled = [(h * mask).sum(1) / mask.sum(1) for h in out.hidden_states]
            batches.append(torch.stack(pooled).float().cpu().numpy())
    return np.concatenate(batches, axis=1)


def reduce(states: np.ndarray, dim: int) -> np.ndarray:
    """(V, dim) float32: z-scored hidden dims, their first `dim` principal components, scaled
    so a word's row has unit RMS norm over the vocabulary."""
    x = states.astype(np.float64)
    x = (x - x.mean(axis=0)) / (x.std(axis=0) + 1e-6)
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    table = x @ vt[:dim].T
    table /= math.sqrt(float(np.mean(np.sum(table**2, axis=1)))) or 1.0
    return table.astype(np.float32)


def tempo_labels(robot: RobotModel) -> dict[str, float]:
    """log(speed fraction / default) of each training manner word, from robot.yaml."""
    speeds = robot.control.speed_fraction
    default = speeds["default"]
    return {word: math.log(speeds[style] / default) for word, style in TRAIN_MANNER.items()}


def leave_one_out_rmse(table: np.ndarray, rows: np.ndarray, y: np.ndarray, ridge: float) -> float:
    errors = []
    for i in range(len(rows)):
        keep = np.arange(len(rows)) != i
        w = fit_tempo(table[rows[keep]], y[keep], ridge)
        errors.append(float(table[rows[i]] @ w) - y[i])
    return math.sqrt(float(np.mean(np.square(errors))))


def choose(
    states: np.ndarray, rows: np.ndarray, y: np.ndarray, dims: Sequence[int] = DIMS
) -> MannerChoice:
    """The layer, components and ridge with the least leave-one-word-out error."""
    depth = states.shape[0] - 1
    layers = sorted({max(1, round(share * depth)) for share in LAYER_SHARES})
    best: MannerChoice | None = None
    for layer, dim in itertools.product(layers, dims):
        table = reduce(states[layer], min(dim, states.shape[2], states.shape[1]))
        for ridge in RIDGES:
            rmse = leave_one_out_rmse(table, rows, y, ridge)
            if best is None or rmse < best.cv_rmse:
                best = MannerChoice(layer, table.shape[1], ridge, rmse)
    assert best is not None
    return best


def build_manner(
    robot: RobotModel,
    language_model: str = "smollm2",
    threads: int = 2,
    progress: Callable[[str], None] = lambda line: None,
    dims: Sequence[int] = DIMS,
) -> tuple[MannerModel, dict[str, Any]]:
    """The manner model for `robot` and what was chosen and measured."""
    began = time.monotonic()
    words = manner_vocabulary()
    labels = tempo_labels(robot)
    missing = sorted(set(labels) - set(words))
    if missing:
        raise ConfigError(f"training manner words the agent language does not take: {missing}")
    progress(f"manner embedding: {len(words)} words through {language_model}")
    loaded = load_language_model(language_model, threads)
    states = sentence_states(loaded, words)
    row_of = {w: i for i, w in enumerate(words)}
    rows = np.array([row_of[w] for w in labels])
    y = np.array(list(labels.values()))
    picked = choose(states, rows, y, dims)
    table = reduce(states[picked.layer], picked.dim)
    speeds = robot.control.speed_fraction
    model = MannerModel(
        words=words,
        vectors=table,
        tempo_w=fit_tempo(table[rows], y, picked.ridge),
        default_fraction=float(speeds["default"]),
        fraction_range=(float(min(speeds.values())), float(max(speeds.values()))),
    )
    report = {
        "language_model": loaded.name,
        "words": len(words),
        "training_words": len(labels),
        "layer": picked.layer,
        "dim": picked.dim,
        "ridge": picked.ridge,
        "cv_rmse_log_ratio": round(picked.cv_rmse, 4),
        "seconds": round(time.monotonic() - began, 1),
    }
    progress(
        f"manner embedding: layer {picked.layer}, {picked.dim} dims, ridge {picked.ridge:g} "
        f"(leave-one-word-out RMS {picked.cv_rmse:.3f} in log speed) in {report['seconds']} s"
    )
    return model, report
