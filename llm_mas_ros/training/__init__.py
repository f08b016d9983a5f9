"""Training of the agents' learned policies (imports torch; the robot's runtime never does)."""
