"""The backends a benchmark run compares, by name, and the names of their table rows.

'rules' is the pipeline alone; any other name is a language-model backend of
core.planning.llm.backend, and '<name>-plain' its plain generate() baseline, so the report can
put the constrained streaming decoder beside it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from llm_mas_ros.core.planning.pipeline import Planner
from llm_mas_ros.core.robot.model import RobotModel

PLAIN_SUFFIX = "-plain"
LOCAL = "local"


def make_backend(
    name: str,
    robot: RobotModel,
    retriever: Any,
    model_path: str = "",
    device: str = "auto",
    examples: int = 6,
) -> Planner | None:
    """A backend by name: 'rules' is the pipeline alone (agent language only); any other name
    goes to core.llm.backend.load_backend, '<name>-plain' to its plain-generate() baseline;
    both are warmed up as the planner node does."""
    if name == "rules":
        return None
    from llm_mas_ros.core.planning.llm import backend as engine

    plain = name.endswith(PLAIN_SUFFIX)
    backend = engine.load_backend(
        name.removesuffix(PLAIN_SUFFIX),
        robot,
        model_path,
        device,
        retriever=retriever,
        plain_generate=plain,
        examples=examples,
    )
    if backend is not None:
        engine.warm_up(backend)
    return backend


def row_name(name: str, model_path: str) -> str:
    """The table row of a backend: a 'local' one is named after its model directory, so rows of
    different local models stay apart ('local:smollm2-0.1.2', 'local:smollm2-0.1.2-plain')."""
    base = name.removesuffix(PLAIN_SUFFIX)
    if base != LOCAL or not model_path:
        return name
    return f"{LOCAL}:{Path(model_path).expanduser().name}{name[len(base) :]}"
