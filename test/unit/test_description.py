"""The robot description as ros2_control expects it.

The xacro expands for every hardware choice, and the four sources that name joints agree on each
of them: the URDF joints, the URDF's ros2_control block, config/controllers.yaml and
config/robot.yaml (names, interfaces, limits). `description_problems` is a pure function of the
four, so a test can break one source in a temporary copy and see the check name the disagreement.
"""

import math
import shutil
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from llm_mas_ros.core.errors import ConfigError
from llm_mas_ros.core.robot import param_files as P
from llm_mas_ros.core.robot.model import load_urdf, parse_urdf_joints, robot_from_params
from llm_mas_ros.core.robot.share import share_path

MAIN_XACRO = Path("urdf", "llm_arm.urdf.xacro")
CONTROL_XACRO = Path("urdf", "llm_arm.ros2_control.xacro")
CONTROLLERS = Path("config", "controllers.yaml")
ROBOT = Path("config", "robot.yaml")

BROADCASTER = "joint_state_broadcaster/JointStateBroadcaster"
FORWARD = "forward_command_controller/ForwardCommandController"
TRAJECTORY = "joint_trajectory_controller/JointTrajectoryController"
STATE_INTERFACES = {"position", "velocity"}
POSITION = '<command_interface name="position">'
USER_PLUGIN = "my_robot_driver/MyArmSystem"
PLUGINS = {
    "mock": "mock_components/GenericSystem",
    "gazebo": "gz_ros2_control/GazeboSimSystem",
    USER_PLUGIN: USER_PLUGIN,
}


# -- the consistency check ------------------------------------------------------------------------
def control_joints(urdf_xml: str) -> dict[str, ET.Element]:
    """The <joint> elements of every <ros2_control> block, by name."""
    root = ET.fromstring(urdf_xml)
    return {
        joint.get("name", ""): joint
        for block in root.findall("ros2_control")
        for joint in block.findall("joint")
    }


def interfaces(joint: ET.Element, kind: str) -> dict[str, dict[str, str]]:
    """Each `kind` ('command_interface' or 'state_interface') of a ros2_control joint, with its
    <param>s."""
    return {
        interface.get("name", ""): {
            param.get("name", ""): (param.text or "").strip() for param in interface.iter("param")
        }
        for interface in joint.findall(kind)
    }


def _same(text: str | None, value: float) -> bool:
    try:
        return math.isclose(float(text or "nan"), value, abs_tol=1e-9)
    except ValueError:
        return False


def description_problems(
    urdf_xml: str, controllers: Mapping[str, Any], robot: Mapping[str, Any]
) -> list[str]:
    """Every disagreement between the URDF, its ros2_control block, the controllers config (as
    loaded from YAML) and the robot parameters (flat, as param_files.load_parameters gives them);
    empty when they agree."""
    problems: list[str] = []
    urdf = parse_urdf_joints(urdf_xml)
    control = control_joints(urdf_xml)

    # URDF <-> ros2_control: every movable joint, its interfaces and its position limits.
    for name in sorted(control.keys() - urdf.keys()):
        problems.append(f"ros2_control joint {name!r} is not a movable URDF joint")
    for name, joint in urdf.items():
        where = f"joint {name!r}"
        if name not in control:
            problems.append(f"{where}: not in the ros2_control block")
            continue
        commands = interfaces(control[name], "command_interface")
        states = set(interfaces(control[name], "state_interface"))
        if states != STATE_INTERFACES:
            problems.append(
                f"{where}: state interfaces {sorted(states)}, not {sorted(STATE_INTERFACES)}"
            )
        if joint.mimic:
            if control[name].get("mimic") != "true" or commands:
                problems.append(f'{where} mimics {joint.mimic!r}: mimic="true", no commands')
            continue
        if set(commands) != {"position"}:
            problems.append(f"{where}: command interfaces {sorted(commands)}, not ['position']")
            continue
        limits = commands["position"]
        for key, value in (("min", joint.lower), ("max", joint.upper)):
            if not _same(limits.get(key), value):
                problems.append(f"{where}: position {key} {limits.get(key)} is not URDF {value}")

    # controllers.yaml: declared controllers and their parameters.
    manager = controllers.get("controller_manager", {}).get("ros__parameters", {})
    rate = manager.get("update_rate")
    if not isinstance(rate, int | float) or rate <= 0:
        problems.append(f"controller_manager update_rate {rate!r} is not a positive rate")
    types = {name: value.get("type") for name, value in manager.items() if isinstance(value, dict)}
    if BROADCASTER not in types.values():
        problems.append(f"no {BROADCASTER} publishes /joint_states")
    for name in sorted(controllers.keys() - types.keys() - {"controller_manager"}):
        problems.append(f"controllers.yaml configures {name!r}, which controller_manager lacks")

    def settings(controller: str) -> Mapping[str, Any]:
        return controllers.get(controller, {}).get("ros__parameters", {})

    # robot.yaml <-> controllers.yaml: each agent's forward command controller, on its joint.
    agents = list(robot.get("agent_names", []))
    driven: set[str] = set()
    for agent in agents:
        joint = robot.get(f"agents.{agent}.joint")
        controller = robot.get(f"agents.{agent}.controller")
        where = f"agent {agent!r}"
        if joint not in urdf or urdf[joint].mimic:
            problems.append(f"{where} drives {joint!r}, not an actuated URDF joint")
        if types.get(controller) != FORWARD:
            problems.append(f"{where}: controller {controller!r} is not a {FORWARD}")
            continue
        driven.add(controller)
        if settings(controller).get("joints") != [joint]:
            joints = settings(controller).get("joints")
            problems.append(f"{where}: controller {controller!r} drives {joints}, not [{joint!r}]")
        if settings(controller).get("interface_name") != "position":
            problems.append(f"{where}: controller {controller!r} does not command position")
    actuated = [name for name, joint in urdf.items() if not joint.mimic]
    for name in sorted(set(actuated) - {robot.get(f"agents.{a}.joint") for a in agents}):
        problems.append(f"joint {name!r}: no agent drives it")

    # controllers.yaml <-> ros2_control: every claimed joint and interface exists.
    for controller, kind in types.items():
        if kind == FORWARD and controller not in driven:
            problems.append(f"controller {controller!r}: no agent publishes its commands")
        for joint in settings(controller).get("joints", []):
            if joint not in control:
                problems.append(f"controller {controller!r}: {joint!r} is no ros2_control joint")
                continue
            claims = {
                "command_interface": settings(controller).get("command_interfaces", []),
                "state_interface": settings(controller).get("state_interfaces", []),
            }
            if kind == FORWARD:
                claims["command_interface"] = [settings(controller).get("interface_name")]
            for interface, wanted in claims.items():
                missing = set(wanted) - set(interfaces(control[joint], interface))
                if missing:
                    problems.append(
                        f"controller {controller!r}: {joint!r} lacks {sorted(missing)}"
                    )

    # robot.yaml poses: known joints, within their limits.
    for key, value in robot.items():
        if key.startswith("poses."):
            joint = key.split(".")[-1]
            if joint not in urdf:
                problems.append(f"{key}: {joint!r} is not a movable URDF joint")
            elif not urdf[joint].lower <= value <= urdf[joint].upper:
                problems.append(f"{key}: {value} is outside the URDF limits of {joint!r}")
    return problems


def sources(root: Path, hardware: str = "mock") -> tuple[str, dict[str, Any], dict[str, Any]]:
    """The four sources under `root` (a checkout, or a copy of its urdf/ and config/)."""
    urdf_xml = load_urdf(root / MAIN_XACRO, {"hardware": hardware})
    controllers = yaml.safe_load((root / CONTROLLERS).read_text())
    return urdf_xml, controllers, P.load_parameters([root / ROBOT])


@pytest.fixture()
def scratch(tmp_path: Path) -> Path:
    """A scratch copy of the description and config, to break one source at a time."""
    for folder in ("urdf", "config"):
        shutil.copytree(share_path(folder), tmp_path / folder)
    return tmp_path


def rewrite(root: Path, file: Path, old: str, new: str, count: int = -1) -> None:
    text = (root / file).read_text()
    assert old in text, f"{old!r} is not in {file}: the mutation would change nothing"
    (root / file).write_text(text.replace(old, new, count))


# -- expansion, per hardware ----------------------------------------------------------------------
@pytest.mark.parametrize("hardware", sorted(PLUGINS))
def test_the_xacro_expands_for_each_hardware_with_the_same_joints(arm, hardware):
    urdf_xml = load_urdf("llm_arm.urdf.xacro", {"hardware": hardware})
    root = ET.fromstring(urdf_xml)
    (block,) = root.findall("ros2_control")
    assert [plugin.text for plugin in block.findall("hardware/plugin")] == [PLUGINS[hardware]]
    assert parse_urdf_joints(urdf_xml) == arm.joints  # the hardware changes nothing else
    assert set(control_joints(urdf_xml)) == set(arm.joints)


def test_only_gazebo_gets_the_gz_ros2_control_plugin_with_the_controllers_file():
    for hardware in ("mock", USER_PLUGIN):
        assert (
            ET.fromstring(load_urdf("llm_arm.urdf.xacro", {"hardware": hardware})).find("gazebo")
            is None
        )
    root = ET.fromstring(load_urdf("llm_arm.urdf.xacro", {"hardware": "gazebo"}))
    (plugin,) = root.findall("gazebo/plugin")
    assert plugin.get("filename") == "gz_ros2_control-system"
    assert plugin.get("name") == "gz_ros2_control::GazeboSimROS2ControlPlugin"
    # Found beside urdf/ without a ROS install, as the source tree and share/ lay it out.
    assert Path(plugin.findtext("parameters", "")).samefile(
        share_path("config", "controllers.yaml")
    )


def test_the_controllers_file_can_be_given(tmp_path):
    params = tmp_path / "my_controllers.yaml"
    urdf_xml = load_urdf("llm_arm.urdf.xacro", {"hardware": "gazebo", "controllers": str(params)})
    assert ET.fromstring(urdf_xml).findtext("gazebo/plugin/parameters") == str(params)


@pytest.mark.parametrize("hardware", ["moc", "Mock", ""])
def test_a_hardware_that_is_neither_builtin_nor_a_plugin_name_is_refused(hardware):
    with pytest.raises(ConfigError, match="hardware must be mock, gazebo or a pluginlib class"):
        load_urdf("llm_arm.urdf.xacro", {"hardware": hardware})


@pytest.mark.parametrize("hardware", sorted(PLUGINS))
def test_the_mujoco_simulator_loads_every_variant(hardware):
    from llm_mas_ros.core.sim.arm import ArmSimulation

    params = P.load_parameters([share_path("config", "robot.yaml")])
    robot = robot_from_params(params, load_urdf("llm_arm.urdf.xacro", {"hardware": hardware}))
    assert ArmSimulation(robot).model.nu == len(robot.agents)


# -- consistency --------------------------------------------------------------------------------
@pytest.mark.parametrize("hardware", sorted(PLUGINS))
def test_urdf_ros2_control_controllers_and_robot_config_agree(hardware):
    assert description_problems(*sources(share_path(), hardware)) == []


def test_each_agent_publishes_to_its_forward_command_controller(arm):
    controllers = yaml.safe_load(share_path("config", "controllers.yaml").read_text())
    manager = controllers["controller_manager"]["ros__parameters"]
    for agent in arm.agents:
        assert agent.command_topic == f"{agent.controller}/commands"  # forward_command_controller
        assert manager[agent.controller]["type"] == FORWARD
    assert manager["joint_trajectory_controller"]["type"] == TRAJECTORY
    trajectory = controllers["joint_trajectory_controller"]["ros__parameters"]
    assert trajectory["joints"] == [a.joint.name for a in arm.agents if a.kind != "gripper"]


def test_a_joint_renamed_everywhere_is_still_consistent(scratch):
    """The check compares the sources with each other, not with today's names."""
    for file in (MAIN_XACRO, CONTROL_XACRO, CONTROLLERS, ROBOT):
        rewrite(scratch, file, "elbow_joint", "knee_joint")
    urdf_xml, controllers, robot = sources(scratch)
    assert description_problems(urdf_xml, controllers, robot) == []
    assert "knee_joint" in parse_urdf_joints(urdf_xml)


@pytest.mark.parametrize(
    "file, old, new, problem",
    [
        (MAIN_XACRO, 'name="elbow_joint"', 'name="knee_joint"', "'elbow_joint' is not a movable"),
        (CONTROL_XACRO, 'name="elbow_joint"', 'name="knee_joint"', "'elbow_joint': not in the"),
        (CONTROLLERS, "joints: [elbow_joint]", "joints: [knee_joint]", "drives ['knee_joint']"),
        (CONTROLLERS, "elbow_position_controller", "elbow_controller", "'elbow_position_contr"),
        (CONTROLLERS, "wrist_2_joint,\n", "wrist_2,\n", "'wrist_2' is no ros2_control joint"),
        (ROBOT, "joint: elbow_joint", "joint: knee_joint", "agent 'elbow' drives 'knee_joint'"),
        (ROBOT, "controller: elbow_position_controller", "controller: elbow_ctrl", "'elbow_ctrl'"),
        (CONTROL_XACRO, 'upper="${gripper_open}"', 'upper="0.05"', "position max 0.05 is not"),
        (CONTROL_XACRO, '<state_interface name="velocity"/>', "", "state interfaces ['position']"),
        (CONTROL_XACRO, POSITION, POSITION.replace("position", "effort"), "interfaces ['effort']"),
        (CONTROL_XACRO, 'mimic="true"', "", "mimics 'gripper_finger_joint'"),
        (CONTROLLERS, "name: position}", "name: velocity}", "does not command position"),
    ],
    ids=[
        "urdf-joint-renamed",
        "ros2_control-joint-renamed",
        "controller-joint-renamed",
        "controller-renamed",
        "trajectory-joint-renamed",
        "agent-joint-renamed",
        "agent-controller-renamed",
        "ros2_control-limit-changed",
        "ros2_control-velocity-state-dropped",
        "ros2_control-effort-command",
        "mimic-not-declared",
        "controller-commands-velocity",
    ],
)
def test_a_change_in_one_source_only_is_reported(scratch, file, old, new, problem):
    rewrite(scratch, file, old, new, count=1 if file == CONTROL_XACRO else -1)
    problems = description_problems(*sources(scratch))
    assert any(problem in line for line in problems), problems
