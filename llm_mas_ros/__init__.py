"""llm_mas_ros: command a robot in plain language; one learned agent per joint, over ROS 2."""

__version__ = "0.1.0"
