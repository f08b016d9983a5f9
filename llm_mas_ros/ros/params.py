"""Parameters -> typed configuration, from the core's schema (core/robot/schema.py).

Each parameter is declared once, statically typed, with a real ParameterDescriptor (description
with unit and constraints, range, read-only), so `ros2 param describe` tells a user what it means.
The values a node was given are checked by the same core functions the pip-only tools run on the
YAML files, before anything is declared: a node and `llm-mas-ros` see the same robot.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.node import Node
from rclpy.parameter import Parameter

from ..core.errors import ConfigError
from ..core.planning.planner_settings import (
    PLANNER_PARAMETERS,
    PlannerSettings,
    planner_settings_from_params,
)
from ..core.robot import param_files as P
from ..core.robot.model import RobotModel, is_robot_parameter, robot_from_params, robot_schema
from ..core.robot.schema import (
    ParameterSpec,
    ParamType,
    is_ros_parameter,
    read_parameters,
    unknown_parameter,
)
from ..core.sim.sim_settings import SIM_PARAMETERS, SimSettings, sim_settings_from_params

HOSTED_AGENTS = ParameterSpec(
    "agents", ParamType.STRING_ARRAY, "agents hosted by this process (absent: all of the robot)"
)
_ROS_TYPES = {
    ParamType.BOOL: Parameter.Type.BOOL,
    ParamType.INTEGER: Parameter.Type.INTEGER,
    ParamType.DOUBLE: Parameter.Type.DOUBLE,
    ParamType.STRING: Parameter.Type.STRING,
    ParamType.STRING_ARRAY: Parameter.Type.STRING_ARRAY,
}
_INT64_MAX = 2**63 - 1
# Every parameter name some node of this package reads: a node given any other is told so.
_PACKAGE_NAMES = frozenset(
    spec.name for spec in (*PLANNER_PARAMETERS, *SIM_PARAMETERS, HOSTED_AGENTS)
)


def descriptor(spec: ParameterSpec) -> ParameterDescriptor:
    """The ROS descriptor of `spec`: static type, description with unit and constraints,
    its range (ROS ranges are closed: an open bound is checked by the core), read-only."""
    result = ParameterDescriptor(
        name=spec.name,
        type=_ROS_TYPES[spec.type].value,
        description=spec.text(),
        read_only=spec.read_only,
        additional_constraints="; ".join(spec.constraints()),
    )
    if spec.range is not None and spec.type is ParamType.DOUBLE:
        result.floating_point_range = [
            FloatingPointRange(from_value=spec.range.low, to_value=spec.range.high, step=0.0)
        ]
    elif spec.range is not None and spec.type is ParamType.INTEGER:
        low, high = spec.range.low, spec.range.high
        result.integer_range = [
            IntegerRange(
                from_value=int(low) if math.isfinite(low) else -_INT64_MAX,
                to_value=int(high) if math.isfinite(high) else _INT64_MAX,
                step=1,
            )
        ]
    return result


def given_parameters(node: Node) -> P.SourcedParameters:
    """What `node` was given (its --params-file sections, -p, parameter_overrides), flat, each
    value remembering which parameter file holds it where that can be found."""
    given = P.SourcedParameters(
        {name: parameter.value for name, parameter in node._parameter_overrides.items()}
    )
    where = f"the parameters of node {node.get_fully_qualified_name()}"
    given.origins = dict.fromkeys(given, where)
    files = _parameter_files(sys.argv)
    if files:  # a launched process: name the file (in-process nodes get no file names)
        from_files = P.load_parameters(files, node.get_name())
        given.origins.update({k: v for k, v in from_files.origins.items() if k in given})
    return given


def _parameter_files(argv: Sequence[str]) -> list[str]:
    return [argv[i + 1] for i, arg in enumerate(argv[:-1]) if arg == "--params-file"]


def declare_specs(
    node: Node, specs: Iterable[ParameterSpec], values: Mapping[str, Any]
) -> P.Parameters:
    """Declare each of `specs` that has a value in `values` (already checked by the core), with
    its descriptor; an optional spec without a value is not declared, so none reads 'not set'.
    Return the declared values."""
    declared: P.Parameters = {}
    for spec in specs:
        if node.has_parameter(spec.name):  # declared by an earlier call: keep it
            declared[spec.name] = node.get_parameter(spec.name).value
            continue
        if spec.name not in values:
            continue
        value = values[spec.name]
        value = list(value) if spec.type is ParamType.STRING_ARRAY else value
        value = str(value) if spec.type is ParamType.STRING else value  # StrEnum -> str
        # The override is already in `value`, converted to the spec's type (YAML `100` for a
        # double is 100.0): rclpy must not re-read it untyped.
        node.declare_parameter(spec.name, value, descriptor(spec), ignore_override=True)
        declared[spec.name] = node.get_parameter(spec.name).value
    return declared


def declare_from_schema(
    node: Node, specs: Sequence[ParameterSpec], given: Mapping[str, Any]
) -> P.Parameters:
    """Check `given` values of `specs` with the core schema, then declare them."""
    owned = {name: value for name, value in given.items() if name in {s.name for s in specs}}
    return declare_specs(node, specs, read_parameters(specs, _keep_origins(given, owned)))


def _keep_origins(given: Mapping[str, Any], subset: Mapping[str, Any]) -> P.SourcedParameters:
    result = P.SourcedParameters(subset)
    if isinstance(given, P.SourcedParameters):
        result.origins = {k: v for k, v in given.origins.items() if k in subset}
    return result


def _reject_unknown(given: Mapping[str, Any]) -> None:
    """A parameter no node of this package reads is a typo: refuse it, naming key and file."""
    for name in given:
        if not (is_robot_parameter(name) or name in _PACKAGE_NAMES or is_ros_parameter(name)):
            raise ConfigError(unknown_parameter(name, given, _PACKAGE_NAMES))


def declare_robot(node: Node) -> RobotModel:
    """Declare the robot parameters (config/robot.yaml) on `node` and build the robot model,
    from exactly what robot_from_params() builds for the pip-only tools."""
    given = given_parameters(node)
    _reject_unknown(given)
    robot_given = _keep_origins(given, {k: v for k, v in given.items() if is_robot_parameter(k)})
    robot = robot_from_params(robot_given)
    specs = robot_schema(robot_given, robot.joints)
    declare_specs(node, specs, read_parameters(specs, robot_given))
    return robot


def declare_planner(node: Node) -> PlannerSettings:
    """Declare the planner parameters (config/planner.yaml) and return the settings."""
    return planner_settings_from_params(
        declare_from_schema(node, PLANNER_PARAMETERS, given_parameters(node))
    )


def declare_sim(node: Node) -> SimSettings:
    """Declare the simulator parameters (config/sim.yaml) and return the settings."""
    return sim_settings_from_params(
        declare_from_schema(node, SIM_PARAMETERS, given_parameters(node))
    )


def declare_hosted_agents(node: Node) -> tuple[str, ...] | None:
    """The `agents` an agents process hosts, or None for all of them."""
    values = declare_from_schema(node, [HOSTED_AGENTS], given_parameters(node))
    hosted = values.get(HOSTED_AGENTS.name)
    return tuple(hosted) if hosted is not None else None


def declare(
    node: Node, name: str, description: str, default: Any = None, read_only: bool = True
) -> Any:
    """Declare one parameter typed by its default (or, without one, by its given value) and
    return its value; None when it has neither (then it is not declared)."""
    given = given_parameters(node)
    sample = default if default is not None else given.get(name)
    if sample is None:
        return None
    spec = ParameterSpec(name, ParamType.of(sample), description, default, read_only=read_only)
    return declare_from_schema(node, [spec], given).get(name)


def declare_all(node: Node, specs: Iterable[tuple[str, str, Any]]) -> P.Parameters:
    """Declare (name, description, default) triples; return the ones that have a value."""
    values = {
        name: declare(node, name, description, default) for name, description, default in specs
    }
    return {name: value for name, value in values.items() if value is not None}
