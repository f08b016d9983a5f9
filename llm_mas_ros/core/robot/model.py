"""The robot model: joints and limits from the URDF, agents and named poses from config.

Nothing about the reference arm is written here: another robot is another URDF and YAML.
Units: rad and rad/s for revolute joints, m and m/s for prismatic joints.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from . import param_files as P
from .schema import (
    NON_NEGATIVE,
    POSITIVE,
    ParameterSpec,
    ParamType,
    Range,
    read_parameters,
)
from .share import resolve, share_path


class Dimension(StrEnum):
    """What a joint value measures: an angle (rad) or a length (m)."""

    ANGLE = "angle"
    LENGTH = "length"

    @property
    def unit(self) -> str:
        """The SI unit of a position of this dimension."""
        return "m" if self is Dimension.LENGTH else "rad"


class JointType(StrEnum):
    """The movable URDF joint types."""

    REVOLUTE = "revolute"
    PRISMATIC = "prismatic"
    CONTINUOUS = "continuous"

    @property
    def dimension(self) -> Dimension:
        return Dimension.LENGTH if self is JointType.PRISMATIC else Dimension.ANGLE


class AgentKind(StrEnum):
    """`joint`: moves its joint to targets; `gripper`: also opens (URDF upper) and closes."""

    JOINT = "joint"
    GRIPPER = "gripper"


MOVABLE_JOINT_TYPES = tuple(JointType)
AGENT_KINDS = tuple(AgentKind)
DIRECTION_LISTS = ("positive", "negative", "neutral", "zero")  # Directions' fields, in order


@dataclass(frozen=True)
class Joint:
    """One movable URDF joint and its limits (rad or m; rad/s or m/s; N*m or N)."""

    name: str
    kind: JointType
    lower: float
    upper: float
    velocity: float
    effort: float
    mimic: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", JointType(self.kind))  # a plain 'prismatic' works too

    @property
    def dimension(self) -> Dimension:
        return self.kind.dimension

    @property
    def unit(self) -> str:
        return self.dimension.unit

    def contains(self, position: float) -> bool:
        return math.isfinite(position) and self.lower <= position <= self.upper

    def clamp(self, position: float) -> float:
        return min(max(position, self.lower), self.upper)

    def describe_limits(self) -> str:
        """The range in the unit people use for this joint, e.g. '[-160.4, 160.4] deg'."""
        if self.dimension is Dimension.LENGTH:
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
            kind=JointType(kind),
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
    return str(document.toxml())


class PolicyKind(StrEnum):
    """Which controller an agent runs: the minimum-jerk tracker, or the trained network (behind
    a runtime guard that falls back to the classical one)."""

    CLASSICAL = "classical"
    LEARNED = "learned"


class Rejoin(StrEnum):
    """What an agent that (re)joins the graph does with its standing goal, the latched last
    message on <agent>/goal: take it (as if just sent), or hold where the joint is."""

    STANDING_GOAL = "standing_goal"
    HOLD = "hold"


DEFAULT_POLICY_WEIGHTS = "agent_policy.npz"  # under share/llm_mas_ros/config/
POLICY_DEVICES = ("cpu", "cuda")


@dataclass(frozen=True)
class ControlSettings:
    """How agents run: loop rate (Hz), done tolerances (rad / m), timeouts (s), speeds, and
    which policy each agent runs (`policy`, overridden per agent by `policy_overrides`) with
    the learned one's weights and guard (`guard_violations` within `guard_window_s` s: the
    agent falls back to the classical controller)."""

    rate_hz: float = 100.0
    revolute_tolerance: float = 0.005
    prismatic_tolerance: float = 0.0005
    # A move whose size is vague ('a bit to the left', 'raise it a little'): rad / m.
    revolute_small_step: float = 0.174533  # 10 deg
    prismatic_small_step: float = 0.005
    settle_timeout_s: float = 2.0
    state_timeout_s: float = 0.5
    # No state for this many control periods: agents hold, stalled (0: only state_timeout_s).
    state_timeout_periods: int = 3
    # The agents process's real-time settings (core/control/realtime.py applies them).
    timer_slack_ns: int = 1
    cpu_affinity: str = ""  # CPUs as `taskset -c` takes them: "2", "0,2-3"; "" for all
    thread_priority: int = 0  # SCHED_FIFO priority of the control thread; 0: not real-time
    lock_memory: bool = False
    on_rejoin: Rejoin = Rejoin.STANDING_GOAL
    # How many nice steps below the control loops the planner's model decodes (SCHED_BATCH).
    decode_nice: int = 10
    speed_fraction: Mapping[str, float] = field(
        default_factory=lambda: {"default": 0.4, "slowly": 0.15, "gently": 0.25, "quickly": 0.85}
    )
    policy: PolicyKind = PolicyKind.CLASSICAL
    policy_overrides: Mapping[str, PolicyKind] = field(default_factory=dict)  # agent -> kind
    policy_weights: str = DEFAULT_POLICY_WEIGHTS  # .npz: absolute, or under share/config
    guard_violations: int = 5
    guard_window_s: float = 1.0
    policy_device: str = "cpu"  # where the learned network runs: cpu (numpy) or cuda (torch)

    def policy_of(self, agent: str) -> PolicyKind:
        """The policy agent `agent` runs: its own override, else the robot's."""
        return PolicyKind(self.policy_overrides.get(agent, self.policy))

    def policy_weights_path(self) -> Path:
        return resolve(self.policy_weights, "config")

    def tolerance(self, joint: Joint) -> float:
        if joint.dimension is Dimension.LENGTH:
            return self.prismatic_tolerance
        return self.revolute_tolerance

    def small_step(self, joint: Joint) -> float:
        """What 'a bit' moves `joint` (rad or m)."""
        if joint.dimension is Dimension.LENGTH:
            return self.prismatic_small_step
        return self.revolute_small_step


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
    kind: AgentKind = AgentKind.JOINT
    aliases: tuple[str, ...] = ()  # names people use for it: 'base', 'hand'
    words: tuple[str, ...] = ()  # other words that may point at it: 'roll', 'wave', 'left'
    directions: Directions = Directions()  # which way 'left', 'up', 'open' move it

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", AgentKind(self.kind))

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
        return self.joint.upper if self.kind is AgentKind.GRIPPER else None

    @property
    def closed_position(self) -> float | None:
        return self.joint.lower if self.kind is AgentKind.GRIPPER else None


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


_DEFAULT_CONTROL = ControlSettings()

# The robot's parameters (config/robot.yaml) that every robot has; per-agent, per-pose and
# per-speed-style ones come from robot_schema(). The parameters under ROBOT_PREFIXES are the
# robot's too, whatever their last name: an unknown one there is an error, not someone else's.
ROBOT_PARAMETERS = (
    ParameterSpec(
        "robot_description",
        ParamType.STRING,
        "URDF or xacro file (absolute, or under share/urdf)",
        required=True,
    ),
    ParameterSpec(
        "agent_names",
        ParamType.STRING_ARRAY,
        "agents of the robot, one per joint or subsystem (each configured under agents.<name>)",
        required=True,
    ),
    ParameterSpec(
        "pose_names", ParamType.STRING_ARRAY, "named poses, each under poses.<name>.<joint>"
    ),
    ParameterSpec(
        "control_rate_hz",
        ParamType.DOUBLE,
        "agents' control loop rate: commands are published this often",
        _DEFAULT_CONTROL.rate_hz,
        "Hz",
        POSITIVE,
    ),
    ParameterSpec(
        "revolute_tolerance",
        ParamType.DOUBLE,
        "a revolute move is done within this distance of its target",
        _DEFAULT_CONTROL.revolute_tolerance,
        "rad",
        POSITIVE,
    ),
    ParameterSpec(
        "prismatic_tolerance",
        ParamType.DOUBLE,
        "a prismatic move is done within this distance of its target",
        _DEFAULT_CONTROL.prismatic_tolerance,
        "m",
        POSITIVE,
    ),
    ParameterSpec(
        "revolute_small_step",
        ParamType.DOUBLE,
        "what a vague revolute move ('a bit to the left') moves",
        _DEFAULT_CONTROL.revolute_small_step,
        "rad",
        POSITIVE,
    ),
    ParameterSpec(
        "prismatic_small_step",
        ParamType.DOUBLE,
        "what a vague prismatic move ('open it a little') moves",
        _DEFAULT_CONTROL.prismatic_small_step,
        "m",
        POSITIVE,
    ),
    ParameterSpec(
        "settle_timeout_s",
        ParamType.DOUBLE,
        "time a joint may take to settle within tolerance after its motion",
        _DEFAULT_CONTROL.settle_timeout_s,
        "s",
        NON_NEGATIVE,
    ),
    ParameterSpec(
        "state_timeout_s",
        ParamType.DOUBLE,
        "an agent without /joint_states for this long fails its goal (ERROR) and holds",
        _DEFAULT_CONTROL.state_timeout_s,
        "s",
        POSITIVE,
    ),
    ParameterSpec(
        "state_timeout_periods",
        ParamType.INTEGER,
        "an agent without /joint_states for this many control periods holds its joint and "
        "reports WARN (stalled), and moves on when states return; 0: only state_timeout_s",
        _DEFAULT_CONTROL.state_timeout_periods,
        range=Range(0.0),
    ),
    ParameterSpec(
        "timer_slack_ns",
        ParamType.INTEGER,
        "timer slack of the agents process (Linux prctl PR_SET_TIMERSLACK; kernel default "
        "50000); 0: the kernel's default",
        _DEFAULT_CONTROL.timer_slack_ns,
        "ns",
        Range(0.0),
    ),
    ParameterSpec(
        "cpu_affinity",
        ParamType.STRING,
        "CPUs the agents process runs on, as taskset -c takes them ('2', '0,2-3'); '': any",
        _DEFAULT_CONTROL.cpu_affinity,
    ),
    ParameterSpec(
        "thread_priority",
        ParamType.INTEGER,
        "SCHED_FIFO priority of the agents' control thread where permitted; 0: not real-time",
        _DEFAULT_CONTROL.thread_priority,
        range=Range(0.0, 99.0),
    ),
    ParameterSpec(
        "lock_memory",
        ParamType.BOOL,
        "lock the agents process's memory in RAM (mlockall): no page faults in the loop",
        _DEFAULT_CONTROL.lock_memory,
    ),
    ParameterSpec(
        "decode_nice",
        ParamType.INTEGER,
        "the planner's decoding thread runs SCHED_BATCH and this many nice steps below the "
        "control loops, so decoding never starves them on a small computer; 0: not lowered",
        _DEFAULT_CONTROL.decode_nice,
        range=Range(0.0, 19.0),
    ),
    ParameterSpec(
        "on_rejoin",
        ParamType.STRING,
        "what a (re)started agent does with its standing goal (the latched <agent>/goal): "
        "standing_goal takes it, hold ignores it and holds where the joint is",
        _DEFAULT_CONTROL.on_rejoin.value,
        choices=tuple(Rejoin),
    ),
    ParameterSpec(
        "policy",
        ParamType.STRING,
        "agents' controller: classical (minimum-jerk) or learned (the trained network behind "
        "a runtime guard); agents.<name>.policy overrides it for one agent",
        _DEFAULT_CONTROL.policy.value,
        choices=tuple(PolicyKind),
    ),
    ParameterSpec(
        "policy_weights",
        ParamType.STRING,
        "weights of the learned policy (.npz, absolute or under share/config); unreadable "
        "weights: the classical controller, with a warning",
        _DEFAULT_CONTROL.policy_weights,
    ),
    ParameterSpec(
        "policy_device",
        ParamType.STRING,
        "where the learned network runs: cpu (numpy, every agent of a process in one batched "
        "call: the measured choice for a few agents) or cuda (torch on the robot's GPU; "
        "without one, cpu and a warning)",
        _DEFAULT_CONTROL.policy_device,
        choices=POLICY_DEVICES,
    ),
    ParameterSpec(
        "policy_guard_violations",
        ParamType.INTEGER,
        "a learned agent whose commands the guard clips this often within "
        "policy_guard_window_s falls back to the classical controller for good",
        _DEFAULT_CONTROL.guard_violations,
        range=Range(1.0),
    ),
    ParameterSpec(
        "policy_guard_window_s",
        ParamType.DOUBLE,
        "window of policy_guard_violations",
        _DEFAULT_CONTROL.guard_window_s,
        "s",
        POSITIVE,
    ),
)
ROBOT_PREFIXES = ("agents.", "poses.", "pose_aliases.", "speed_fraction.")
_ROBOT_NAMES = frozenset(spec.name for spec in ROBOT_PARAMETERS)
SPEED_FRACTION_RANGE = Range(0.0, 1.0, low_open=True)


def is_robot_parameter(name: str) -> bool:
    """Whether `name` belongs to the robot's configuration (config/robot.yaml)."""
    return name in _ROBOT_NAMES or name.startswith(ROBOT_PREFIXES)


def _agent_specs(agent: str) -> list[ParameterSpec]:
    def words(key: str, meaning: str) -> ParameterSpec:
        return ParameterSpec(f"agents.{agent}.{key}", ParamType.STRING_ARRAY, meaning)

    return [
        ParameterSpec(
            f"agents.{agent}.joint",
            ParamType.STRING,
            f"movable URDF joint driven by agent {agent}",
            required=True,
        ),
        ParameterSpec(
            f"agents.{agent}.controller",
            ParamType.STRING,
            f"forward_command_controller of {agent}: it publishes <controller>/commands",
            f"{agent}_position_controller",
        ),
        ParameterSpec(
            f"agents.{agent}.kind",
            ParamType.STRING,
            f"what {agent} is: a gripper also opens (URDF upper limit) and closes (lower)",
            AgentKind.JOINT.value,
            choices=tuple(AgentKind),
        ),
        ParameterSpec(
            f"agents.{agent}.policy",
            ParamType.STRING,
            f"controller of {agent}, instead of the robot's `policy`",
            choices=tuple(PolicyKind),
        ),
        words("aliases", f"names people use for {agent}"),
        words("words", f"other words that may point at {agent}"),
        *(
            words(f"directions.{key}", f"phrases that say the {key} way for {agent}")
            for key in DIRECTION_LISTS
        ),
    ]


def _pose_specs(
    params: Mapping[str, Any], joints: Mapping[str, Joint], pose: str
) -> list[ParameterSpec]:
    """One parameter per joint the pose names (a pose may name a subset), ranged by the joint's
    URDF limits."""
    specs = []
    for name in P.subtree(params, f"poses.{pose}"):
        joint = joints.get(name)
        if joint is None:
            raise ConfigError(f"pose {pose!r}: {name!r} is not a movable URDF joint")
        specs.append(
            ParameterSpec(
                f"poses.{pose}.{name}",
                ParamType.DOUBLE,
                f"position of {name} in pose {pose}",
                unit=joint.unit,
                range=Range(joint.lower, joint.upper),
                required=True,
            )
        )
    if not specs:
        raise ConfigError(f"pose {pose!r} names no joints")
    return specs


def robot_schema(params: Mapping[str, Any], joints: Mapping[str, Joint]) -> list[ParameterSpec]:
    """Every parameter of the robot that `params` configures: the fixed ones, each agent's,
    each named pose's (the joints it names), `pose_aliases.<pose>`, and a speed fraction per
    style word (the defaults' and any other `speed_fraction.<style>` given)."""
    specs = list(ROBOT_PARAMETERS)
    given = dict.fromkeys(P.subtree(params, "speed_fraction"))
    styles: dict[str, float | None] = {**given, **_DEFAULT_CONTROL.speed_fraction}
    specs += [
        ParameterSpec(
            f"speed_fraction.{style}",
            ParamType.DOUBLE,
            f"speed when a goal says '{style}': a share of each joint's URDF velocity limit",
            default,
            range=SPEED_FRACTION_RANGE,
        )
        for style, default in styles.items()
    ]
    names = P.string_list(params, "agent_names", [])
    if "agent_names" in params and not names:
        raise ConfigError("agent_names is empty: a robot needs at least one agent")
    if len(set(names)) != len(names):
        raise ConfigError(f"agent_names has duplicates: {names}")
    for agent in names:
        specs += _agent_specs(agent)
    for pose in P.string_list(params, "pose_names", []):
        specs += _pose_specs(params, joints, pose)
        specs.append(
            ParameterSpec(
                f"pose_aliases.{pose}", ParamType.STRING_ARRAY, f"other names of pose {pose}"
            )
        )
    return specs


def _agent_from_params(name: str, values: Mapping[str, Any], joints: Mapping[str, Joint]) -> Agent:
    section = P.subtree(values, f"agents.{name}")
    joint_name = section["joint"]
    if joint_name not in joints:
        raise ConfigError(f"agent {name!r}: joint {joint_name!r} is not a movable URDF joint")
    if joints[joint_name].mimic:
        raise ConfigError(f"agent {name!r}: joint {joint_name!r} mimics another joint")
    return Agent(
        name=name,
        joint=joints[joint_name],
        controller=section["controller"],
        kind=AgentKind(section["kind"]),
        aliases=section.get("aliases", ()),
        words=section.get("words", ()),
        directions=_directions_from_params(name, section),
    )


def _directions_from_params(agent: str, section: Mapping[str, Any]) -> Directions:
    """`directions.positive / negative / neutral / zero` of one agent, each phrase in one list
    only."""
    lists = {key: section.get(f"directions.{key}", ()) for key in DIRECTION_LISTS}
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
    return Directions(*(lists[key] for key in DIRECTION_LISTS))


def _control_from_params(values: Mapping[str, Any]) -> ControlSettings:
    return ControlSettings(
        rate_hz=values["control_rate_hz"],
        revolute_tolerance=values["revolute_tolerance"],
        prismatic_tolerance=values["prismatic_tolerance"],
        revolute_small_step=values["revolute_small_step"],
        prismatic_small_step=values["prismatic_small_step"],
        settle_timeout_s=values["settle_timeout_s"],
        state_timeout_s=values["state_timeout_s"],
        state_timeout_periods=values["state_timeout_periods"],
        timer_slack_ns=values["timer_slack_ns"],
        cpu_affinity=values["cpu_affinity"],
        thread_priority=values["thread_priority"],
        lock_memory=values["lock_memory"],
        on_rejoin=Rejoin(values["on_rejoin"]),
        decode_nice=values["decode_nice"],
        speed_fraction=dict(P.subtree(values, "speed_fraction")),
        policy=PolicyKind(values["policy"]),
        policy_overrides={
            name: PolicyKind(values[f"agents.{name}.policy"])
            for name in values["agent_names"]
            if f"agents.{name}.policy" in values
        },
        policy_weights=values["policy_weights"],
        guard_violations=values["policy_guard_violations"],
        guard_window_s=values["policy_guard_window_s"],
        policy_device=values["policy_device"],
    )


def robot_from_params(params: Mapping[str, Any], urdf_xml: str | None = None) -> RobotModel:
    """Build and validate the robot model from flat parameters (rclpy's or load_parameters'):
    the robot's parameters only (a file's unknown key is refused, naming the key and file)."""
    if urdf_xml is None:
        urdf_xml = load_urdf(P.require(params, "robot_description", str))
    joints = parse_urdf_joints(urdf_xml)
    values = read_parameters(robot_schema(params, joints), params)
    agents = tuple(_agent_from_params(name, values, joints) for name in values["agent_names"])
    driven = [agent.joint.name for agent in agents]
    if len(set(driven)) != len(driven):
        raise ConfigError(f"two agents drive the same joint: {driven}")
    poses = {
        pose: dict(P.subtree(values, f"poses.{pose}")) for pose in values.get("pose_names", ())
    }
    return RobotModel(
        urdf_xml=urdf_xml,
        joints=joints,
        agents=agents,
        poses=poses,
        control=_control_from_params(values),
        pose_aliases={
            pose: values[f"pose_aliases.{pose}"]
            for pose in poses
            if f"pose_aliases.{pose}" in values
        },
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
