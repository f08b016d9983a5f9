"""ROS parameter files without ROS: read `ros__parameters` YAML into flat dotted parameters.

A node gets its parameters from rclpy (already flat: `agents.elbow.joint`); the CLI and the tests
read the same YAML files through `load_parameters`. Both then build their typed configuration from
the same flat mapping, so there is one implementation of every configuration rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import fields
from pathlib import Path
from typing import Any, TypeVar

import yaml

from ..errors import ConfigError

Parameters = dict[str, Any]
T = TypeVar("T")

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


def _section_matches(section: str, node_name: str) -> bool:
    return section in WILDCARD_SECTIONS or section.lstrip("/") == node_name


def load_parameters(files: Iterable[str | Path], node_name: str = "") -> Parameters:
    """Merge the `ros__parameters` of `node_name` (and of `/**`) from YAML files, later wins.

    Mirrors how `ros2 run --params-file` applies files: wildcard sections apply to every node,
    a section named after the node applies to it alone.
    """
    merged: Parameters = {}
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
            merged.update(flatten(body["ros__parameters"] or {}))
    return merged


def subtree(params: Mapping[str, Any], prefix: str) -> Parameters:
    """Parameters under `prefix.`, with the prefix removed."""
    head = f"{prefix}."
    return {name[len(head) :]: value for name, value in params.items() if name.startswith(head)}


def require(params: Mapping[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    """The parameter `name`, checked to be of `kind`; a ConfigError names what is wrong."""
    if name not in params:
        raise ConfigError(f"missing parameter {name!r}")
    value = params[name]
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise ConfigError(f"parameter {name!r} must be {_kind_name(kind)}, got {value!r}")
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
        raise ConfigError(f"parameter {name!r} must be a list of strings, got {value!r}")
    return list(value)


def typed(settings_class: type[T], params: Mapping[str, Any]) -> T:
    """A frozen settings dataclass from parameters named like its fields; absent ones keep
    their defaults, present ones must have the default's type (ConfigError otherwise)."""
    defaults = settings_class()
    return settings_class(
        **{
            f.name: optional(
                params, f.name, type(getattr(defaults, f.name)), getattr(defaults, f.name)
            )
            for f in fields(settings_class)  # type: ignore[arg-type]
        }
    )


def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(k.__name__ for k in kinds)
