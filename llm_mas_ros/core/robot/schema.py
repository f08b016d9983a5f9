"""Typed parameter schema: one `ParameterSpec` per parameter (type, default, range, unit, meaning).

The same specs drive the ROS shell (`ros/params.py` declares each one with a real
`ParameterDescriptor`, so `ros2 param describe` tells a user what it means) and the pip-only YAML
loader (`read_parameters` validates a file's values), so a node and `llm-mas-ros` cannot read one
file differently. Pure Python: no rclpy here.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields
from enum import StrEnum
from typing import Any

from ..errors import ConfigError
from . import param_files as P

ParamValue = bool | int | float | str | tuple[str, ...]

# Parameters every rclpy node may be given, whatever it declares: not ours to reject.
ROS_PARAMETERS = frozenset({"use_sim_time", "start_type_description_service"})
ROS_PREFIXES = ("qos_overrides.",)


class ParamType(StrEnum):
    """The ROS parameter types this package uses (rcl_interfaces/ParameterType)."""

    BOOL = "bool"
    INTEGER = "integer"
    DOUBLE = "double"
    STRING = "string"
    STRING_ARRAY = "string_array"

    @classmethod
    def of(cls, value: object) -> ParamType:
        """The type of a default value (bool before int: a bool is an int in Python)."""
        for kind, python in _PYTHON_TYPES.items():
            if isinstance(value, python) and not (kind is cls.INTEGER and isinstance(value, bool)):
                return kind
        raise TypeError(f"no parameter type for {value!r}")


_PYTHON_TYPES: dict[ParamType, type | tuple[type, ...]] = {
    ParamType.BOOL: bool,
    ParamType.INTEGER: int,
    ParamType.DOUBLE: float,
    ParamType.STRING: str,
    ParamType.STRING_ARRAY: (list, tuple),
}


@dataclass(frozen=True)
class Range:
    """A closed interval [low, high] (open at `low` when `low_open`); inf for no bound."""

    low: float = -math.inf
    high: float = math.inf
    low_open: bool = False

    def __contains__(self, value: float) -> bool:
        above = value > self.low if self.low_open else value >= self.low
        return above and value <= self.high

    def __str__(self) -> str:
        return f"{'(' if self.low_open else '['}{self.low:g}, {self.high:g}]"


POSITIVE = Range(0.0, low_open=True)
NON_NEGATIVE = Range(0.0)


@dataclass(frozen=True)
class ParameterSpec:
    """One parameter. `default` None: `required`, or else optional (absent means none, and a
    node declares it only when given, so nothing is declared 'not set')."""

    name: str
    type: ParamType
    description: str
    default: ParamValue | None = None
    unit: str = ""
    range: Range | None = None
    choices: tuple[str, ...] = ()
    required: bool = False
    read_only: bool = True

    def text(self) -> str:
        """The description a user reads (`ros2 param describe`): meaning, unit, constraints."""
        unit = f" [{self.unit}]" if self.unit else ""
        return "; ".join([self.description + unit, *self.constraints()])

    def constraints(self) -> list[str]:
        """What a value must be, in words: choices, range, required or optional."""
        parts = []
        if self.choices:
            parts.append(f"one of: {' | '.join(self.choices)}")
        if self.range is not None and self.range != Range():
            parts.append(f"range {self.range}")
        if self.required:
            parts.append("required")
        elif self.default is None:
            parts.append("optional")
        return parts

    def value(self, params: Mapping[str, Any]) -> ParamValue:
        """This parameter from `params` (present), checked and converted to its type: an int
        for a double becomes a float, a list of strings a tuple. ConfigError names what is
        wrong and, for a file, where."""
        if self.type is ParamType.STRING_ARRAY:
            return tuple(P.string_list(params, self.name))
        value = P.require(params, self.name, _PYTHON_TYPES[self.type])
        wrong = ""
        if self.choices and value not in self.choices:
            wrong = f"must be one of {', '.join(self.choices)}"
        elif self.type is ParamType.DOUBLE and math.isnan(value):
            wrong = "must be a number"
        elif self.range is not None and value not in self.range:
            wrong = f"must be in {self.range}"
        if wrong:
            raise ConfigError(
                f"parameter {self.name!r}{P.origin(params, self.name)} {wrong}, got {value!r}"
            )
        return value  # type: ignore[no-any-return]


def is_ros_parameter(name: str) -> bool:
    return name in ROS_PARAMETERS or name.startswith(ROS_PREFIXES)


def read_parameters(
    specs: Iterable[ParameterSpec],
    params: Mapping[str, Any],
    known_elsewhere: Callable[[str], bool] = is_ros_parameter,
) -> P.SourcedParameters:
    """The values of `specs`: given ones checked, absent ones defaulted (optional ones left
    out). A key of `params` that is neither a spec nor `known_elsewhere` is a ConfigError that
    names it and its file: a typo must not silently leave the default in force."""
    by_name = {spec.name: spec for spec in specs}
    for name in params:
        if name not in by_name and not known_elsewhere(name):
            raise ConfigError(unknown_parameter(name, params, by_name))
    values = P.SourcedParameters()
    for spec in by_name.values():
        if spec.name in params:
            values[spec.name] = spec.value(params)
            values.origins[spec.name] = P.origin(params, spec.name)
        elif spec.default is not None:
            values[spec.name] = spec.default
        elif spec.required:
            raise ConfigError(f"missing parameter {spec.name!r}: {spec.text()}")
    return values


def unknown_parameter(name: str, params: Mapping[str, Any], known: Iterable[str]) -> str:
    """'unknown parameter' naming the key, its file, and the known keys beside it."""
    section = name.rpartition(".")[0]
    siblings = sorted(k.rpartition(".")[2] for k in known if k.rpartition(".")[0] == section)
    where = f"under {section}" if section else "at the top level"
    hint = f" (known {where}: {', '.join(siblings)})" if siblings else ""
    return f"unknown parameter {name!r}{P.origin(params, name)}{hint}"


def dataclass_specs(
    settings_class: type,
    descriptions: Mapping[str, str],
    units: Mapping[str, str] | None = None,
    ranges: Mapping[str, Range] | None = None,
    choices: Mapping[str, Iterable[str]] | None = None,
) -> tuple[ParameterSpec, ...]:
    """Specs for a frozen settings dataclass: one parameter per field, named like it, typed and
    defaulted by the field's default (every field needs one and a description)."""
    defaults = settings_class()
    return tuple(
        ParameterSpec(
            name=f.name,
            type=ParamType.of(getattr(defaults, f.name)),
            description=descriptions[f.name],
            default=getattr(defaults, f.name),
            unit=(units or {}).get(f.name, ""),
            range=(ranges or {}).get(f.name),
            choices=tuple((choices or {}).get(f.name, ())),
        )
        for f in fields(settings_class)
    )
