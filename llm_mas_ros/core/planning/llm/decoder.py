"""Grammar-constrained greedy decoding with jump-forward tokens, a reused prompt-prefix KV cache,
and streaming of completed plan steps.

Why a decode loop of our own rather than `generate()`:
  * the grammar mask (xgrammar) is applied to every step's logits, so every output parses;
  * tokens the grammar forces are appended without a model call ("jump-forward"); they are fed
    to the model together with the next call, so a forced run costs one batched forward pass;
  * the system prompt is the same for every instruction: its KV cache is computed once and
    copied per instruction, so only the examples and the instruction are encoded;
  * each step of the plan is handed on as soon as its separator (or the end) is certain, so
    the first step can move the robot while the rest is still being decoded.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...errors import ModelError, PlanError

DEFAULT_MAX_NEW_TOKENS = 192
FINISH_RESERVE_TOKENS = 48  # past (max - reserve), a plan ends at the first point it may end
SUBSET_LOGITS_MAX = 4096  # above this many allowed tokens the full output layer is cheaper


@dataclass
class DecodeStats:
    """What one decode did, for benchmarks: calls, tokens and times (ms from its start)."""

    prompt_tokens: int = 0
    reused_prompt_tokens: int = 0  # prompt tokens whose KV came from the prefix cache
    model_calls: int = 0  # forward passes, the prompt's included
    sampled_tokens: int = 0  # chosen by the model (argmax of masked logits); no end token
    forced_tokens: int = 0  # appended without a model call (jump-forward, single choice)
    compile_ms: float = 0.0
    mask_ms: float = 0.0
    model_ms: float = 0.0
    ttft_ms: float = math.nan  # first token chosen by the model (prefill + first call)
    first_step_ms: float = math.nan
    total_ms: float = math.nan
    text: str = ""
    step_ms: list[float] = field(default_factory=list)

    @property
    def generated_tokens(self) -> int:
        return self.sampled_tokens + self.forced_tokens

    @property
    def forced_share(self) -> float:
        return self.forced_tokens / self.generated_tokens if self.generated_tokens else 0.0


def common_prefix_length(a: Sequence[int], b: Sequence[int]) -> int:
    length = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        length += 1
    return length


def _is_linear(module: Any) -> bool:
    import torch

    return isinstance(module, torch.nn.Linear)


def stop_token_ids(model: Any, tokenizer: Any) -> list[int]:
    """EOS of the tokenizer and of the generation config: a chat model may end with either."""
    ids: set[int] = set()
    for value in (
        getattr(tokenizer, "eos_token_id", None),
        getattr(getattr(model, "generation_config", None), "eos_token_id", None),
    ):
        if isinstance(value, int):
            ids.add(value)
        elif isinstance(value, (list, tuple)):
            ids.update(v for v in value if isinstance(v, int))
    if not ids:
        raise ModelError("the tokenizer has no end-of-sequence token, so a plan could never end")
    return sorted(ids)


class ConstrainedDecoder:
    """Greedy grammar-constrained decoding for one model and tokenizer (batch of one).

    `jump_forward` appends forced tokens without model calls; `reuse_prefix` reuses the KV cache
    of `set_prefix` ids; `subset_logits` computes the output layer for allowed tokens only. All
    off gives one full model call per token on the full prompt: the reference the optimisations
    are measured against (greedy choices are the same either way). Not thread-safe."""

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        device: Any,
        *,
        max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
        jump_forward: bool = True,
        reuse_prefix: bool = True,
        subset_logits: bool = True,
    ) -> None:
        import xgrammar as xgr

        self.model = model
        self.tokenizer = tokenizer
        self.device = device
        self.max_new_tokens = max_new_tokens
        self.jump_forward = jump_forward
        self.reuse_prefix = reuse_prefix
        head = model.get_output_embeddings()
        rows = head.weight.shape[0] if head is not None else model.config.vocab_size
        self.vocab_size = int(rows)
        body = getattr(model, "base_model", None)
        # Split the model into body + linear output layer when it has that shape, so that only
        # the allowed tokens' logits are computed (see _best).
        self._split = bool(subset_logits and _is_linear(head) and body not in (None, model))
        self._head: Any = head if self._split else None
        self._body: Any = body if self._split else None
        self.stop_ids = stop_token_ids(model, tokenizer)
        info = xgr.TokenizerInfo.from_huggingface(
            tokenizer, vocab_size=self.vocab_size, stop_token_ids=self.stop_ids
        )
        self.compiler = xgr.GrammarCompiler(info, max_threads=1, cache_enabled=True)
        self._vocab = info.decoded_vocab  # token id -> its bytes, for the forced-tail check
        self._bitmask = xgr.allocate_token_bitmask(1, self.vocab_size)
        self._bits = self._bitmask.numpy().view(np.uint32)  # shares memory with the bitmask
        self._prefix_ids: list[int] = []
        self._prefix_cache: Any = None
        self.last_stats = DecodeStats()

    def compile(self, ebnf: str) -> Any:
        """An xgrammar CompiledGrammar (cached by text, so repeated numbers compile once)."""
        try:
            return self.compiler.compile_grammar(ebnf)
        except RuntimeError as error:
            raise PlanError(f"the plan grammar does not compile: {error}") from error

    def set_prefix(self, prefix_ids: Sequence[int]) -> None:
        """Encode the fixed prompt prefix once; every decode then starts from a copy of it."""
        self._prefix_ids = list(prefix_ids)
        self._prefix_cache = None
        if not self._prefix_ids:
            return
        cache = self._new_cache()
        self._forward(cache, self._prefix_ids)
        self._prefix_cache = cache

    def _new_cache(self) -> Any:
        from transformers import DynamicCache

        return DynamicCache(config=self.model.config)

    def _start(self, prompt_ids: Sequence[int], stats: DecodeStats) -> tuple[Any, list[int]]:
        """A KV cache and the prompt tokens still to feed: the prefix cache cropped to the
        longest common prefix (at least one prompt token is always fed, for its logits)."""
        import torch

        stats.prompt_tokens = len(prompt_ids)
        if self.reuse_prefix and self._prefix_cache is not None:
            shared = min(common_prefix_length(self._prefix_ids, prompt_ids), len(prompt_ids) - 1)
            if shared > 0:
                with torch.inference_mode():  # the cached tensors are inference tensors
                    cache = copy.deepcopy(self._prefix_cache)
                    surplus = cache.get_seq_length() - shared
                    if surplus > 0:
                        cache.crop(-surplus)
                stats.reused_prompt_tokens = shared
                return cache, list(prompt_ids[shared:])
        return self._new_cache(), list(prompt_ids)

    def _forward(self, cache: Any, tokens: Sequence[int]) -> Any:
        """Feed `tokens` after what `cache` holds. Returns the last position's hidden state when
        the model is split into body + head, else its logits (1-D either way)."""
        import torch

        with torch.inference_mode():  # only here: callers between yields never see it
            ids = torch.tensor([list(tokens)], dtype=torch.long, device=self.device)
            if self._split:
                output = self._body(input_ids=ids, cache=cache, use_cache=True)
                return output.last_hidden_state[0, -1]
            output = self.model(input_ids=ids, cache=cache, use_cache=True, logits_to_keep=1)
            return output.logits[0, -1].float()

    def _best(self, state: Any, allowed: np.ndarray) -> int:
        """The allowed token with the highest logit (greedy under the grammar mask). With a
        split model and a short allowed list, only those rows of the output layer are computed
        (on SmolLM2 the full output layer is ~15% of a CPU decode step, and the grammar rarely
        allows more than a few dozen tokens). Masking by selection works on any device."""
        import torch

        with torch.inference_mode():
            rows = torch.from_numpy(allowed).to(state.device)
            if self._split and len(allowed) <= SUBSET_LOGITS_MAX:
                logits = self._head.weight.index_select(0, rows) @ state
                if self._head.bias is not None:
                    logits = logits + self._head.bias.index_select(0, rows)
            else:
                full = self._head(state) if self._split else state
                logits = full.index_select(0, rows)
            return int(allowed[int(logits.float().argmax())])

    def allowed_tokens(self) -> np.ndarray:
        """Token ids the current bitmask allows (int64, ascending)."""
        words = self._bits.astype("<u4", copy=False)  # bit j of word i is token 32 * i + j
        flags = np.unpackbits(words.view(np.uint8), bitorder="little")[: self.vocab_size]
        return np.flatnonzero(flags)

    def steps(
        self, prompt_ids: Sequence[int], grammar: Any, separator: str = " then "
    ) -> Iterator[str]:
        """Decode under `grammar` (a compiled grammar or EBNF text) and yield each step's text
        as soon as the separator after it, or the end of the output, is certain.
        PlanError when the output does not finish within `max_new_tokens`."""
        yield from _Run(self, prompt_ids, grammar, separator).steps()

    def decode(self, prompt_ids: Sequence[int], grammar: Any) -> str:
        """The whole output text (no streaming)."""
        for _ in self.steps(prompt_ids, grammar, separator="\0"):
            pass
        return self.last_stats.text


class _Run:
    """State of one decode: matcher, KV cache, tokens generated, tokens not yet fed."""

    def __init__(
        self, decoder: ConstrainedDecoder, prompt_ids: Sequence[int], grammar: Any, separator: str
    ) -> None:
        import xgrammar as xgr

        self.d = decoder
        self.separator = separator
        self.started = time.perf_counter()
        self.stats = DecodeStats()
        decoder.last_stats = self.stats
        compiled = decoder.compile(grammar) if isinstance(grammar, str) else grammar
        self.stats.compile_ms = self._ms()
        self.matcher = xgr.GrammarMatcher(compiled)
        self.cache, self.pending = decoder._start(prompt_ids, self.stats)
        self.generated: list[int] = []
        self.last_sampled_pending = False  # is generated[-1] a sampled token not yet fed?
        self.step_start = 0

    def _ms(self) -> float:
        return (time.perf_counter() - self.started) * 1000.0

    def steps(self) -> Iterator[str]:
        finished = False
        while not finished:
            if self.d.jump_forward:
                self._jump()
            yield from self._completed_steps()
            finished = self._next_token()
        text = self._text()
        self.stats.text = text
        last = text[self.step_start :]
        if last:
            self._record_step()
            yield last
        self.stats.total_ms = self._ms()

    def _text(self) -> str:
        return str(self.d.tokenizer.decode(self.generated, clean_up_tokenization_spaces=False))

    def _record_step(self) -> None:
        elapsed = self._ms()
        self.stats.step_ms.append(elapsed)
        if math.isnan(self.stats.first_step_ms):
            self.stats.first_step_ms = elapsed

    def _completed_steps(self) -> Iterator[str]:
        """Steps whose separator is decoded or forced by the grammar (certain either way)."""
        certain = self._text() + self.matcher.find_jump_forward_string()
        while (end := certain.find(self.separator, self.step_start)) >= 0:
            step = certain[self.step_start : end]
            self.step_start = end + len(self.separator)
            self._record_step()
            yield step

    def _jump(self) -> None:
        """Append the tokens the grammar forces. When the last token was sampled and is not fed
        yet, it is re-tokenized together with the forced text ('elb' + 'ow' -> 'elbow'), so the
        model sees the tokenization it was trained on."""
        forced = self.matcher.find_jump_forward_tokens()
        merged = forced and self.last_sampled_pending and self._merge_with_sampled(forced)
        if forced and not merged:
            self._accept_forced(forced)
        self._jump_tail()

    def _merge_with_sampled(self, forced: list[int]) -> bool:
        merged = self._retokenized(self.generated[-1], forced)
        if merged is None:
            return False
        self.generated[-1:] = merged
        self.pending[-1:] = merged
        self.stats.forced_tokens += len(merged) - 1
        self.last_sampled_pending = False
        return True

    def _accept_forced(self, forced: list[int]) -> None:
        for token in forced:
            if not self.matcher.accept_token(token):
                raise PlanError("internal error: the grammar rejected its own forced token")
        self.generated.extend(forced)
        self.pending.extend(forced)
        self.stats.forced_tokens += len(forced)
        self.last_sampled_pending = False

    def _jump_tail(self) -> None:
        """xgrammar leaves out a forced last token that some longer vocabulary token extends
        (' deg' could become ' degrees'), because the model might want the longer one. When no
        token the grammar allows here extends it, the grammar forces it after all: append it
        without a model call (after '90', ' deg' is the only way on)."""
        rest = self.matcher.find_jump_forward_string()
        if not rest:
            return
        tokens = self.d.tokenizer.encode(rest, add_special_tokens=False)
        if len(tokens) != 1:
            return
        token = int(tokens[0])
        text = self.d._vocab[token]
        self.matcher.fill_next_token_bitmask(self.d._bitmask)
        for allowed in self.d.allowed_tokens():
            other = self.d._vocab[int(allowed)]
            if len(other) > len(text) and other.startswith(text):
                return  # the model may still choose the longer token
        if self.matcher.accept_token(token):  # False: the tokenizer spells it otherwise; skip
            self.generated.append(token)
            self.pending.append(token)
            self.stats.forced_tokens += 1
            self.last_sampled_pending = False

    def _retokenized(self, sampled: int, forced: list[int]) -> list[int] | None:
        """The tokenizer's own encoding of sampled + forced text, accepted by the matcher in
        place of the sampled token; None (matcher unchanged) when it is not better or fails."""
        text = self.d.tokenizer.decode([sampled, *forced], clean_up_tokenization_spaces=False)
        merged = list(self.d.tokenizer.encode(text, add_special_tokens=False))
        if not merged or merged == [sampled, *forced]:
            return None
        self.matcher.rollback(1)
        for accepted, token in enumerate(merged):
            if not self.matcher.accept_token(token):
                if accepted:
                    self.matcher.rollback(accepted)
                self.matcher.accept_token(sampled)
                return None
        return merged

    def _next_token(self) -> bool:
        """Choose the next token; True when the output is finished."""
        stats = self.stats
        if (
            len(self.generated) >= self.d.max_new_tokens - FINISH_RESERVE_TOKENS
            and self.matcher.is_completed()
        ):
            return True  # running long: end at the first point the plan may end
        if len(self.generated) >= self.d.max_new_tokens:
            raise PlanError(f"the model's plan did not end within {self.d.max_new_tokens} tokens")
        started = time.perf_counter()
        self.matcher.fill_next_token_bitmask(self.d._bitmask)
        allowed = self.d.allowed_tokens()
        stats.mask_ms += (time.perf_counter() - started) * 1000.0
        if len(allowed) == 0:
            raise PlanError("internal error: the grammar allows no next token")
        forced = self.d.jump_forward and len(allowed) == 1
        token = int(allowed[0]) if forced else self._sample(allowed)
        if token in self.d.stop_ids:
            return True
        if forced:
            stats.forced_tokens += 1
        else:
            stats.sampled_tokens += 1
        if not self.matcher.accept_token(token):
            raise PlanError("internal error: the grammar rejected a token its mask allowed")
        self.generated.append(token)
        self.pending.append(token)
        self.last_sampled_pending = not forced
        return False

    def _sample(self, allowed: np.ndarray) -> int:
        """One model call on the tokens not fed yet; the best allowed token."""
        stats = self.stats
        started = time.perf_counter()
        state = self.d._forward(self.cache, self.pending)
        self.pending = []
        chosen = time.perf_counter()
        token = self.d._best(state, allowed)
        stats.model_calls += 1
        stats.model_ms += (chosen - started) * 1000.0
        stats.mask_ms += (time.perf_counter() - chosen) * 1000.0
        if math.isnan(stats.ttft_ms):
            stats.ttft_ms = self._ms()
        return token
