"""ROS 2 node executables: one Node subclass and main() per executable, wiring only."""
