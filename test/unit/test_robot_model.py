import math
import textwrap

import pytest

from llm_mas_ros.core.errors import ConfigError
from llm_mas_ros.core.robot import param_files as P
from llm_mas_ros.core.robot.model import (
    AgentKind,
    Dimension,
    Joint,
    JointType,
    load_urdf,
    parse_urdf_joints,
    robot_from_params,
)
from llm_mas_ros.core.robot.share import share_path

CONTRACT_JOINTS = (
    "shoulder_pan_joint",
    "shoulder_lift_joint",
    "elbow_joint",
    "wrist_1_joint",
    "wrist_2_joint",
    "wrist_3_joint",
    "gripper_finger_joint",
)
CONTRACT_AGENTS = (
    "shoulder_pan",
    "shoulder_lift",
    "elbow",
    "wrist_1",
    "wrist_2",
    "wrist_3",
    "gripper",
)


def test_reference_robot_has_the_contract_joints_and_agents(arm):
    assert arm.agent_names == CONTRACT_AGENTS
    assert arm.joint_names == CONTRACT_JOINTS
    assert arm.agent("gripper").joint.kind == "prismatic"
    assert all(arm.joints[j].kind == "revolute" for j in CONTRACT_JOINTS[:6])
    assert {"home", "ready", "stow"} <= set(arm.poses)


def test_urdf_limits_are_physically_sensible(arm):
    for name in CONTRACT_JOINTS:
        joint = arm.joints[name]
        assert joint.lower < joint.upper and joint.velocity > 0 and joint.effort > 0
    gripper = arm.joints["gripper_finger_joint"]
    assert (gripper.lower, gripper.upper) == (0.0, 0.04)  # closed .. open (m)
    assert arm.agent("gripper").open_position == gripper.upper
    assert math.radians(400) > arm.joints["elbow_joint"].upper


def test_urdf_inertias_are_positive_definite_and_satisfy_the_triangle_inequality():
    import xml.etree.ElementTree as ET

    urdf = ET.fromstring(load_urdf("llm_arm.urdf.xacro"))
    links = urdf.findall("link[inertial]")
    assert len(links) >= 10
    for link in links:
        mass = float(link.find("inertial/mass").get("value"))
        inertia = link.find("inertial/inertia")
        ixx, iyy, izz = (float(inertia.get(k)) for k in ("ixx", "iyy", "izz"))
        assert mass > 0 and min(ixx, iyy, izz) > 0, link.get("name")
        assert ixx + iyy >= izz and iyy + izz >= ixx and ixx + izz >= iyy, link.get("name")


def test_urdf_declares_a_position_interface_for_every_agent_joint(arm):
    import xml.etree.ElementTree as ET

    control = ET.fromstring(arm.urdf_xml).find("ros2_control")
    commanded = {
        j.get("name")
        for j in control.findall("joint")
        if j.find("command_interface[@name='position']") is not None
    }
    assert commanded == set(CONTRACT_JOINTS)


def test_gazebo_variant_of_the_urdf_uses_gz_ros2_control():
    controllers = str(share_path("config", "controllers.yaml"))
    xml = load_urdf("llm_arm.urdf.xacro", {"hardware": "gazebo", "controllers": controllers})
    assert "gz_ros2_control/GazeboSimSystem" in xml and "<plugin>mock_components" not in xml
    assert controllers in xml


def test_controllers_config_has_a_forward_command_controller_per_agent(arm):
    import yaml

    config = yaml.safe_load(share_path("config", "controllers.yaml").read_text())
    for agent in arm.agents:
        assert config[agent.controller]["ros__parameters"]["joints"] == [agent.joint.name]
        kind = config["controller_manager"]["ros__parameters"][agent.controller]["type"]
        assert kind == "forward_command_controller/ForwardCommandController"


def test_mimic_joint_is_parsed_but_cannot_be_an_agent(arm):
    assert arm.joints["gripper_right_finger_joint"].mimic == "gripper_finger_joint"
    params = P.load_parameters([share_path("config", "robot.yaml")])
    params["agents.gripper.joint"] = "gripper_right_finger_joint"
    with pytest.raises(ConfigError, match="mimics"):
        robot_from_params(params, arm.urdf_xml)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"agents.elbow.joint": "knee_joint"}, "not a movable URDF joint"),
        ({"agent_names": []}, "at least one agent"),
        ({"agent_names": ["elbow", "elbow"]}, "duplicates"),
        ({"poses.ready.elbow_joint": 9.0}, r"elbow_joint. .in .*robot.yaml. must be in \[-"),
        (
            {"agents.gripper.kind": "tentacle"},
            "kind. .in .*robot.yaml. must be one of joint, gripper",
        ),
        ({"control_rate_hz": "fast"}, "must be float"),
        ({"speed_fraction.slowly": 2.0}, "must be in"),
        ({"agents.elbow.directions.negative": ["up", "Down"]}, "both positive and negative"),
        ({"agents.gripper.directions.zero": ["let  go"]}, "both positive and zero"),
        (
            {"agents.elbow.directions.postive": ["up"]},
            "unknown parameter .agents.elbow.directions.postive. .known under "
            "agents.elbow.directions: negative, neutral, positive, zero",
        ),
        ({"agents.elbow.directions.zero": [" "]}, "empty phrase"),
        ({"agents.elbow.directions.positive": "down"}, "must be list or tuple"),
    ],
)
def test_bad_robot_config_is_refused_with_the_reason(arm, change, message):
    params = P.load_parameters([share_path("config", "robot.yaml")])
    params.update(change)
    with pytest.raises(ConfigError, match=message):
        robot_from_params(params, arm.urdf_xml)


def test_another_robot_is_only_urdf_and_yaml(tmp_path):
    urdf = tmp_path / "pendulum.urdf"
    urdf.write_text(
        textwrap.dedent("""\
        <robot name="pendulum">
          <link name="base"/><link name="bob"/>
          <joint name="swing" type="revolute"><parent link="base"/><child link="bob"/>
            <axis xyz="0 1 0"/><limit lower="-1" upper="1" velocity="2" effort="5"/></joint>
        </robot>""")
    )
    config = tmp_path / "robot.yaml"
    config.write_text(
        textwrap.dedent(f"""\
        /**:
          ros__parameters:
            robot_description: {urdf}
            agent_names: [swinger]
            agents:
              swinger: {{joint: swing, controller: swing_controller}}
            pose_names: [rest]
            poses:
              rest: {{swing: 0.5}}
        """)
    )
    robot = robot_from_params(P.load_parameters([config]))
    assert robot.agent("swinger").command_topic == "swing_controller/commands"
    assert robot.pose("rest") == {"swing": 0.5}


def test_parameter_files_apply_wildcard_and_node_sections(tmp_path):
    file = tmp_path / "p.yaml"
    file.write_text(
        "/**:\n  ros__parameters:\n    a: 1\n    b: {c: 2}\n"
        "planner:\n  ros__parameters:\n    a: 3\nother:\n  ros__parameters:\n    a: 4\n"
    )
    assert P.load_parameters([file], "planner") == {"a": 3, "b.c": 2}
    assert P.load_parameters([file], "x") == {"a": 1, "b.c": 2}


def test_continuous_joints_have_no_position_limits():
    joints = parse_urdf_joints(
        '<robot name="r"><joint name="w" type="continuous"><parent link="a"/>'
        '<child link="b"/></joint></robot>'
    )
    assert joints["w"].lower == -math.inf and joints["w"].contains(1e6)


def test_direction_words_are_per_agent_data(arm):
    """Which way 'left' or 'open' moves an agent comes from config/robot.yaml alone."""
    pan, gripper = arm.agent("shoulder_pan").directions, arm.agent("gripper").directions
    assert pan.signs()["left"] == 1 and pan.signs()["clockwise"] == -1
    assert pan.signs()["right now"] == 0  # neutral: holds 'right', states no way
    assert "let go" in gripper.positive and "close" in gripper.negative
    assert "straight" in arm.agent("elbow").directions.zero
    wrist_2 = arm.agent("wrist_2").directions  # no direction words: either sign, only a zero
    assert wrist_2.signs() == {} and "centre" in wrist_2.zero


def test_closed_sets_are_enums_that_read_as_strings(arm):
    gripper, elbow = arm.agent("gripper"), arm.agent("elbow")
    assert gripper.kind is AgentKind.GRIPPER and gripper.kind == "gripper"
    assert gripper.joint.kind is JointType.PRISMATIC and gripper.joint.kind == "prismatic"
    assert gripper.joint.dimension is Dimension.LENGTH and gripper.joint.unit == "m"
    assert elbow.joint.dimension is Dimension.ANGLE and elbow.joint.unit == "rad"
    assert JointType.CONTINUOUS.dimension is Dimension.ANGLE
    plain = Joint("j", "prismatic", 0.0, 0.1, 0.1, 1.0)  # a plain string is converted
    assert plain.kind is JointType.PRISMATIC and arm.control.tolerance(plain) == 0.0005
    assert f"{gripper.kind}" == "gripper"


def test_extra_speed_styles_and_subset_poses_come_from_the_file(arm):
    params = P.load_parameters([share_path("config", "robot.yaml")])
    params["speed_fraction.briskly"] = 0.6
    robot = robot_from_params(params, arm.urdf_xml)
    assert robot.control.speed_fraction["briskly"] == 0.6
    assert robot.control.speed_fraction["slowly"] == 0.15
    assert "gripper_finger_joint" not in robot.pose("home")
