"""The planner alone, for a machine of their own (a GPU for a bigger model) beside the robot and
the agents
(one ROS_DOMAIN_ID, DDS discovery between the machines):

    ros2 launch llm_mas_ros planner.launch.py [planner:=rules|smollm2|local] [config:=DIR]

bringup.launch.py with part:=planner: the same node list, one side of it.
"""

import importlib.util
from pathlib import Path

ARGUMENTS = (
    ("planner", "", "planner backend, overriding config/planner.yaml: rules | smollm2 | local"),
)


def generate_launch_description():
    path = Path(__file__).with_name("bringup.launch.py")
    spec = importlib.util.spec_from_file_location("llm_mas_ros_bringup_launch", path)
    bringup = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bringup)
    return bringup.part_launch_description("planner", ARGUMENTS)
