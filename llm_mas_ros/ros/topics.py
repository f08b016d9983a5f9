"""Topic names of the graph. Relative names, so the whole system can run in a namespace
(/robot1/joint_states, /robot1/elbow/goal); /diagnostics stays absolute, as ROS convention has
it, and statuses carry node names to tell robots apart."""

JOINT_STATES = "joint_states"
ESTOP = "estop"
INSTRUCTION = "instruction"
PLAN = "plan"
DIAGNOSTICS = "/diagnostics"
