"""The one clause splitter: where an instruction separates steps, and goals within a step.

Steps are separated by ';', a full stop (a dot not followed by a digit), 'then', 'after that',
'afterwards', 'next', 'finally', 'followed by'; goals within a step by ',', 'and', 'while',
'at the same time', 'simultaneously', 'meanwhile', 'together with'. Every planner reads an
instruction's structure through this module: the rule planner, the grammar's step and goal
bounds, and the retrieval of examples clause by clause.
"""

from __future__ import annotations

import re

from .quantities import SENTENCE_DOT_PATTERN

STEP_SPLIT_RE = re.compile(
    rf";|{SENTENCE_DOT_PATTERN}"
    r"|\b(?:and then|then|after that|afterwards|next|finally|followed by)\b"
)
GOAL_SPLIT_RE = re.compile(
    r",|\b(?:and|while|at the same time|simultaneously|meanwhile|together with)\b"
)
_WORD_RE = re.compile(r"\w")


def split_steps(instruction: str) -> list[str]:
    """The instruction's steps, lower-cased and stripped, empty ones (only marks) left out."""
    parts = (part.strip(" ,") for part in STEP_SPLIT_RE.split(instruction.lower()))
    return [part for part in parts if _WORD_RE.search(part)]


def split_goals(step: str) -> list[str]:
    """The goals of one step, stripped, empty ones left out."""
    parts = (part.strip(" ,") for part in GOAL_SPLIT_RE.split(step))
    return [part for part in parts if _WORD_RE.search(part)]


def split_clauses(instruction: str) -> list[list[str]]:
    """Steps, each a list of its goal clauses: 'a and b then c' -> [['a', 'b'], ['c']]."""
    steps = (split_goals(step) for step in split_steps(instruction))
    return [step for step in steps if step]
