"""Which frozen model embeds the manner words best: all-MiniLM-L6-v2 (a sentence encoder)
against SmolLM2-135M (the embedded planner model), under train-policy's own protocol
(`manner_embedding.choose`: each word in TEMPLATE, hidden states mean-pooled, every layer and
table size tried, leave-one-word-out error of the tempo head over the training words).
Prints the chosen layer, size and ridge and the error (RMS, log speed ratio) of each, and
that of a head that calls every word the default speed.

    .venv/bin/python benchmarks/manner_encoder_bench.py
"""

from __future__ import annotations

import types

import numpy as np
import torch

from llm_mas_ros.core.control.manner import manner_vocabulary
from llm_mas_ros.core.planning.llm.retrieval import _load_model, minilm_model_dir
from llm_mas_ros.core.robot.model import load_robot
from llm_mas_ros.training import manner_embedding as M


def main() -> int:
    words = manner_vocabulary()
    labels = M.tempo_labels(load_robot())
    row_of = {w: i for i, w in enumerate(words)}
    rows = np.array([row_of[w] for w in labels])
    y = np.array(list(labels.values()))
    tokenizer, model = _load_model(minilm_model_dir())
    minilm = types.SimpleNamespace(tokenizer=tokenizer, model=model, device=torch.device("cpu"))
    for name, loaded in (
        ("all-MiniLM-L6-v2", minilm),
        ("smollm2", M.load_language_model("smollm2", 2)),
    ):
        print(name, M.choose(M.sentence_states(loaded, words), rows, y))
    print(f"every word the default speed: RMS {float(np.sqrt(np.mean(y**2))):.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
