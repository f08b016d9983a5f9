"""The node list of a bringup, as data: what `ros2 launch` and `llm-mas-ros up` both start.

launch/bringup.launch.py turns each NodeSpec into a launch_ros Node; the pip-only launcher
(core/processes.py) turns it into a command line with the same --ros-args. One function decides
what runs, so the two ways of starting the system cannot drift apart.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.errors import ConfigError
from ..core.robot import param_files as P
from ..core.robot.share import share_path

PACKAGE = "llm_mas_ros"
SIMULATORS = ("mujoco", "none")
AGENT_LAYOUTS = ("grouped", "separate")
FASTDDS_PROFILE_ENV = "FASTDDS_DEFAULT_PROFILES_FILE"
LEGACY_FASTDDS_PROFILE_ENV = "FASTRTPS_DEFAULT_PROFILES_FILE"  # Fast DDS 2.x (ROS Humble)
HOST_NODE = "agent_host"  # the node that steps all agents of an agents process


@dataclass(frozen=True)
class NodeSpec:
    """One process to start: a console script (`executable`, for ros2 launch) that is also a
    module with a main() (`module`, for `python -m`), its node name, parameters and remappings.
    `name` is None for processes that host several nodes (they name their nodes themselves)."""

    executable: str
    module: str
    name: str | None
    parameter_files: tuple[str, ...] = ()
    parameters: Mapping[str, Any] = field(default_factory=dict)
    remappings: tuple[tuple[str, str], ...] = ()

    def ros_arguments(self) -> list[str]:
        """The --ros-args that give this process its name, parameters and remappings."""
        args = ["--ros-args"]
        if self.name:
            args += ["-r", f"__node:={self.name}"]
        for file in self.parameter_files:
            args += ["--params-file", file]
        args += self.parameter_arguments()
        for source, target in self.remappings:
            args += ["-r", f"{source}:={target}"]
        return args

    def parameter_arguments(self) -> list[str]:
        """`-p` arguments for `parameters`, which override the parameter files. Scoped to the
        node when it is named: an unscoped `-p` (or a launch_ros parameter dict, written under
        '/**') joins the '/**' parameters, over which a node's own section of a parameter file
        (planner.yaml's `planner:`) takes precedence."""
        scope = f"{self.name}:" if self.name else ""
        return [
            arg
            for key, value in self.parameters.items()
            for arg in ("-p", f"{scope}{key}:={_yaml_value(value)}")
        ]


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


def node_list(
    sim: str = "mujoco",
    config_dir: str | Path | None = None,
    agents: str = "grouped",
    planner_backend: str | None = None,
    remappings: Sequence[tuple[str, str]] = (),
) -> list[NodeSpec]:
    """What to start: simulator (unless sim='none'), agents (one process for all, or one each)
    and the planner. `planner_backend` overrides config/planner.yaml's `backend`."""
    if sim not in SIMULATORS:
        raise ConfigError(f"sim must be one of {', '.join(SIMULATORS)}, got {sim!r}")
    if agents not in AGENT_LAYOUTS:
        raise ConfigError(f"agents must be one of {', '.join(AGENT_LAYOUTS)}, got {agents!r}")
    files = config_files(config_dir)
    robot_file = str(files["robot"])
    remaps = tuple(remappings)
    specs: list[NodeSpec] = []
    if sim == "mujoco":
        specs.append(
            NodeSpec(
                "llm_mas_sim",
                f"{PACKAGE}.nodes.sim_node",
                "mujoco_sim",
                (robot_file, str(files["sim"])),
                remappings=remaps,
            )
        )
    if agents == "grouped":
        specs.append(_agents_process(robot_file, {}, remaps))
    else:
        for agent in _agent_names(robot_file):
            # Node-targeted rename: only the host node of this process is renamed.
            rename = ((f"{HOST_NODE}:__node", f"{HOST_NODE}_{agent}"),)
            specs.append(_agents_process(robot_file, {"agents": [agent]}, rename + remaps))
    overrides = {"backend": planner_backend} if planner_backend else {}
    specs.append(
        NodeSpec(
            "llm_mas_planner",
            f"{PACKAGE}.nodes.planner_node",
            "planner",
            (robot_file, str(files["planner"])),
            overrides,
            remaps,
        )
    )
    return specs


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


def _agent_names(robot_file: str) -> list[str]:
    return P.string_list(P.load_parameters([robot_file]), "agent_names")


def dds_environment(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment for the processes we start and for the CLI's own node: our Fast DDS profile
    (fast initial announcements, so a late joiner is discovered in ms instead of ~3 s) unless
    one is set, under the current or the legacy (FASTRTPS_) name."""
    env = dict(os.environ if base is None else base)
    if not any(env.get(name) for name in (FASTDDS_PROFILE_ENV, LEGACY_FASTDDS_PROFILE_ENV)):
        env[FASTDDS_PROFILE_ENV] = str(share_path("config", "fastdds.xml"))
    return env
