"""Bring up llm_mas_ros on a ROS 2 machine: what drives the joints, the agents and the planner.

    ros2 launch llm_mas_ros bringup.launch.py [sim:=mujoco|gazebo|none] [hardware:=mock|PLUGIN]
        [agents:=grouped|separate] [planner:=rules|smollm2|local] [config:=DIR] [part:=...]

Thin on purpose: which nodes run, with which parameters, remappings and arguments, is decided by
llm_mas_ros.launcher.bringup.launch_nodes(), over the node_list() that `llm-mas-ros up` starts
without ROS. agents.launch.py and planner.launch.py include this file with part:=agents|planner.
"""

import shlex

from launch import LaunchDescription
from launch.actions import (
    DeclareLaunchArgument,
    IncludeLaunchDescription,
    OpaqueFunction,
    SetEnvironmentVariable,
)
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import (
    Command,
    EnvironmentVariable,
    LaunchConfiguration,
    PathJoinSubstitution,
)
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue
from launch_ros.substitutions import FindPackageShare

from llm_mas_ros.launcher.bringup import FASTDDS_PROFILE_ENV, dds_environment, launch_nodes

# (name, default, description): every argument is described (`ros2 launch ... --show-args`).
ARGUMENTS = (
    (
        "sim",
        "mujoco",
        "what drives the joints: mujoco (the embedded MuJoCo simulator) | gazebo (Gazebo via "
        "ros_gz_sim and gz_ros2_control, everything on /clock) | none (ros2_control: the "
        "controller manager with the `hardware` plugin, spawners, robot_state_publisher)",
    ),
    (
        "hardware",
        "mock",
        "with sim:=none, the ros2_control hardware of urdf/llm_arm.urdf.xacro: mock "
        "(mock_components/GenericSystem) or a pluginlib class such as my_driver/MyArmSystem",
    ),
    ("config", "", "folder with robot.yaml, sim.yaml and planner.yaml (default: the package's)"),
    (
        "agents",
        "grouped",
        "grouped: all agents in one process, one batched step | separate: one process per agent",
    ),
    ("planner", "", "planner backend, overriding config/planner.yaml: rules | smollm2 | local"),
    (
        "part",
        "all",
        "what this machine runs: all | robot (the sim or ros2_control alone) | agents | "
        "planner; the other parts run on other machines of the same ROS_DOMAIN_ID "
        "(agents.launch.py and planner.launch.py set this)",
    ),
    (
        "use_sim_time",
        "",
        "true | false: follow /clock (default: true with sim:=gazebo, else false; set it on an "
        "agents or planner machine beside a Gazebo one)",
    ),
    ("gz_args", "-r empty.sdf", "with sim:=gazebo, the arguments of `gz sim` (world, -r to run)"),
)


# Declared by agents.launch.py and planner.launch.py too, beside their own ARGUMENTS.
PART_ARGUMENTS = (
    ("config", "", "folder with robot.yaml, sim.yaml and planner.yaml (default: the package's)"),
    (
        "use_sim_time",
        "false",
        "true when the robot machine runs Gazebo (sim:=gazebo): follow /clock",
    ),
)


def _flag(text):
    return None if text == "" else text.lower() in ("true", "1", "yes")


def _node(spec):
    """A launch_ros Node for a NodeSpec; xacro-valued parameters are expanded at launch."""
    generated = {
        name: ParameterValue(Command(shlex.join(xacro.command())), value_type=str)
        for name, xacro in spec.xacro_parameters().items()
    }
    return Node(
        **spec.launch_node(), parameters=[generated] if generated else None, output="screen"
    )


def specs_for(value):
    """The NodeSpecs for the performed launch arguments `value` (name -> text)."""
    return launch_nodes(
        sim=value["sim"],
        config_dir=value["config"] or None,
        agents=value["agents"],
        planner_backend=value["planner"] or None,
        hardware=value["hardware"],
        part=value["part"],
        use_sim_time=_flag(value["use_sim_time"]),
    )


def _actions(context):
    value = {name: LaunchConfiguration(name).perform(context) for name, _, _ in ARGUMENTS}
    actions = []
    if value["sim"] == "gazebo" and value["part"] in ("all", "robot"):
        gz_sim = PathJoinSubstitution(
            [FindPackageShare("ros_gz_sim"), "launch", "gz_sim.launch.py"]
        )
        actions.append(
            IncludeLaunchDescription(
                PythonLaunchDescriptionSource(gz_sim),
                launch_arguments={"gz_args": value["gz_args"], "on_exit_shutdown": "true"}.items(),
            )
        )
    return actions + [_node(spec) for spec in specs_for(value)]


def part_launch_description(part, arguments):
    """This file with part:=`part`, for agents.launch.py and planner.launch.py: their own
    `arguments` (name, default, description) and PART_ARGUMENTS, declared and passed through."""
    arguments = (*arguments, *PART_ARGUMENTS)
    return LaunchDescription(
        [
            *(
                DeclareLaunchArgument(name, default_value=default, description=text)
                for name, default, text in arguments
            ),
            IncludeLaunchDescription(
                PythonLaunchDescriptionSource(__file__),
                launch_arguments={
                    **{name: LaunchConfiguration(name) for name, _, _ in arguments},
                    "part": part,
                }.items(),
            ),
        ]
    )


def generate_launch_description():
    profile = dds_environment({})[FASTDDS_PROFILE_ENV]
    return LaunchDescription(
        [
            *(
                DeclareLaunchArgument(name, default_value=default, description=text)
                for name, default, text in ARGUMENTS
            ),
            # Our Fast DDS profile (fast discovery of late joiners) unless the user set one.
            SetEnvironmentVariable(
                FASTDDS_PROFILE_ENV,
                EnvironmentVariable(FASTDDS_PROFILE_ENV, default_value=profile),
            ),
            # No progress bars in launch output (model loading): launch pipes it, no terminal.
            SetEnvironmentVariable(
                "TQDM_DISABLE", EnvironmentVariable("TQDM_DISABLE", default_value="1")
            ),
            OpaqueFunction(function=_actions),
        ]
    )
