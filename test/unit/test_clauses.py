"""The one clause splitter every planner reads an instruction's structure through."""

import pytest

from llm_mas_ros.core.language.clauses import split_clauses, split_goals, split_steps


@pytest.mark.parametrize(
    "instruction, clauses",
    [
        ("elbow to 45 degrees", [["elbow to 45 degrees"]]),
        ("Open the gripper, then bend the elbow", [["open the gripper"], ["bend the elbow"]]),
        ("a and b; c. D", [["a", "b"], ["c"], ["d"]]),
        ("elbow to .5 rad and then wrist 1 to 5.", [["elbow to .5 rad"], ["wrist 1 to 5"]]),
        ("pan left while lifting the arm", [["pan left", "lifting the arm"]]),
        ("open it, , then ;", [["open it"]]),
        ("", []),
    ],
)
def test_steps_and_goals(instruction, clauses):
    assert split_clauses(instruction) == clauses


def test_a_decimal_point_is_no_full_stop():
    assert split_steps("move to 0.5 rad. then close") == ["move to 0.5 rad", "close"]
    assert split_goals("a, b and c at the same time d") == ["a", "b", "c", "d"]
