"""What a learned policy reads from a goal's manner words ('hastily', 'at a leisurely pace'):
a text embedding, and the tempo it implies.

The embedding of a word is a frozen language model's hidden state for the word in a sentence,
reduced to a few principal components (`llm_mas_ros.training.manner_embedding` builds the table
at training time, for every word the agent language takes as manner), so the agents process
looks words up in numpy and never loads a language model; a goal's embedding is the mean of
its manner words' rows, computed once per goal. The table is centred on the vocabulary's mean,
so a goal with no manner words, and an ablated (zeroed) embedding, both read as "no manner".

The tempo head is linear in the embedding: speed fraction = default * exp(w . e), clipped to
the range the robot's style words span, so a goal with no manner (e = 0) moves at the default
speed and only the words move it off. Units: speed fractions are shares of the joint's URDF
velocity limit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..language.agent_language import STYLE_WORDS, is_manner_word
from ..language.english import english_words

MAX_CACHED_MANNERS = 1024  # distinct manner phrases whose embedding a process keeps


@dataclass(frozen=True, eq=False)  # arrays inside: compared and hashed by identity
class MannerModel:
    """The manner words' embedding table (`vectors` (V, E) float32, one row per `words`), the
    tempo head (`tempo_w` (E,)) and the speed fractions it maps to."""

    words: tuple[str, ...]
    vectors: np.ndarray
    tempo_w: np.ndarray
    default_fraction: float
    fraction_range: tuple[float, float]

    def __post_init__(self) -> None:
        object.__setattr__(self, "_row", {word: i for i, word in enumerate(self.words)})
        object.__setattr__(self, "_cache", {})

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def encode(self, manner: str) -> np.ndarray:
        """The embedding (E,) float32 of a goal's manner words (`Subgoal.manner`): the mean of
        their rows, zeros for none or for words the table lacks. Cached: call it per goal."""
        cache: dict[str, np.ndarray] = self._cache  # type: ignore[attr-defined]
        found = cache.get(manner)
        if found is None:
            row_of: dict[str, int] = self._row  # type: ignore[attr-defined]
            rows = [row_of[w] for w in manner.split() if w in row_of]
            found = (
                self.vectors[rows].mean(axis=0).astype(np.float32)
                if rows
                else np.zeros(self.dim, dtype=np.float32)
            )
            if len(cache) < MAX_CACHED_MANNERS:
                cache[manner] = found
        return found

    def speed_fraction(self, embedding: np.ndarray) -> float:
        """The tempo the embedding asks for, as a share of the velocity limit."""
        log_ratio = float(np.dot(self.tempo_w, embedding))
        low, high = self.fraction_range
        return min(max(self.default_fraction * math.exp(log_ratio), low), high)

    def arrays(self, prefix: str = "manner_") -> dict[str, np.ndarray]:
        """The model as named arrays (no pickle), for a weights file."""
        return {
            f"{prefix}words": np.array(self.words, dtype=np.str_),
            f"{prefix}vectors": self.vectors.astype(np.float16),  # ample for a mean and a dot
            f"{prefix}tempo_w": self.tempo_w.astype(np.float32),
            f"{prefix}default_fraction": np.array(self.default_fraction),
            f"{prefix}fraction_range": np.array(self.fraction_range),
        }

    @classmethod
    def from_arrays(
        cls, arrays: dict[str, np.ndarray], prefix: str = "manner_"
    ) -> MannerModel | None:
        """The model saved by `arrays`, or None when the file has none."""
        if f"{prefix}words" not in arrays:
            return None
        low, high = (float(v) for v in arrays[f"{prefix}fraction_range"])
        return cls(
            words=tuple(str(w) for w in arrays[f"{prefix}words"]),
            vectors=arrays[f"{prefix}vectors"].astype(np.float32),
            tempo_w=arrays[f"{prefix}tempo_w"].astype(np.float32),
            default_fraction=float(arrays[f"{prefix}default_fraction"]),
            fraction_range=(low, high),
        )


class AblatedManner:
    """A `MannerModel` whose every embedding is zero: the words are not read (the ablation
    that shows they matter); tempo and conditioning fall to 'no manner'."""

    def __init__(self, model: MannerModel) -> None:
        self.model = model
        self.dim = model.dim
        self._zero = np.zeros(model.dim, dtype=np.float32)

    def encode(self, manner: str) -> np.ndarray:
        return self._zero

    def speed_fraction(self, embedding: np.ndarray) -> float:
        return self.model.speed_fraction(embedding)


def fit_tempo(embeddings: np.ndarray, log_ratios: np.ndarray, ridge: float) -> np.ndarray:
    """Ridge regression without intercept (e = 0 must mean the default tempo): w minimising
    |E w - y|^2 + ridge |w|^2, for embeddings E (n, E) and log(fraction / default) y (n,)."""
    e = embeddings.astype(np.float64)
    gram = e.T @ e + ridge * np.eye(e.shape[1])
    w: np.ndarray = np.linalg.solve(gram, e.T @ log_ratios.astype(np.float64))
    return w.astype(np.float32)


def manner_vocabulary() -> tuple[str, ...]:
    """Every word the agent language takes as manner (its style words and the English adverbs
    of manner), sorted: the rows of a table."""
    words = {w for w in english_words() if is_manner_word(w)}
    return tuple(sorted(words | set(STYLE_WORDS)))
