"""Few-shot examples: an instruction and the plan a good planner writes for it.

The bank lives in config/ (robot-specific, like everything about the robot); plans are written in
the plan language that `core.llm.grammar` constrains a model to and `core.rules.RulePlanner`
parses, e.g. "gripper open then elbow to 30 deg slowly".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import yaml

from ...errors import ConfigError
from ...robot.share import resolve


@dataclass(frozen=True)
class Example:
    instruction: str
    plan: str


class Retriever(Protocol):
    """Picks the examples most useful for an instruction, most similar first."""

    def top_k(self, instruction: str, k: int) -> Sequence[Example]: ...


def load_examples(path: str | Path) -> list[Example]:
    """Examples from a YAML file: a list of {instruction: str, plan: str} under `examples`."""
    file = resolve(path, "config")
    try:
        document = yaml.safe_load(file.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError(f"cannot read examples {file}: {error}") from error
    entries = (document or {}).get("examples") if isinstance(document, dict) else None
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"{file}: expected a non-empty list under 'examples'")
    examples = []
    for number, entry in enumerate(entries, 1):
        if not isinstance(entry, dict) or not all(
            isinstance(entry.get(key), str) and entry[key].strip()
            for key in ("instruction", "plan")
        ):
            raise ConfigError(f"{file}: example {number} needs 'instruction' and 'plan' strings")
        examples.append(Example(entry["instruction"].strip(), entry["plan"].strip()))
    return examples
