"""The node list of a bringup, as data: what `ros2 launch` and `llm-mas-ros up` both start.

launch/*.launch.py turn each NodeSpec into a launch_ros Node (`NodeSpec.launch_node()` holds
its keyword arguments); the pip-only launcher (launcher/processes.py) turns it into a command
line with the same --ros-args. One function decides what runs, so the two ways of starting the
system cannot drift apart.

Parameter order is the contract: the YAML files first, then the launch arguments as `-p`, all in
one `--ros-args` block that launch_ros passes through unchanged (`ros_arguments=`). Given to
launch_ros as `parameters=` instead, the files would land *after* the overrides (launch_ros
writes `ros_arguments` first) and win over them, and an override dict would be written under
'/**', which a node's own section of a file outranks.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.errors import ConfigError
from ..core.robot import param_files as P
from ..core.robot.share import resolve, share_path

PACKAGE = "llm_mas_ros"
SIMULATORS = ("mujoco", "gazebo", "none")
AGENT_LAYOUTS = ("grouped", "separate")
PARTS = ("all", "robot", "agents", "planner")  # what one machine runs: all, or one side
FASTDDS_PROFILE_ENV = "FASTDDS_DEFAULT_PROFILES_FILE"
LEGACY_FASTDDS_PROFILE_ENV = "FASTRTPS_DEFAULT_PROFILES_FILE"  # Fast DDS 2.x (ROS Humble)
HOST_NODE = "agent_host"  # the node that steps all agents of an agents process
ROBOT_NAME = "llm_arm"  # the model's name in Gazebo
JOINT_STATE_BROADCASTER = "joint_state_broadcaster"
CONTROLLER_MANAGER = "/controller_manager"
CLOCK_BRIDGE = "/clock@rosgraph_msgs/msg/Clock[gz.msgs.Clock"  # Gazebo -> ROS only


@dataclass(frozen=True)
class Xacro:
    """A parameter whose value is a xacro file expanded at launch (robot_description): the
    launch file runs `xacro FILE NAME:=VALUE...`, the ROS tool, when it starts the node."""

    file: str
    args: tuple[tuple[str, str], ...] = ()

    def command(self) -> list[str]:
        return ["xacro", self.file, *(f"{name}:={value}" for name, value in self.args)]


@dataclass(frozen=True)
class NodeSpec:
    """One process to start: `executable` of `package` (for ros2 launch); for this package's
    nodes also a module with a main() (`module`, for `python -m`); its node name, parameters
    and remappings. `name` is None for processes that host several nodes (they name their nodes
    themselves) and for other packages' tools that take no name (spawner, create).
    `parameters` override `parameter_files`; `arguments` are the executable's own (non-ROS)
    command-line arguments."""

    executable: str
    module: str | None
    name: str | None
    parameter_files: tuple[str, ...] = ()
    parameters: Mapping[str, Any] = field(default_factory=dict)
    remappings: tuple[tuple[str, str], ...] = ()
    package: str = PACKAGE
    arguments: tuple[str, ...] = ()

    def ros_arguments(self) -> list[str]:
        """The --ros-args that give this process its name, parameters and remappings (the
        pip-only launcher's command line)."""
        if self.xacro_parameters():
            raise ConfigError(
                f"{self.executable} needs xacro at launch: start it with ros2 launch"
            )
        rename = ["-r", f"__node:={self.name}"] if self.name else []
        return ["--ros-args", *rename, *self.ros_rules()]

    def ros_rules(self) -> list[str]:
        """Parameter files, then overrides, then remappings: later wins, so the overrides
        (launch arguments) beat the files."""
        args: list[str] = []
        for file in self.parameter_files:
            args += ["--params-file", file]
        args += self.parameter_arguments()
        for source, target in self.remappings:
            args += ["-r", f"{source}:={target}"]
        return args

    def parameter_arguments(self) -> list[str]:
        """`-p` arguments for `parameters` (xacro-valued ones excepted), which override the
        parameter files. Scoped to the node when it is named: an unscoped `-p` joins the '/**'
        parameters, over which a node's own section of a parameter file (planner.yaml's
        `planner:`) takes precedence."""
        scope = f"{self.name}:" if self.name else ""
        return [
            arg
            for key, value in self.parameters.items()
            if not isinstance(value, Xacro)
            for arg in ("-p", f"{scope}{key}:={_yaml_value(value)}")
        ]

    def xacro_parameters(self) -> dict[str, Xacro]:
        """Parameters whose value is a xacro expansion: too large for `-p`, the launch file
        hands them to launch_ros as a parameters dict (written to a file it passes last)."""
        return {k: v for k, v in self.parameters.items() if isinstance(v, Xacro)}

    def launch_node(self) -> dict[str, Any]:
        """Keyword arguments of launch_ros.actions.Node, but for xacro parameters
        (xacro_parameters(): the launch file adds them as `parameters=[{...}]`)."""
        return {
            "package": self.package,
            "executable": self.executable,
            "name": self.name,
            "arguments": list(self.arguments),
            "ros_arguments": self.ros_rules(),
        }


def launch_argv(
    spec: NodeSpec, executable_path: str, generated_file: str = "<params>"
) -> list[str]:
    """The exact command line launch_ros builds for `Node(**spec.launch_node(), parameters=...)`
    (launch_ros/actions/node.py): executable, arguments, `--ros-args` + ros_arguments, then its
    own `--ros-args` block: `-r __node:=NAME` and a `--params-file` for the generated dict of
    xacro parameters (`generated_file`: a temporary file of launch_ros's naming)."""
    argv = [executable_path, *spec.arguments, "--ros-args", *spec.ros_rules(), "--ros-args"]
    if spec.name:
        argv += ["-r", f"__node:={spec.name}"]
    if spec.xacro_parameters():
        argv += ["--params-file", generated_file]
    return argv


def _yaml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_yaml_value(v) for v in value) + "]"
    if isinstance(value, str):
        return f"'{value}'" if value == "" or any(c in value for c in " :,[]{}#") else value
    return str(value)


def config_files(config_dir: str | Path | None = None) -> dict[str, Path]:
    """robot.yaml, sim.yaml and planner.yaml from `config_dir` (default: the package's)."""
    folder = Path(config_dir) if config_dir else share_path("config")
    files = {name: folder / f"{name}.yaml" for name in ("robot", "sim", "planner")}
    missing = [str(path) for path in files.values() if not path.is_file()]
    if missing:
        raise ConfigError(f"missing config file(s): {', '.join(missing)}")
    return files


def controllers_file(config_dir: str | Path | None = None) -> Path:
    """The ros2_control controllers of `config_dir`, else the package's."""
    mine = Path(config_dir) / "controllers.yaml" if config_dir else None
    return mine if mine and mine.is_file() else share_path("config", "controllers.yaml")


def node_list(
    sim: str = "mujoco",
    config_dir: str | Path | None = None,
    agents: str = "grouped",
    planner_backend: str | None = None,
    remappings: Sequence[tuple[str, str]] = (),
    part: str = "all",
    use_sim_time: bool = False,
    sim_parameters: Mapping[str, Any] | None = None,
) -> list[NodeSpec]:
    """This package's nodes: the MuJoCo simulator (sim='mujoco'), agents (one process for all,
    or one each) and the planner; `part` picks one side for multi-machine use. Every node gets
    `use_sim_time` when set (Gazebo's /clock). `planner_backend` overrides config/planner.yaml's
    `backend`, `sim_parameters` config/sim.yaml's (viewer, record). What sim='gazebo' and
    sim='none' add from other packages: robot_nodes()."""
    _check_choice("sim", sim, SIMULATORS)
    _check_choice("agents", agents, AGENT_LAYOUTS)
    _check_choice("part", part, PARTS)
    files = config_files(config_dir)
    robot_file = str(files["robot"])
    remaps = tuple(remappings)
    clock = {"use_sim_time": True} if use_sim_time else {}
    specs: list[NodeSpec] = []
    if sim == "mujoco" and part in ("all", "robot"):
        specs.append(
            NodeSpec(
                "llm_mas_sim",
                f"{PACKAGE}.nodes.sim_node",
                "mujoco_sim",
                (robot_file, str(files["sim"])),
                dict(sim_parameters or {}),
                remaps,
            )
        )
    if part in ("all", "agents"):
        if agents == "grouped":
            specs.append(_agents_process(robot_file, clock, remaps))
        else:
            for agent in _agent_names(robot_file):
                # Node-targeted rename: only the host node of this process is renamed.
                rename = ((f"{HOST_NODE}:__node", f"{HOST_NODE}_{agent}"),)
                specs.append(
                    _agents_process(robot_file, {"agents": [agent], **clock}, rename + remaps)
                )
    if part in ("all", "planner"):
        overrides = {"backend": planner_backend} if planner_backend else {}
        specs.append(
            NodeSpec(
                "llm_mas_planner",
                f"{PACKAGE}.nodes.planner_node",
                "planner",
                (robot_file, str(files["planner"])),
                {**overrides, **clock},
                remaps,
            )
        )
    return specs


def robot_nodes(
    sim: str, config_dir: str | Path | None = None, hardware: str = "mock"
) -> list[NodeSpec]:
    """What drives the joints when the MuJoCo sim does not, from other packages:

    sim='gazebo': robot_state_publisher (the xacro with hardware:=gazebo, whose
    gz_ros2_control plugin runs the controller manager inside Gazebo), ros_gz_sim `create`
    spawning it from /robot_description, the /clock bridge, and the controller spawners; all on
    sim time. Gazebo itself comes from ros_gz_sim's gz_sim.launch.py (the launch file includes it).

    sim='none' (a real robot, or hardware='mock' for mock_components): robot_state_publisher
    (the xacro with `hardware`), the controller manager (ros2_control_node with
    controllers.yaml; it reads /robot_description) and the spawners.

    Spawners: joint_state_broadcaster, then one forward_command_controller per agent (the
    `controller` of each agent in robot.yaml, whose <controller>/commands the agents publish)."""
    _check_choice("sim", sim, SIMULATORS)
    if sim == "mujoco":
        return []
    files = config_files(config_dir)
    robot = P.load_parameters([files["robot"]])
    description = str(resolve(P.require(robot, "robot_description", str), "urdf"))
    controllers = controllers_file(config_dir)
    gazebo = sim == "gazebo"
    clock = {"use_sim_time": True} if gazebo else {}
    xacro_args = [("hardware", "gazebo" if gazebo else hardware)]
    if gazebo:
        xacro_args.append(("controllers", str(controllers)))
    specs = [
        NodeSpec(
            "robot_state_publisher",
            None,
            "robot_state_publisher",
            parameters={"robot_description": Xacro(description, tuple(xacro_args)), **clock},
            package="robot_state_publisher",
        )
    ]
    if gazebo:
        specs += [
            NodeSpec(
                "create",
                None,
                None,
                package="ros_gz_sim",
                arguments=("-topic", "robot_description", "-name", ROBOT_NAME),
            ),
            NodeSpec(
                "parameter_bridge",
                None,
                "clock_bridge",
                package="ros_gz_bridge",
                arguments=(CLOCK_BRIDGE,),
            ),
        ]
    else:
        specs.append(
            NodeSpec(
                "ros2_control_node",
                None,
                CONTROLLER_MANAGER.lstrip("/"),
                (str(controllers),),
                remappings=(("~/robot_description", "/robot_description"),),
                package="controller_manager",
            )
        )
    forward = [
        P.require(robot, f"agents.{agent}.controller", str)
        for agent in _agent_names(files["robot"])
    ]
    for controller in (JOINT_STATE_BROADCASTER, *forward):
        specs.append(
            NodeSpec(
                "spawner",
                None,
                None,
                parameters=clock,
                package="controller_manager",
                arguments=(controller, "--controller-manager", CONTROLLER_MANAGER),
            )
        )
    return specs


def launch_nodes(
    sim: str = "mujoco",
    config_dir: str | Path | None = None,
    agents: str = "grouped",
    planner_backend: str | None = None,
    hardware: str = "mock",
    part: str = "all",
    use_sim_time: bool | None = None,
) -> list[NodeSpec]:
    """Every node `ros2 launch` starts: robot_nodes() (for part all or robot), then
    node_list(); on sim time under Gazebo unless `use_sim_time` says otherwise (an agents or
    planner machine beside a Gazebo one sets it)."""
    robot = robot_nodes(sim, config_dir, hardware) if part in ("all", "robot") else []
    clock = sim == "gazebo" if use_sim_time is None else use_sim_time
    return robot + node_list(
        sim, config_dir, agents, planner_backend, part=part, use_sim_time=clock
    )


def _check_choice(what: str, value: str, choices: Sequence[str]) -> None:
    if value not in choices:
        raise ConfigError(f"{what} must be one of {', '.join(choices)}, got {value!r}")


def _agents_process(
    robot_file: str, parameters: Mapping[str, Any], remappings: tuple[tuple[str, str], ...]
) -> NodeSpec:
    """A process hosting agents (all of them, or those in parameters['agents'])."""
    return NodeSpec(
        "llm_mas_agents",
        f"{PACKAGE}.nodes.agents_node",
        None,
        (robot_file,),
        parameters,
        remappings,
    )


def _agent_names(robot_file: str | Path) -> list[str]:
    return P.string_list(P.load_parameters([robot_file]), "agent_names")


def dds_environment(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment for the processes we start and for the CLI's own node: our Fast DDS profile
    (fast initial announcements, so a late joiner is discovered in ms instead of ~3 s) unless
    one is set, under the current or the legacy (FASTRTPS_) name."""
    env = dict(os.environ if base is None else base)
    if not any(env.get(name) for name in (FASTDDS_PROFILE_ENV, LEGACY_FASTDDS_PROFILE_ENV)):
        env[FASTDDS_PROFILE_ENV] = str(share_path("config", "fastdds.xml"))
    return env
