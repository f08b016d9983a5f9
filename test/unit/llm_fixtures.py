"""Tiny language models for planner tests: random weights from a config, and a byte-level BPE
tokenizer trained in-process on text in the plan language. No download, no hub, ~1 s to build."""

from __future__ import annotations

import functools
import random
from collections.abc import Sequence

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from llm_mas_ros.core.planning.llm.examples import Example
from llm_mas_ros.core.planning.llm.grammar import PLAN_UNITS
from llm_mas_ros.core.planning.llm.models import LoadedModel, prepare
from llm_mas_ros.core.robot.model import RobotModel, load_robot

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
CHATML = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}"
    "<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
# The numbers a plan may write for "forty five degrees": the value, its radians, and zero.
FORTY_FIVE_DEGREE_NUMBERS = {
    ("45", "deg"),
    ("0.785", "rad"),
    ("0", "deg"),
    ("0", "rad"),
    ("0", "mm"),
    ("0", "cm"),
    ("0", "m"),
}
INSTRUCTIONS = [
    "could you open the gripper and then bend the elbow to 30 degrees",
    "swing the base round to ninety degrees",
    "go to the ready pose, then close the hand slowly",
    "wave the wrist three times",
    "lift the shoulder by -10 degrees in 2 seconds",
    "open the claw by 2 cm",
    "turn the elbow to 0.5 rad and the base to 45 degrees at the same time",
    "tell me a joke",
]


@functools.cache
def robot() -> RobotModel:
    return load_robot()


def corpus(model: RobotModel) -> list[str]:
    """Lines of plan-language and instruction text, so BPE learns merges for names and words."""
    rng = random.Random(0)
    words = [
        *model.agent_names,
        *model.poses,
        "go to",
        "then",
        "open",
        "close",
        "hold",
        "wave",
        "times",
        "slowly",
        "gently",
        "quickly",
        "none",
        "to",
        "by",
        "in",
        "s",
    ]
    words += [unit for units in PLAN_UNITS.values() for unit in units]
    lines = list(INSTRUCTIONS)
    for _ in range(400):
        picked = rng.sample(words, 6)
        number = rng.choice(["0", "45", "-30", "0.785", "2", "12.5"])
        lines.append(f"{picked[0]} to {number} {' '.join(picked[1:])}, {picked[2]} then")
    return lines


def train_tokenizer(model: RobotModel, vocab_size: int = 600) -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer (like SmolLM2's) with ChatML special tokens and template."""
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(corpus(model), trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token="<|im_start|>",
        eos_token="<|im_end|>",
        unk_token="<|endoftext|>",
        pad_token="<|endoftext|>",
        chat_template=CHATML,
    )


@functools.cache
def tokenizer() -> PreTrainedTokenizerFast:
    return train_tokenizer(robot())


def tiny_model(seed: int = 0, extra_vocab: int = 7) -> LoadedModel:
    """A random-weight 2-layer Llama on the trained tokenizer, on CPU. `extra_vocab` pads the
    output layer past the tokenizer (as real models do), which the decoder must mask."""
    tok = tokenizer()
    config = LlamaConfig(
        vocab_size=len(tok) + extra_vocab,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=4096,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
        tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    return prepare(model, tok, "cpu", name=f"tiny-{seed}")


class FixedRetriever:
    """A Retriever returning the same examples for every instruction."""

    def __init__(self, examples: Sequence[Example]) -> None:
        self.examples = list(examples)

    def top_k(self, instruction: str, k: int) -> Sequence[Example]:
        return self.examples[:k]


EXAMPLES = FixedRetriever(
    [
        Example("open the hand", "gripper open"),
        Example("bend the forearm to 20 degrees slowly", "elbow to 20 deg slowly"),
        Example("go to the ready pose and then close the claw", "go to ready then gripper close"),
        Example(
            "turn the base to minus 30 degrees and open the gripper",
            "shoulder_pan to -30 deg, gripper open",
        ),
        Example("sing a song", "none"),
    ]
)
