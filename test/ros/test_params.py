"""Parameters: a node declares every robot setting its parameter files hold, statically typed and
described, and builds the robot that the pip-only loader builds from the same files."""

import math
import sys
from pathlib import Path

import pytest
import yaml
from rcl_interfaces.msg import ParameterType
from rclpy.node import Node
from rclpy.parameter import Parameter

from llm_mas_ros.core.errors import ConfigError
from llm_mas_ros.core.robot.model import load_robot
from llm_mas_ros.core.robot.share import share_path
from llm_mas_ros.ros.params import declare, declare_planner, declare_robot, declare_sim


@pytest.fixture()
def probe(ros):
    """A node factory; every node it made is destroyed after the test."""
    nodes = []

    def make(name="params_probe", **options):
        nodes.append(Node(name, **options))
        return nodes[-1]

    yield make
    for node in nodes:
        node.destroy_node()


def _robot_yaml(tmp_path: Path, **changes) -> Path:
    """config/robot.yaml with `changes` (dotted names) applied, as a new parameter file."""
    document = yaml.safe_load(share_path("config", "robot.yaml").read_text())
    for name, value in changes.items():
        section = document["/**"]["ros__parameters"]
        *parents, last = name.split(".")
        for parent in parents:
            section = section.setdefault(parent, {})
        section[last] = value
    file = tmp_path / "robot.yaml"
    file.write_text(yaml.safe_dump(document))
    return file


def _with_file(file: Path) -> list[str]:
    return ["--ros-args", "--params-file", str(file)]


def test_a_node_sees_the_same_robot_as_the_yaml_file(probe, tmp_path):
    """Every key of robot.yaml must be declared, or a node silently runs with its default
    (the ROS parameter files reach nodes only for declared parameters): also a speed style
    that is not one of the defaults, and each agent's direction words."""
    file = _robot_yaml(tmp_path, **{"speed_fraction.briskly": 0.6})
    declared = declare_robot(probe(cli_args=_with_file(file)))
    from_file = load_robot([file])
    assert declared.control.speed_fraction["briskly"] == 0.6
    assert declared.agents == from_file.agents
    assert declared.poses == from_file.poses
    assert declared.control == from_file.control
    assert declared.pose_aliases == from_file.pose_aliases
    assert any(agent.directions.positive for agent in declared.agents)


def test_parameters_are_typed_and_described(probe):
    node = probe()
    robot = declare_robot(node)
    rate = node.describe_parameter("control_rate_hz")
    assert rate.type == ParameterType.PARAMETER_DOUBLE and rate.read_only
    assert "[Hz]" in rate.description and "control loop" in rate.description
    assert rate.floating_point_range[0].from_value == 0.0
    elbow = robot.joints["elbow_joint"]
    pose = node.describe_parameter("poses.ready.elbow_joint")
    assert "[rad]" in pose.description
    assert pose.floating_point_range[0].from_value == pytest.approx(elbow.lower)
    assert pose.floating_point_range[0].to_value == pytest.approx(elbow.upper)
    kind = node.describe_parameter("agents.gripper.kind")
    assert kind.type == ParameterType.PARAMETER_STRING
    assert "one of: joint | gripper" in kind.additional_constraints
    names = node.describe_parameter("agent_names")
    assert names.type == ParameterType.PARAMETER_STRING_ARRAY and "required" in names.description
    fraction = node.describe_parameter("speed_fraction.slowly")
    assert "(0, 1]" in fraction.description


def test_no_declared_parameter_reads_not_set(probe):
    """A pose names a subset of the joints (home leaves the gripper alone): only the joints it
    names are parameters, and every declared parameter has a value."""
    node = probe()
    declare_robot(node)
    names = node.list_parameters([], 0).names
    assert "poses.ready.elbow_joint" in names
    assert "poses.home.gripper_finger_joint" not in names
    assert "agents.wrist_2.directions.positive" not in names  # optional and not given
    unset = [n for n in names if node.get_parameter(n).type_ == Parameter.Type.NOT_SET]
    assert unset == []


def test_an_integer_in_yaml_is_a_double_parameter(probe):
    node = probe(parameter_overrides=[Parameter("control_rate_hz", value=50)])
    robot = declare_robot(node)
    assert robot.control.rate_hz == 50.0 and isinstance(robot.control.rate_hz, float)
    assert node.get_parameter("control_rate_hz").type_ == Parameter.Type.DOUBLE


@pytest.mark.parametrize(
    "name, value, message",
    [
        ("agents.elbow.jiont", "elbow_joint", r"unknown parameter 'agents.elbow.jiont'.*known"),
        ("control_rate", 50.0, "unknown parameter 'control_rate'"),
        ("control_rate_hz", -1.0, r"'control_rate_hz'.*must be in \(0, inf\]"),
        ("agents.gripper.kind", "claw", "must be one of joint, gripper"),
    ],
)
def test_a_wrong_parameter_is_refused_naming_it_and_the_node(probe, name, value, message):
    node = probe(parameter_overrides=[Parameter(name, value=value)])
    with pytest.raises(ConfigError, match=message) as error:
        declare_robot(node)
    assert "node /params_probe" in str(error.value)


def test_an_unknown_key_of_a_launched_node_names_its_file(probe, tmp_path, monkeypatch):
    """A launched node's --params-file arguments are in sys.argv: the error names the file."""
    file = _robot_yaml(tmp_path, **{"agents.elbow.contoller": "elbow_controller"})
    monkeypatch.setattr(sys, "argv", ["sim_node", *_with_file(file)])
    node = probe(cli_args=_with_file(file))
    with pytest.raises(ConfigError, match=f"'agents.elbow.contoller' \\(in {file}\\)"):
        declare_robot(node)


def test_planner_and_sim_parameters_are_typed_and_ranged(probe):
    planner = probe("planner")
    settings = declare_planner(planner)
    assert settings.backend == "smollm2"  # config/planner.yaml
    backend = planner.describe_parameter("backend")
    assert "rules | smollm2 | local" in backend.additional_constraints
    tokens = planner.describe_parameter("max_new_tokens")
    assert tokens.type == ParameterType.PARAMETER_INTEGER
    assert tokens.integer_range[0].from_value == 16
    sim = probe("mujoco_sim")
    assert declare_sim(sim).physics_rate_hz == 500.0
    physics = sim.describe_parameter("physics_rate_hz")
    assert "[Hz]" in physics.description
    assert physics.floating_point_range[0].from_value == 100.0
    assert math.isinf(physics.floating_point_range[0].to_value)


def test_a_planner_setting_out_of_range_is_refused(probe):
    node = probe("planner", parameter_overrides=[Parameter("max_new_tokens", value=4)])
    with pytest.raises(ConfigError, match=r"'max_new_tokens'.*must be in \[16, inf\]"):
        declare_planner(node)


def test_declare_types_a_parameter_by_its_default_or_given_value(probe):
    node = probe(parameter_overrides=[Parameter("agents", value=["elbow"])])
    assert declare(node, "agents", "agents hosted") == ["elbow"]
    assert declare(node, "hosted_nothing", "absent and without default") is None
    assert "hosted_nothing" not in node.list_parameters([], 0).names
    assert declare(node, "joint", "joint this agent drives", "elbow_joint") == "elbow_joint"
    assert node.describe_parameter("joint").type == ParameterType.PARAMETER_STRING
