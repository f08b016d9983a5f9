"""Helpers shared by the ROS nodes: QoS profiles, parameters, message conversions, graph waits."""
