"""Language-model planner backends behind the `Planner` protocol (core.planner).

`LlmPlanner` is the production path: robot-aware prompt with retrieved examples, grammar-
constrained decoding (only known agents, skills, poses and stated numbers), jump-forward tokens,
the prompt prefix's KV cache reused, and each step yielded as soon as it is decoded. Every step
is parsed by `RulePlanner.parse_step`, the same parser the agent language goes through.

`PlainGeneratePlanner` is the naive baseline for the benchmark: same model and prompt, plain
`model.generate()` (no grammar, no prefix cache, no jump-forward, no streaming); what it writes
is parsed the same way, and whatever does not parse is a PlanError (a parse failure). It stops
where the plan ends (the end token, or the line break after the plan's line), as the constrained
decoder does, so the two are compared on the same work.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterator, Sequence
from typing import Any

from ...errors import ConfigError, PlanError
from ...robot.model import RobotModel
from ..answers import nothing_to_do, quoted
from ..plan import ProposedStep
from ..planner_settings import BACKENDS, PlannerBackend
from ..rules import RulePlanner
from .decoder import DEFAULT_MAX_NEW_TOKENS, ConstrainedDecoder, DecodeStats, stop_token_ids
from .examples import Retriever
from .grammar import NONE_PLAN, STEP_SEPARATOR, AllowedNumbers, PlanGrammar
from .models import LoadedModel, load_local, load_smollm2
from .prompt import DEFAULT_EXAMPLES, PromptBuilder

_RELATIVE_RE = re.compile(r"(?:by|wave)\b")


def parse_plan_step(rules: RulePlanner, text: str) -> ProposedStep:
    """One step of model output through the agent-language parser; PlanError says what failed."""
    try:
        return rules.parse_step(text)
    except PlanError as error:
        raise PlanError(
            f"the model wrote {quoted(text)}, which is not a valid step: {error}"
        ) from error


class _PromptedPlanner:
    """What every model planner has: the robot, the loaded model, the rules (for the agent
    language a model writes) and the prompt of retrieved examples under the plan grammar."""

    def __init__(
        self,
        name: str,
        robot: RobotModel,
        loaded: LoadedModel,
        retriever: Retriever | None,
        examples: int,
    ) -> None:
        self.name = name
        self.robot = robot
        self.loaded = loaded
        self.rules = RulePlanner(robot)
        self.grammar = PlanGrammar(robot)
        self.prompt = PromptBuilder(robot, loaded.tokenizer, self.grammar, retriever, examples)


class LlmPlanner(_PromptedPlanner):
    """Plans free-form instructions with a causal LM under the robot's plan grammar.

    `propose` is lazy: decoding runs while the caller iterates, and each step is yielded as
    soon as it is decoded. `last_stats` describes the latest decode (calls, tokens, times)."""

    def __init__(
        self,
        robot: RobotModel,
        loaded: LoadedModel,
        retriever: Retriever | None = None,
        *,
        examples: int = DEFAULT_EXAMPLES,
        max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
        jump_forward: bool = True,
        reuse_prefix: bool = True,
    ) -> None:
        super().__init__(loaded.name, robot, loaded, retriever, examples)
        self.decoder = ConstrainedDecoder(
            loaded.model,
            loaded.tokenizer,
            loaded.device,
            max_new_tokens=max_new_tokens,
            jump_forward=jump_forward,
            reuse_prefix=reuse_prefix,
        )
        if reuse_prefix:
            self.decoder.set_prefix(self.prompt.prefix_ids)

    @property
    def last_stats(self) -> DecodeStats:
        return self.decoder.last_stats

    def step_texts(self, instruction: str) -> Iterator[str]:
        """The plan as text, step by step, as it is decoded. An instruction that refers to
        nothing of this robot is 'none' at once: the model is not asked."""
        clean = self.prompt.clean(instruction)
        shape = self.grammar.shape(clean)
        if shape.addresses_nothing:
            self.decoder.last_stats = DecodeStats(text=NONE_PLAN, first_step_ms=0.0, total_ms=0.0)
            yield NONE_PLAN
            return
        grammar = self.grammar.ebnf(AllowedNumbers.from_instruction(clean), shape)
        yield from self.decoder.steps(self.prompt.ids(instruction), grammar, STEP_SEPARATOR)

    def plan_text(self, instruction: str) -> str:
        """The whole plan text (benchmarks and tests)."""
        return STEP_SEPARATOR.join(self.step_texts(instruction))

    def propose(self, instruction: str) -> Iterator[ProposedStep]:
        """Each step as soon as it is decoded and parsed; PlanError when the model writes
        'none' (nothing this robot can do) or its plan does not end in time."""
        last_goals: dict[str, str | None] = {}
        for number, text in enumerate(self.step_texts(instruction)):
            if number == 0 and text == NONE_PLAN:
                raise nothing_to_do(self.robot, instruction)
            step = without_repeats(parse_plan_step(self.rules, text), last_goals)
            if step:
                yield step


def without_repeats(step: ProposedStep, last_goals: dict[str, str | None]) -> ProposedStep:
    """The step without goals that repeat an agent's previous absolute goal in the plan
    ('gripper open then gripper open'): the joint is already there, so they are no-ops that a
    small model likes to write. Relative moves and waves always stay. `last_goals` (agent ->
    its latest absolute goal, None after a relative one) is updated."""
    kept = []
    for proposal in step:
        absolute = not _RELATIVE_RE.match(proposal.goal)
        if absolute and last_goals.get(proposal.agent) == proposal.goal:
            continue
        last_goals[proposal.agent] = proposal.goal if absolute else None
        kept.append(proposal)
    return tuple(kept)


def first_line(text: str) -> str:
    """The plan in what plain generate() wrote: its first line of text."""
    return text.strip().split("\n", 1)[0].strip()


class FirstLineEnd:
    """A generate() stopping criterion (duck-typed transformers.StoppingCriteria): done once
    the new text has a line break after some text. Only that first line is kept as the plan
    (`first_line`), so every token after it would be wasted work that the constrained decoder,
    which stops at the end of the plan, never does."""

    def __init__(self, tokenizer: Any, prompt_length: int) -> None:
        self.tokenizer = tokenizer
        self.prompt_length = prompt_length

    def ended(self, new_ids: Sequence[int]) -> bool:
        text = self.tokenizer.decode(
            list(new_ids), skip_special_tokens=True, clean_up_tokenization_spaces=False
        )
        return "\n" in text.lstrip()

    def __call__(self, input_ids: Any, scores: Any = None, **kwargs: Any) -> Any:
        import torch

        done = [self.ended(row[self.prompt_length :].tolist()) for row in input_ids]
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)


class PlainGeneratePlanner(_PromptedPlanner):
    """The naive baseline: `model.generate()` on the same prompt, parsed after the fact. It
    stops at the end token or the end of the plan's line (FirstLineEnd), like the decoder."""

    def __init__(
        self,
        robot: RobotModel,
        loaded: LoadedModel,
        retriever: Retriever | None = None,
        *,
        examples: int = DEFAULT_EXAMPLES,
        max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
    ) -> None:
        super().__init__(f"{loaded.name}:generate", robot, loaded, retriever, examples)
        self.max_new_tokens = max_new_tokens
        self.last_stats = DecodeStats()

    def plan_text(self, instruction: str) -> str:
        """What the model writes, up to its end token or the first line break."""
        import torch
        from transformers import StoppingCriteriaList

        stats = DecodeStats()
        self.last_stats = stats
        started = time.perf_counter()
        ids = self.prompt.ids(instruction)
        tokenizer = self.loaded.tokenizer
        stop_ids = stop_token_ids(self.loaded.model, tokenizer)
        input_ids = torch.tensor([ids], dtype=torch.long, device=self.loaded.device)
        with torch.inference_mode():
            output = self.loaded.model.generate(
                input_ids=input_ids,
                attention_mask=torch.ones_like(input_ids),
                max_new_tokens=self.max_new_tokens,
                do_sample=False,
                pad_token_id=tokenizer.pad_token_id,
                eos_token_id=stop_ids,
                stopping_criteria=StoppingCriteriaList([FirstLineEnd(tokenizer, len(ids))]),
            )
        new = output[0, len(ids) :].tolist()
        text = tokenizer.decode(new, skip_special_tokens=True, clean_up_tokenization_spaces=False)
        stats.prompt_tokens = len(ids)
        stats.model_calls = len(new)  # one forward pass per new token, the prompt's included
        # As in the decoder's stats, an end token the model chose is a call but no token.
        stats.sampled_tokens = len(new) - (1 if new and new[-1] in stop_ids else 0)
        stats.text = first_line(text)
        stats.total_ms = stats.first_step_ms = (time.perf_counter() - started) * 1000.0
        return stats.text

    def propose(self, instruction: str) -> Iterator[ProposedStep]:
        """All steps once the whole output is written; PlanError for 'none' or any step
        that does not parse."""
        text = self.plan_text(instruction)
        if text == NONE_PLAN:
            raise nothing_to_do(self.robot, instruction)
        if not text:
            raise PlanError(f"the model wrote no plan for {quoted(instruction)}")
        steps = [parse_plan_step(self.rules, step) for step in text.split(STEP_SEPARATOR)]
        yield from steps


def warm_up(planner: LlmPlanner | PlainGeneratePlanner) -> None:
    """Plan one throw-away instruction, so that the first real one does not pay the first-call
    costs (the embedding model's and torch's first runs: ~0.4 s on a 2-core CPU). Whatever the
    model writes is discarded; an instruction it cannot plan is no error here."""
    agent = planner.robot.agent_names[0]
    with contextlib.suppress(PlanError):
        planner.plan_text(f"could you move the {agent} by 5 degrees and then hold still")


def load_model(
    name: str,
    model_path: str = "",
    device: str = "auto",
    dtype: str = "auto",
    threads: int | None = None,
) -> LoadedModel:
    """The model of backend `name` ('smollm2' or 'local'); ConfigError for other names,
    ModelError when the model cannot be found or loaded."""
    if name == PlannerBackend.SMOLLM2:
        return load_smollm2(device, dtype, threads)
    if name == PlannerBackend.LOCAL:
        if not model_path:
            raise ConfigError("backend 'local' needs model_path: a transformers model directory")
        return load_local(model_path, device, dtype=dtype, threads=threads)
    raise ConfigError(f"unknown planner backend {name!r} (known: {', '.join(BACKENDS)})")


def load_backend(
    name: str,
    robot: RobotModel,
    model_path: str = "",
    device: str = "auto",
    retriever: Retriever | None = None,
    *,
    plain_generate: bool = False,
    dtype: str = "auto",
    threads: int | None = None,
    **options: Any,
) -> LlmPlanner | PlainGeneratePlanner | None:
    """The planner backend named in config/planner.yaml: None for 'rules' (no model), else an
    `LlmPlanner` (or, with `plain_generate`, the baseline) on the loaded model. `dtype` and
    `threads` go to the runtime (runtime.load_local), `options` to the planner (examples,
    max_new_tokens, jump_forward, reuse_prefix)."""
    if name == PlannerBackend.RULES:
        return None
    loaded = load_model(name, model_path, device, dtype, threads)
    if plain_generate:
        return PlainGeneratePlanner(robot, loaded, retriever, **options)
    return LlmPlanner(robot, loaded, retriever, **options)
