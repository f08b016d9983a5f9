"""Retrieval of few-shot examples: MMR selection, the on-disk bank cache, clause-aware relevance,
the lexical fallback, and the real all-MiniLM-L6-v2 encoder (loaded once for the session)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pytest

from llm_mas_ros.core.errors import ConfigError
from llm_mas_ros.core.planning.llm.examples import Example, load_examples
from llm_mas_ros.core.planning.llm.retrieval import (
    EmbeddingRetriever,
    LexicalRetriever,
    MiniLMEncoder,
    TfidfEncoder,
    clauses,
    instruction_shape,
    minilm_model_dir,
    mmr_select,
    plan_shape,
)

BANK = [
    Example("open the gripper", "gripper open"),
    Example("Open the gripper!", "gripper open"),
    Example("open your hand", "gripper open"),
    Example("close the claw", "gripper close"),
    Example("turn the base to 45 degrees", "shoulder_pan to 45 deg"),
    Example("swing the turret round to ninety degrees", "shoulder_pan to 90 deg"),
    Example("bend the elbow to 60 degrees", "elbow to 60 deg"),
    Example(
        "open the gripper and then bend the elbow to 30 degrees",
        "gripper open then elbow to 30 deg",
    ),
    Example("go to ready", "go to ready"),
    Example("what is the weather", "none"),
]


class CountingEncoder:
    """TF-IDF vectors that count what they were asked to encode (a fake model)."""

    name = "counting-tfidf"

    def __init__(self, corpus: Sequence[str]) -> None:
        self.inner = TfidfEncoder(corpus)
        self.calls: list[list[str]] = []

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(list(texts))
        return self.inner.encode(texts)


@pytest.fixture(scope="session")
def minilm() -> MiniLMEncoder:
    """The real sentence encoder (its weights load once per process, ~1-3 s)."""
    encoder = MiniLMEncoder()
    encoder.load()
    return encoder


@pytest.fixture(scope="module")
def bank() -> list[Example]:
    return load_examples("planner_examples.yaml")


@pytest.fixture(scope="module")
def bank_retriever(minilm, bank, tmp_path_factory) -> EmbeddingRetriever:
    """The real bank behind the real encoder, its embeddings cached in a temporary folder."""
    return EmbeddingRetriever(bank, minilm, cache_dir=tmp_path_factory.mktemp("retrieval"))


def _encoder() -> CountingEncoder:
    return CountingEncoder([e.instruction for e in BANK])


# --- MMR ----------------------------------------------------------------------------------------


def test_mmr_prefers_relevance_but_skips_near_duplicates():
    vectors = np.array([[1.0, 0.0], [1.0, 0.0], [0.8, 0.6], [0.0, 1.0]], dtype=np.float32)
    relevance = np.array([0.9, 0.9, 0.8, 0.1], dtype=np.float32)
    picks = mmr_select(relevance, vectors @ vectors.T, k=2)
    assert picks == [0, 2]  # item 1 is an exact copy of item 0


def test_mmr_falls_back_to_duplicates_when_nothing_else_is_left():
    vectors = np.ones((3, 2), dtype=np.float32) / np.sqrt(2.0)
    assert sorted(mmr_select(np.ones(3, np.float32), vectors @ vectors.T, k=3)) == [0, 1, 2]


@pytest.mark.parametrize("k", [0, -1])
def test_mmr_with_nothing_to_pick_returns_nothing(k):
    assert mmr_select(np.ones(2, np.float32), np.eye(2, dtype=np.float32), k) == []


def test_mmr_picks_the_forced_first_item_first():
    relevance = np.array([0.9, 0.1, 0.5], dtype=np.float32)
    assert mmr_select(relevance, np.eye(3, dtype=np.float32), k=2, first=1) == [1, 0]


# --- retriever over a fake encoder --------------------------------------------------------------


def test_top_k_returns_k_examples_most_relevant_first_and_no_near_copies(tmp_path):
    retriever = EmbeddingRetriever(BANK, _encoder(), cache_dir=tmp_path)
    picked = retriever.scored("open the gripper", 3)
    assert picked[0][0] == BANK[0]
    assert [score for _, score in picked] == sorted((s for _, s in picked), reverse=True)
    assert BANK[1] not in [example for example, _ in picked]  # a near-copy of the first
    assert len(retriever.top_k("open the gripper", 50)) == len(BANK)
    assert retriever.top_k("open the gripper", 0) == []


def test_bank_embeddings_are_cached_on_disk_and_reused(tmp_path):
    first = _encoder()
    EmbeddingRetriever(BANK, first, cache_dir=tmp_path)
    assert first.calls == [[e.instruction for e in BANK]]
    again = _encoder()
    retriever = EmbeddingRetriever(BANK, again, cache_dir=tmp_path)
    assert again.calls == []  # the bank came from the cache
    assert retriever.cache_file is not None and retriever.cache_file.is_file()
    retriever.top_k("close the claw", 2)
    assert again.calls == [["close the claw"]]


def test_a_changed_bank_gets_new_embeddings(tmp_path):
    first = EmbeddingRetriever(BANK, _encoder(), cache_dir=tmp_path)
    changed = [*BANK[:-1], Example("tell me a joke", "none")]
    encoder = _encoder()
    second = EmbeddingRetriever(changed, encoder, cache_dir=tmp_path)
    assert second.cache_file != first.cache_file
    assert len(encoder.calls) == 1


def test_an_unreadable_cache_file_is_recomputed(tmp_path):
    retriever = EmbeddingRetriever(BANK, _encoder(), cache_dir=tmp_path)
    assert retriever.cache_file is not None
    retriever.cache_file.write_bytes(b"not a numpy file")
    encoder = _encoder()
    again = EmbeddingRetriever(BANK, encoder, cache_dir=tmp_path)
    assert len(encoder.calls) == 1
    np.testing.assert_allclose(again.vectors, retriever.vectors)


def test_an_unwritable_cache_only_costs_an_encode(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache folder should be")
    encoder = _encoder()
    retriever = EmbeddingRetriever(BANK, encoder, cache_dir=blocker / "cache")
    assert retriever.top_k("open your hand", 1)[0].plan == "gripper open"


def test_an_empty_bank_is_a_config_error():
    with pytest.raises(ConfigError, match="empty"):
        EmbeddingRetriever([], _encoder(), cache=False)


def test_retrieval_latency_is_measured(tmp_path):
    ticks = iter([1.0, 1.25])
    retriever = EmbeddingRetriever(BANK, _encoder(), cache_dir=tmp_path, clock=lambda: next(ticks))
    retriever.top_k("open the gripper", 2)
    assert retriever.last_embed_ms == pytest.approx(250.0)


# --- compound instructions ----------------------------------------------------------------------


def test_compound_instructions_split_into_clauses():
    assert clauses("could you open your hand and then swing the base to 90 degrees") == [
        "could you open your hand",
        "swing the base to 90 degrees",
    ]
    assert clauses("open the gripper") == []
    assert instruction_shape("open your hand and then turn the base to 90 degrees") == (2, 1)
    assert instruction_shape("open the hand while turning the base to 90 degrees") == (1, 2)
    assert plan_shape("gripper open then go to ready, shoulder_pan to 3 deg") == (2, 2)
    assert plan_shape("none") == (0, 0)


def test_a_compound_instruction_gets_a_composed_example_then_its_shape_and_its_clauses():
    retriever = LexicalRetriever(BANK)
    picked = retriever.top_k("close the claw and then turn the base to 10 degrees", 4)
    assert picked[0] == Example(
        "close the claw, then turn the base to 45 degrees",
        "gripper close then shoulder_pan to 45 deg",
    )
    plans = [example.plan for example in picked[1:]]
    assert "gripper open then elbow to 30 deg" in plans  # two steps, like the instruction
    assert "gripper close" in plans
    assert any(plan.startswith("shoulder_pan") for plan in plans)
    assert len(picked) == 4


def test_goals_of_one_step_compose_with_a_comma_and_never_clash():
    retriever = LexicalRetriever(BANK)
    together = retriever.top_k("close the claw while you turn the base to 10 degrees", 2)
    assert together[0].plan == "gripper close, shoulder_pan to 45 deg"
    clash = retriever.top_k("turn the base to 10 degrees and turn the base to 45 degrees", 2)
    assert all(", shoulder_pan" not in example.plan for example in clash)


def test_a_clause_that_asks_for_nothing_adds_nothing_to_a_composed_plan():
    retriever = LexicalRetriever(BANK)
    picked = retriever.top_k("what is the weather then close the claw", 2)
    assert picked[0] == Example("what is the weather, then close the claw", "gripper close")


def test_lexical_retriever_needs_no_model(bank):
    picked = LexicalRetriever(bank).top_k("please open your hand", 4)
    assert picked[0].plan == "gripper open"


# --- the real encoder ---------------------------------------------------------------------------


def test_the_model_ships_in_its_package():
    folder = minilm_model_dir()
    assert (folder / "config.json").is_file() and (folder / "tokenizer.json").is_file()


def test_minilm_gives_unit_vectors_that_capture_meaning(minilm):
    vectors = minilm.encode(
        [
            "rotate the waist to ninety degrees",
            "swing the turret round to 90 degrees",
            "open the gripper",
        ]
    )
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    similarity = vectors @ vectors.T
    assert similarity[0, 1] > similarity[0, 2] + 0.2
    assert minilm.encode([]).shape == (0, 384)


def test_minilm_retrieval_over_the_bank_finds_paraphrases(bank_retriever):
    retriever = bank_retriever
    cases = {
        "could you let go of the part": "gripper open",
        "send the arm to its transport position": "go to stow",
        "what is the capital of France": "none",
    }
    for instruction, plan in cases.items():
        assert plan in [e.plan for e in retriever.top_k(instruction, 4)], instruction


def test_minilm_retrieval_times_each_instructions_encoder_call(bank_retriever):
    """Each top-k call times its own encoder call. How long that takes is a benchmark figure
    (benchmarks/planner_bench.py: 'Retrieval ... embedding p50 / p90'), not a test bound."""
    retriever = bank_retriever
    instructions = [
        "turn the base left by 20 degrees",
        "open the claw and then go home",
        "could you release the part, please?",
    ]
    for instruction in instructions:
        retriever.last_embed_ms = math.nan
        assert len(retriever.top_k(instruction, 6)) == 6, instruction
        assert 0.0 < retriever.last_embed_ms < math.inf, instruction
