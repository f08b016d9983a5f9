"""The robot model: joints and limits from the URDF, agents and named poses from config.

Nothing about the reference arm is written here: another robot is another URDF and YAML.
Units: rad and rad/s for revolute joints, m and m/s for prismatic joints.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from . import param_files as P
from .share import resolve, share_path

MOVABLE_JOINT_TYPES = ("revolute", "prismatic", "continuous")
AGENT_KINDS = ("joint", "gripper")
DIRECTION_LISTS = ("positive", "negative", "neutral", "zero")  # Directions' fields, in order


@dataclass(frozen=True)
class Joint:
    """One movable URDF joint and its limits (rad or m; rad/s or m/s; N*m or N)."""

    name: str
    kind: str
    lower: float
    upper: float
    velocity: float
    effort: float
    mimic: str | None = None

    @property
    def unit(self) -> str:
        return "m" if self.kind == "prismatic" else "rad"

    def contains(self, position: float) -> bool:
        return math.isfinite(position) and self.lower <= position <= self.upper

    def clamp(self, position: float) -> float:
        return min(max(position, self.lower), self.upper)

    def describe_limits(self) -> str:
        """The range in the unit people use for this joint, e.g. '[-160.4, 160.4] deg'."""
        if self.kind == "prismatic":
            return f"[{self.lower * 1000:g}, {self.upper * 1000:g}] mm"
        return f"[{math.degrees(self.lower):.1f}, {math.degrees(self.upper):.1f}] deg"


def _float_attr(element: ElementTree.Element, name: str, where: str) -> float:
    try:
        return float(element.attrib[name])
    except (KeyError, ValueError) as error:
        raise ConfigError(f"URDF {where}: missing or invalid attribute {name!r}") from error


def parse_urdf_joints(urdf_xml: str) -> dict[str, Joint]:
    """Movable joints of a URDF, in document order. Continuous joints get +-inf position limits."""
    try:
        root = ElementTree.fromstring(urdf_xml)
    except ElementTree.ParseError as error:
        raise ConfigError(f"URDF is not valid XML: {error}") from error
    joints: dict[str, Joint] = {}
    for element in root.iter("joint"):
        kind = element.get("type", "")
        name = element.get("name", "")
        if kind not in MOVABLE_JOINT_TYPES:
            continue
        limit = element.find("limit")
        if limit is None and kind != "continuous":
            raise ConfigError(f"URDF joint {name!r} ({kind}) has no <limit>")
        where = f"joint {name!r}"
        lower, upper, velocity, effort = -math.inf, math.inf, math.inf, math.inf
        if limit is not None:
            velocity = _float_attr(limit, "velocity", where)
            effort = _float_attr(limit, "effort", where)
            if kind != "continuous":
                lower, upper = (
                    _float_attr(limit, "lower", where),
                    _float_attr(limit, "upper", where),
                )
        mimic = element.find("mimic")
        joints[name] = Joint(
            name=name,
            kind=kind,
            lower=lower,
            upper=upper,
            velocity=velocity,
            effort=effort,
            mimic=mimic.get("joint") if mimic is not None else None,
        )
    return joints


def load_urdf(path: str | Path, xacro_args: Mapping[str, str] | None = None) -> str:
    """URDF XML from a .urdf file, or from a .xacro file expanded with `xacro_args`."""
    file = resolve(path, "urdf")
    if not file.is_file():
        raise ConfigError(f"robot description {file} does not exist")
    if file.suffix != ".xacro":
        return file.read_text()
    import xacro  # imported here: only xacro robots pay for it

    try:
        document = xacro.process_file(str(file), mappings=dict(xacro_args or {}))
    except Exception as error:  # xacro raises bare Exceptions with useful messages
        raise ConfigError(f"xacro failed on {file}: {error}") from error
    return document.toxml()


@dataclass(frozen=True)
class ControlSettings:
    """How agents run: loop rate (Hz), done tolerances (rad / m), timeouts (s), speeds."""

    rate_hz: float = 100.0
    revolute_tolerance: float = 0.005
    prismatic_tolerance: float = 0.0005
    settle_timeout_s: float = 2.0
    state_timeout_s: float = 0.5
    speed_fraction: Mapping[str, float] = field(
        default_factory=lambda: {"default": 0.4, "slowly": 0.15, "gently": 0.25, "quickly": 0.85}
    )

    def tolerance(self, joint: Joint) -> float:
        return self.prismatic_tolerance if joint.kind == "prismatic" else self.revolute_tolerance


@dataclass(frozen=True)
class Directions:
    """Words that say which way an agent moves, by the sign of its joint value: for a base
    turning about +z, 'left' is + (REP 103, right-hand rule). A phrase may be several words
    ('let go'). `neutral` phrases hold a direction word but state no direction ('right now',
    'back to'): they are read before the others and mean nothing. `zero` phrases name the
    joint's zero ('upright', 'centre'): a target of 0 whichever way the agent moves."""

    positive: tuple[str, ...] = ()
    negative: tuple[str, ...] = ()
    neutral: tuple[str, ...] = ()
    zero: tuple[str, ...] = ()

    def signs(self) -> dict[str, int]:
        """Each phrase and its sign: +1, -1, or 0 for a neutral one."""
        return {
            **dict.fromkeys(self.neutral, 0),
            **dict.fromkeys(self.positive, 1),
            **dict.fromkeys(self.negative, -1),
        }


@dataclass(frozen=True)
class Agent:
    """One agent: a ROS node that drives one joint through its forward command controller."""

    name: str
    joint: Joint
    controller: str
    kind: str = "joint"
    aliases: tuple[str, ...] = ()  # names people use for it: 'base', 'hand'
    words: tuple[str, ...] = ()  # other words that may point at it: 'roll', 'wave', 'left'
    directions: Directions = Directions()  # which way 'left', 'up', 'open' move it

    @property
    def goal_topic(self) -> str:
        """Relative, so a namespaced robot (/robot1/elbow/goal) works unchanged."""
        return f"{self.name}/goal"

    @property
    def command_topic(self) -> str:
        return f"{self.controller}/commands"

    @property
    def open_position(self) -> float | None:
        """Where 'open' goes (m): the URDF upper limit of a gripper; None for other agents."""
        return self.joint.upper if self.kind == "gripper" else None

    @property
    def closed_position(self) -> float | None:
        return self.joint.lower if self.kind == "gripper" else None


@dataclass(frozen=True)
class RobotModel:
    """Joints, agents, named poses and control settings of one robot."""

    urdf_xml: str
    joints: Mapping[str, Joint]
    agents: tuple[Agent, ...]
    poses: Mapping[str, Mapping[str, float]]
    control: ControlSettings = ControlSettings()
    pose_aliases: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @cached_property
    def _agents_by_name(self) -> dict[str, Agent]:
        return {agent.name: agent for agent in self.agents}

    @property
    def agent_names(self) -> tuple[str, ...]:
        return tuple(agent.name for agent in self.agents)

    @property
    def joint_names(self) -> tuple[str, ...]:
        """The agents' joints, in agent order."""
        return tuple(agent.joint.name for agent in self.agents)

    def agent(self, name: str) -> Agent:
        try:
            return self._agents_by_name[name]
        except KeyError:
            known = ", ".join(self.agent_names)
            raise ConfigError(f"unknown agent {name!r} (known: {known})") from None

    def has_agent(self, name: str) -> bool:
        return name in self._agents_by_name

    def pose(self, name: str) -> Mapping[str, float]:
        try:
            return self.poses[name]
        except KeyError:
            known = ", ".join(self.poses)
            raise ConfigError(f"unknown pose {name!r} (known: {known})") from None


def _agent_from_params(name: str, params: Mapping[str, Any], joints: Mapping[str, Joint]) -> Agent:
    section = P.subtree(params, f"agents.{name}")
    joint_name = P.require(section, "joint", str)
    if joint_name not in joints:
        raise ConfigError(f"agent {name!r}: joint {joint_name!r} is not a movable URDF joint")
    if joints[joint_name].mimic:
        raise ConfigError(f"agent {name!r}: joint {joint_name!r} mimics another joint")
    kind = P.optional(section, "kind", str, "joint")
    if kind not in AGENT_KINDS:
        raise ConfigError(f"agent {name!r}: kind must be one of {AGENT_KINDS}, got {kind!r}")
    return Agent(
        name=name,
        joint=joints[joint_name],
        controller=P.optional(section, "controller", str, f"{name}_position_controller"),
        kind=kind,
        aliases=tuple(P.string_list(section, "aliases", [])),
        words=tuple(P.string_list(section, "words", [])),
        directions=_directions_from_params(name, section),
    )


def _directions_from_params(agent: str, section: Mapping[str, Any]) -> Directions:
    """`directions.positive / negative / neutral / zero` of one agent, each phrase in one list
    only."""
    lists = {key: P.string_list(section, f"directions.{key}", []) for key in DIRECTION_LISTS}
    unknown = set(P.subtree(section, "directions")) - set(DIRECTION_LISTS)
    if unknown:
        raise ConfigError(
            f"agent {agent!r}: unknown directions key(s) {sorted(unknown)} "
            f"(known: {', '.join(DIRECTION_LISTS)})"
        )
    owner: dict[str, str] = {}
    for key, phrases in lists.items():
        for phrase in phrases:
            words = " ".join(phrase.lower().split())
            if not words:
                raise ConfigError(f"agent {agent!r}: directions.{key} holds an empty phrase")
            if owner.setdefault(words, key) != key:
                raise ConfigError(
                    f"agent {agent!r}: direction {phrase!r} is both {owner[words]} and {key}"
                )
    return Directions(*(tuple(lists[key]) for key in DIRECTION_LISTS))


def _poses_from_params(
    params: Mapping[str, Any], joints: Mapping[str, Joint]
) -> dict[str, dict[str, float]]:
    poses: dict[str, dict[str, float]] = {}
    for pose in P.string_list(params, "pose_names", []):
        values = {
            joint: P.require(params, f"poses.{pose}.{joint}", float)
            for joint in P.subtree(params, f"poses.{pose}")
        }
        if not values:
            raise ConfigError(f"pose {pose!r} names no joints")
        for joint, position in values.items():
            if joint not in joints:
                raise ConfigError(f"pose {pose!r}: {joint!r} is not a movable URDF joint")
            if not joints[joint].contains(position):
                raise ConfigError(
                    f"pose {pose!r}: {joint} = {position} is outside its URDF limits"
                )
        poses[pose] = values
    return poses


def _pose_aliases_from_params(
    params: Mapping[str, Any], poses: Mapping[str, Any]
) -> dict[str, tuple[str, ...]]:
    aliases = {}
    for pose in P.subtree(params, "pose_aliases"):
        if pose not in poses:
            raise ConfigError(f"pose_aliases.{pose}: no such pose (known: {', '.join(poses)})")
        aliases[pose] = tuple(P.string_list(params, f"pose_aliases.{pose}"))
    return aliases


def _control_from_params(params: Mapping[str, Any]) -> ControlSettings:
    defaults = ControlSettings()
    speeds = dict(defaults.speed_fraction)
    speeds.update(
        {
            k: P.require(params, f"speed_fraction.{k}", float)
            for k in P.subtree(params, "speed_fraction")
        }
    )
    for style, fraction in speeds.items():
        if not 0.0 < fraction <= 1.0:
            raise ConfigError(f"speed_fraction.{style} must be in (0, 1], got {fraction}")
    settings = ControlSettings(
        rate_hz=P.optional(params, "control_rate_hz", float, defaults.rate_hz),
        revolute_tolerance=P.optional(
            params, "revolute_tolerance", float, defaults.revolute_tolerance
        ),
        prismatic_tolerance=P.optional(
            params, "prismatic_tolerance", float, defaults.prismatic_tolerance
        ),
        settle_timeout_s=P.optional(params, "settle_timeout_s", float, defaults.settle_timeout_s),
        state_timeout_s=P.optional(params, "state_timeout_s", float, defaults.state_timeout_s),
        speed_fraction=speeds,
    )
    if settings.rate_hz <= 0 or settings.state_timeout_s <= 0 or settings.settle_timeout_s < 0:
        raise ConfigError("control_rate_hz and state_timeout_s must be > 0, settle_timeout_s >= 0")
    return settings


def robot_from_params(params: Mapping[str, Any], urdf_xml: str | None = None) -> RobotModel:
    """Build and validate the robot model from flat parameters (rclpy's or load_parameters')."""
    if urdf_xml is None:
        urdf_xml = load_urdf(P.require(params, "robot_description", str))
    joints = parse_urdf_joints(urdf_xml)
    names = P.string_list(params, "agent_names")
    if not names:
        raise ConfigError("agent_names is empty: a robot needs at least one agent")
    if len(set(names)) != len(names):
        raise ConfigError(f"agent_names has duplicates: {names}")
    agents = tuple(_agent_from_params(name, params, joints) for name in names)
    driven = [agent.joint.name for agent in agents]
    if len(set(driven)) != len(driven):
        raise ConfigError(f"two agents drive the same joint: {driven}")
    poses = _poses_from_params(params, joints)
    return RobotModel(
        urdf_xml=urdf_xml,
        joints=joints,
        agents=agents,
        poses=poses,
        control=_control_from_params(params),
        pose_aliases=_pose_aliases_from_params(params, poses),
    )


def default_config_files() -> list[Path]:
    return [share_path("config", "robot.yaml")]


def load_robot(files: Iterable[str | Path] | None = None) -> RobotModel:
    """The robot model from parameter files (default: the package's config/robot.yaml)."""
    return robot_from_params(P.load_parameters(files or default_config_files()))


def joint_order(names: Sequence[str], wanted: Sequence[str]) -> list[int]:
    """Index in `names` of each of `wanted` (-1 where absent): maps a JointState onto agents."""
    lookup = {name: index for index, name in enumerate(names)}
    return [lookup.get(name, -1) for name in wanted]
