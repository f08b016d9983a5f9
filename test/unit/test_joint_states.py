"""One JointState fanned out to the agents of a process."""

import math

from llm_mas_ros.core.control.joint_states import JointStateReader


def test_rows_follow_the_agents_whatever_the_message_order():
    reader = JointStateReader(["elbow_joint", "gripper_finger_joint", "wrist_1_joint"])
    rows = list(reader.read(["wrist_1_joint", "elbow_joint", "other"], [0.3, 0.1, 9.0], [1.0]))
    assert rows == [(0, 0.1, 0.0), (2, 0.3, 1.0)]  # no gripper; elbow has no velocity


def test_non_finite_positions_are_skipped_and_a_new_order_is_read():
    reader = JointStateReader(["a", "b"])
    assert list(reader.read(["a", "b"], [math.nan, 2.0], [])) == [(1, 2.0, 0.0)]
    assert list(reader.read(["b", "a"], [5.0, 6.0], [0.5, 0.6])) == [(0, 6.0, 0.6), (1, 5.0, 0.5)]


def test_a_named_joint_without_a_finite_position_is_dropped_counted_and_said_why():
    reader = JointStateReader(["a", "b", "c"])
    rows = list(reader.read(["c", "a", "b"], [math.inf, 1.0], []))  # b named, no position
    assert rows == [(0, 1.0, 0.0)]
    assert reader.dropped == [0, 1, 1]
    assert reader.drop_reason[1] == "joint state dropped: b has no position"
    assert reader.drop_reason[2] == "joint state dropped: c has position inf"
    list(reader.read(["a"], [2.0], []))  # b and c not named: nothing said about them
    assert reader.dropped == [0, 1, 1]
