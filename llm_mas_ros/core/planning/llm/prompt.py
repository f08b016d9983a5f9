"""The planner prompt: a robot-aware system prompt plus examples retrieved per instruction.

The system prompt is built from the robot model alone (agents, aliases, joints, limits in the
units people use, poses, skills, the plan language), so it is fixed per robot: its tokens come
first, and the decoder computes their KV cache once. Examples and the instruction follow as chat
turns, so a small instruct model copies the examples' form.

The instruction is untrusted text. It is placed in a user turn only, with any special-token text
(e.g. '<|im_end|>') and control characters removed, so it cannot open a turn of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ...robot.model import Agent, AgentKind, JointType, RobotModel
from .examples import Example, Retriever
from .grammar import GOAL_SEPARATOR, NONE_PLAN, PLAN_UNITS, STEP_SEPARATOR, PlanGrammar

MAX_PROMPT_INSTRUCTION_CHARS = 1000
DEFAULT_EXAMPLES = 6

Message = dict[str, str]


def _describe_agent(agent: Agent) -> str:
    joint = agent.joint
    aliases = f" (also: {', '.join(agent.aliases)})" if agent.aliases else ""
    if joint.kind is JointType.CONTINUOUS:
        motion = "turns without limit"
    else:
        verb = "slides" if joint.kind is JointType.PRISMATIC else "turns"
        motion = f"{verb} in {joint.describe_limits()}"
    if agent.kind is AgentKind.GRIPPER:
        motion += "; open and close it"
    return f"- {agent.name}{aliases}: {motion}"


def system_prompt(robot: RobotModel, grammar: PlanGrammar) -> str:
    """What the model needs to know about this robot and the plan language (no instruction)."""
    units = {a.joint.dimension for a in robot.agents}
    unit_text = "; ".join(
        f"{' or '.join(PLAN_UNITS[d])} for {'lengths' if d == 'length' else 'angles'}"
        for d in sorted(units)
    )
    grippers = [a.name for a in robot.agents if a.kind is AgentKind.GRIPPER]
    lines = [
        "You are the planner of a robot. Turn the user's instruction into a plan in the plan "
        "language below, and write nothing else.",
        "",
        "Agents (one per joint) and what people call them:",
        *(_describe_agent(agent) for agent in robot.agents),
    ]
    if robot.poses:
        poses = [
            pose
            + (
                f" (also: {', '.join(robot.pose_aliases[pose])})"
                if robot.pose_aliases.get(pose)
                else ""
            )
            for pose in robot.poses
        ]
        lines += ["", f"Named poses: {'; '.join(poses)}"]
    styles = " | ".join(grammar.styles)
    lines += [
        "",
        "Plan language:",
        "- AGENT to N UNIT: move to an absolute position",
        "- AGENT by N UNIT: move relative to where it is (negative N goes the other way)",
        *([f"- {' / '.join(grippers)} open, {' / '.join(grippers)} close"] if grippers else []),
        "- AGENT hold: stay where it is",
        "- AGENT wave [by N UNIT] [K times]",
        *(["- go to POSE: every joint of the pose"] if robot.poses else []),
        f"- after a move: optional 'in N s'{f' and one of {styles}' if styles else ''}",
        f"- goals that run together are separated by '{GOAL_SEPARATOR.strip()} '; "
        f"steps that run one after another by '{STEP_SEPARATOR.strip()}'",
        f"- UNIT: {unit_text}",
        "- write only numbers the instruction states; never invent one",
        f"- if the instruction asks for nothing this robot can do, write: {NONE_PLAN}",
    ]
    return "\n".join(lines)


def clean_instruction(text: str, special_tokens: Sequence[str] = ()) -> str:
    """The instruction as it may appear in a prompt: one line, bounded, no special tokens."""
    previous = None
    while previous != text:  # removal can join two halves into a new special token
        previous = text
        for token in special_tokens:
            if token:
                text = text.replace(token, " ")
    text = "".join(ch if ch.isprintable() else " " for ch in text)
    return " ".join(text.split())[:MAX_PROMPT_INSTRUCTION_CHARS]


def _special_tokens(tokenizer: Any) -> list[str]:
    tokens = set(getattr(tokenizer, "all_special_tokens", []) or [])
    decoder = getattr(tokenizer, "added_tokens_decoder", {}) or {}
    tokens.update(getattr(token, "content", str(token)) for token in decoder.values())
    return sorted((t for t in tokens if t), key=len, reverse=True)


class PromptBuilder:
    """Chat prompts for one robot and one tokenizer. `prefix_ids` are the same for every
    instruction; `ids(instruction)` starts with them (up to a merge at the boundary, which the
    decoder handles by reusing the longest common prefix)."""

    def __init__(
        self,
        robot: RobotModel,
        tokenizer: Any,
        grammar: PlanGrammar,
        retriever: Retriever | None = None,
        examples: int = DEFAULT_EXAMPLES,
    ) -> None:
        self.tokenizer = tokenizer
        self.retriever = retriever
        self.examples = examples
        self.system = system_prompt(robot, grammar)
        self._special = _special_tokens(tokenizer)
        self._chat = bool(getattr(tokenizer, "chat_template", None))
        self.prefix_ids = self._encode(self._render([self._system_message()], generation=False))

    def _system_message(self) -> Message:
        return {"role": "system", "content": self.system}

    def retrieved(self, instruction: str) -> Sequence[Example]:
        if self.retriever is None or self.examples <= 0:
            return ()
        return self.retriever.top_k(instruction, self.examples)

    def messages(self, instruction: str) -> list[Message]:
        """System prompt, retrieved examples as (user, assistant) turns, the instruction."""
        messages = [self._system_message()]
        for example in reversed(self.retrieved(instruction)):  # most similar closest to the end
            messages.append({"role": "user", "content": self.clean(example.instruction)})
            messages.append({"role": "assistant", "content": example.plan.strip()})
        messages.append({"role": "user", "content": self.clean(instruction)})
        return messages

    def clean(self, instruction: str) -> str:
        return clean_instruction(instruction, self._special)

    def text(self, instruction: str) -> str:
        return self._render(self.messages(instruction), generation=True)

    def ids(self, instruction: str) -> list[int]:
        return self._encode(self.text(instruction))

    def _render(self, messages: list[Message], generation: bool) -> str:
        if self._chat:
            rendered = self.tokenizer.apply_chat_template(
                messages, tokenize=False, add_generation_prompt=generation
            )
            return str(rendered)
        return _plain_render(messages, generation)

    def _encode(self, text: str) -> list[int]:
        # A chat template writes its special tokens (BOS included) itself.
        encoded = self.tokenizer(text, add_special_tokens=not self._chat)
        return list(encoded["input_ids"])


def _plain_render(messages: list[Message], generation: bool) -> str:
    """A prompt for tokenizers without a chat template (base models)."""
    labels = {"system": "", "user": "Instruction: ", "assistant": "Plan: "}
    parts = [
        f"{labels[m['role']]}{m['content']}\n" + ("\n" if m["role"] != "user" else "")
        for m in messages
    ]
    return "".join(parts) + ("Plan: " if generation else "")


__all__ = ["DEFAULT_EXAMPLES", "PromptBuilder", "clean_instruction", "system_prompt"]
