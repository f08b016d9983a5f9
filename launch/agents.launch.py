"""The agents alone, for a machine of their own beside the robot and the planner
(one ROS_DOMAIN_ID, DDS discovery between the machines):

    ros2 launch llm_mas_ros agents.launch.py [agents:=grouped|separate] [config:=DIR]

bringup.launch.py with part:=agents: the same node list, one side of it.
"""

import importlib.util
from pathlib import Path

ARGUMENTS = (
    (
        "agents",
        "grouped",
        "grouped: all agents in one process, one batched step | separate: one process per agent",
    ),
)


def generate_launch_description():
    path = Path(__file__).with_name("bringup.launch.py")
    spec = importlib.util.spec_from_file_location("llm_mas_ros_bringup_launch", path)
    bringup = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bringup)
    return bringup.part_launch_description("agents", ARGUMENTS)
