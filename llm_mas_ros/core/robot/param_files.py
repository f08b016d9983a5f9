"""ROS parameter files without ROS: read `ros__parameters` YAML into flat dotted parameters.

A node gets its parameters from rclpy (already flat: `agents.elbow.joint`); the CLI and the tests
read the same YAML files through `load_parameters`. Both then build their typed configuration from
the same flat mapping and the same schema (schema.py), so there is one implementation of every
configuration rule. Values read from a file remember it, so an error can say where to look.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from ..errors import ConfigError

Parameters = dict[str, Any]

WILDCARD_SECTIONS = ("/**", "**")


def flatten(tree: Mapping[str, Any], prefix: str = "") -> Parameters:
    """`{"a": {"b": 1}}` -> `{"a.b": 1}`, as rclpy names nested parameters."""
    flat: Parameters = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


class SourcedParameters(dict[str, Any]):
    """Flat parameters that know where each came from (`origins`: name -> file or node)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.origins: dict[str, str] = {}


def origin(params: Mapping[str, Any], name: str) -> str:
    """' (in FILE)' for a parameter whose origin is known, else ''."""
    where = params.origins.get(name, "") if isinstance(params, SourcedParameters) else ""
    return f" (in {where})" if where else ""


def _section_matches(section: str, node_name: str) -> bool:
    return section in WILDCARD_SECTIONS or section.lstrip("/") == node_name


def load_parameters(files: Iterable[str | Path], node_name: str = "") -> SourcedParameters:
    """Merge the `ros__parameters` of `node_name` (and of `/**`) from YAML files, later wins.

    Mirrors how `ros2 run --params-file` applies files: wildcard sections apply to every node,
    a section named after the node applies to it alone. Each value remembers its file.
    """
    merged = SourcedParameters()
    for file in files:
        path = Path(file)
        try:
            document = yaml.safe_load(path.read_text()) or {}
        except (OSError, yaml.YAMLError) as error:
            raise ConfigError(f"cannot read parameter file {path}: {error}") from error
        if not isinstance(document, Mapping):
            raise ConfigError(f"{path}: expected a mapping of node names to ros__parameters")
        for section, body in document.items():
            if not _section_matches(str(section), node_name):
                continue
            if not isinstance(body, Mapping) or "ros__parameters" not in body:
                raise ConfigError(f"{path}: section {section!r} has no ros__parameters")
            values = flatten(body["ros__parameters"] or {})
            merged.update(values)
            merged.origins.update(dict.fromkeys(values, str(path)))
    return merged


def subtree(params: Mapping[str, Any], prefix: str) -> SourcedParameters:
    """Parameters under `prefix.`, with the prefix removed (and their origins kept)."""
    head = f"{prefix}."
    names = [name for name in params if name.startswith(head)]
    section = SourcedParameters({name[len(head) :]: params[name] for name in names})
    if isinstance(params, SourcedParameters):
        section.origins = {n[len(head) :]: params.origins[n] for n in names if n in params.origins}
    return section


def require(params: Mapping[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    """The parameter `name`, checked to be of `kind`; a ConfigError names what is wrong."""
    if name not in params:
        raise ConfigError(f"missing parameter {name!r}")
    where = origin(params, name)
    value = params[name]
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise ConfigError(f"parameter {name!r}{where} must be {_kind_name(kind)}, got {value!r}")
    return value


def optional(
    params: Mapping[str, Any], name: str, kind: type | tuple[type, ...], default: Any
) -> Any:
    return require(params, name, kind) if name in params else default


def string_list(
    params: Mapping[str, Any], name: str, default: list[str] | None = None
) -> list[str]:
    """A list of strings (rclpy gives string arrays as lists)."""
    if name not in params and default is not None:
        return list(default)
    value = require(params, name, (list, tuple))
    if not all(isinstance(item, str) for item in value):
        raise ConfigError(
            f"parameter {name!r}{origin(params, name)} must be a list of strings, got {value!r}"
        )
    return list(value)


def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(k.__name__ for k in kinds)
