"""Parameters -> typed configuration. Each parameter is declared once, with a description; the
values are handed to the same core functions the pip-only tools use on the YAML files."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rcl_interfaces.msg import ParameterDescriptor
from rclpy.exceptions import ParameterUninitializedException
from rclpy.node import Node

from ..core.robot import param_files as P
from ..core.robot.model import (
    DIRECTION_LISTS,
    ControlSettings,
    RobotModel,
    load_urdf,
    parse_urdf_joints,
    robot_from_params,
)


def declare(
    node: Node, name: str, description: str, default: Any = None, read_only: bool = True
) -> Any:
    """Declare `name` (dynamically typed: YAML '100' and '100.0' both work) and return its
    value, or None when it is neither set nor defaulted."""
    descriptor = ParameterDescriptor(
        description=description, dynamic_typing=True, read_only=read_only
    )
    if not node.has_parameter(name):
        node.declare_parameter(name, default, descriptor)
    try:
        return node.get_parameter(name).value
    except ParameterUninitializedException:
        return None


def declare_all(node: Node, specs: Iterable[tuple[str, str, Any]]) -> P.Parameters:
    """Declare (name, description, default) triples; return the ones that have a value."""
    values = {
        name: declare(node, name, description, default) for name, description, default in specs
    }
    return {name: value for name, value in values.items() if value is not None}


def _robot_specs(agent_names: list[str]) -> list[tuple[str, str, Any]]:
    specs: list[tuple[str, str, Any]] = [
        ("control_rate_hz", "agents' control loop rate (Hz)", None),
        ("revolute_tolerance", "a revolute move is done within this distance (rad)", None),
        ("prismatic_tolerance", "a prismatic move is done within this distance (m)", None),
        ("settle_timeout_s", "time a joint may take to settle after its motion (s)", None),
        ("state_timeout_s", "hold the joint when /joint_states is older than this (s)", None),
    ]
    specs += [
        (f"speed_fraction.{style}", f"share of the velocity limit when '{style}'", None)
        for style in ControlSettings().speed_fraction
    ]
    for agent in agent_names:
        specs += [
            (f"agents.{agent}.joint", f"joint driven by agent {agent}", None),
            (f"agents.{agent}.controller", f"forward command controller of {agent}", None),
            (f"agents.{agent}.kind", f"'joint' or 'gripper' ({agent})", None),
            (f"agents.{agent}.aliases", f"names people use for {agent}", None),
            (f"agents.{agent}.words", f"other words that may point at {agent}", None),
        ]
        specs += [
            (f"agents.{agent}.directions.{key}", f"{key} direction words of {agent}", None)
            for key in DIRECTION_LISTS
        ]
    return specs


def declare_robot(node: Node) -> RobotModel:
    """Declare the robot parameters (config/robot.yaml) on `node` and build the robot model."""
    flat = declare_all(
        node,
        [
            ("robot_description", "URDF or xacro file (absolute, or under share/urdf)", None),
            ("agent_names", "agents of the robot, one per joint or subsystem", None),
            ("pose_names", "named poses defined under poses.<name>.<joint>", None),
        ],
    )
    flat.update(declare_all(node, _robot_specs(P.string_list(flat, "agent_names", []))))
    urdf_xml = load_urdf(P.require(flat, "robot_description", str))
    pose_specs = [
        (f"poses.{pose}.{joint}", f"{joint} in pose {pose} (rad or m)", None)
        for pose in P.string_list(flat, "pose_names", [])
        for joint in parse_urdf_joints(urdf_xml)
    ]
    flat.update(declare_all(node, pose_specs))
    flat.update(
        declare_all(
            node,
            [
                (f"pose_aliases.{pose}", f"other names of pose {pose}", None)
                for pose in P.string_list(flat, "pose_names", [])
            ],
        )
    )
    return robot_from_params(flat, urdf_xml)
