"""Bring up llm_mas_ros on a ROS 2 machine: simulator (or not), agents and planner.

    ros2 launch llm_mas_ros bringup.launch.py sim:=mujoco|none [config:=DIR] [agents:=separate]

Thin on purpose: which nodes run, with which parameters and remappings, is decided by
llm_mas_ros.launcher.bringup.node_list(), the same function `llm-mas-ros up` uses without ROS.
"""

from launch.actions import DeclareLaunchArgument, OpaqueFunction, SetEnvironmentVariable
from launch.substitutions import EnvironmentVariable, LaunchConfiguration
from launch_ros.actions import Node

from launch import LaunchDescription
from llm_mas_ros.launcher.bringup import FASTDDS_PROFILE_ENV, dds_environment, node_list

ARGUMENTS = (
    (
        "sim",
        "mujoco",
        "simulator to start: mujoco (embedded MuJoCo) | none (a real robot or "
        "Gazebo with ros2_control provides /joint_states and the controllers)",
    ),
    ("config", "", "folder with robot.yaml, sim.yaml and planner.yaml (default: the package's)"),
    (
        "agents",
        "grouped",
        "grouped: all agents in one process, one batched step | separate: one process per agent",
    ),
    ("planner", "", "planner backend, overriding config/planner.yaml: rules | smollm2 | local"),
)


def _nodes(context):
    value = {name: LaunchConfiguration(name).perform(context) for name, _, _ in ARGUMENTS}
    specs = node_list(
        sim=value["sim"],
        config_dir=value["config"] or None,
        agents=value["agents"],
        planner_backend=value["planner"] or None,
    )
    return [
        Node(
            package="llm_mas_ros",
            executable=spec.executable,
            name=spec.name,
            parameters=list(spec.parameter_files),
            ros_arguments=spec.parameter_arguments(),  # overrides, scoped to the node
            remappings=list(spec.remappings),
            output="screen",
        )
        for spec in specs
    ]


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
            OpaqueFunction(function=_nodes),
        ]
    )
