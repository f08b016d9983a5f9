"""Amounts written the way people write them become the digits the agent language reads."""

import math

import pytest

from llm_mas_ros.core.errors import PlanError
from llm_mas_ros.core.language.expressions import rewrite_amounts
from llm_mas_ros.core.language.quantities import find_quantities


@pytest.mark.parametrize(
    "text, expected",
    [
        ("elbow to pi/2 radians", "elbow to 1.570796 rad"),
        ("elbow to π/4", "elbow to 0.785398 rad"),
        ("base to 2pi/3", "base to 2.094395 rad"),
        ("base to -pi/4", "base to -0.785398 rad"),
        ("base to minus pi over 4", "base to -0.785398 rad"),
        ("base to pi", "base to 3.141593 rad"),
        ("right by a quarter turn", "right by 90 deg"),
        ("half a turn", "180 deg"),
        ("a half turn", "180 deg"),
        ("a full turn", "360 deg"),
        ("one full turn", "360 deg"),
        ("open the gripper halfway", "open the gripper 50%"),
        ("half-open the claw", "open 50% the claw"),
        ("open the gripper to half", "open the gripper to 50%"),
        ("0.25 of the way", "25%"),
        ("forty-five degrees", "45 degrees"),
        ("a hundred and twenty degrees", "120 degrees"),
        ("minus thirty", "-30"),
        ("negative 0.5 rad", "-0.5 rad"),
        ("a quarter of a radian", "0.25 radian"),
        ("one and a half seconds", "1.5 seconds"),
        ("3/4 rad", "0.75 rad"),
        ("1e-3 rad", "0.001 rad"),
        ("elbow to 1e-308 degrees", "elbow to 0 degrees"),
        ("elbow to 1e308 degrees", "elbow to 1e308 degrees"),
        ("wave three times", "wave 3 times"),
        ("move the base a bit to the left", "move the base a bit to the left"),
        ("wrist one to 10 deg", "wrist 1 to 10 deg"),
    ],
)
def test_amounts_are_rewritten_as_digits(text, expected):
    assert rewrite_amounts(text) == expected


@pytest.mark.parametrize("text", ["pi/2 degrees", "pi/0", "3/0 rad"])
def test_expressions_that_cannot_be_rewritten_safely_are_errors(text):
    with pytest.raises(PlanError):
        rewrite_amounts(text)


def test_a_number_in_scientific_notation_is_one_number():
    """'1e308' was read as 308 degrees: a target inside the limits nobody asked for."""
    (quantity,) = find_quantities("elbow to 1e308 degrees")
    assert quantity.value == 1e308 and quantity.unit == "degrees"


@pytest.mark.parametrize("denominator", [2, 3, 4, 6, 8, 12])
def test_pi_fractions_never_copy_their_digits(denominator):
    """The digit of 'pi/N' is never the target: the rewritten number is pi/N itself."""
    (quantity,) = find_quantities(rewrite_amounts(f"to pi/{denominator} rad"))
    assert quantity.value == pytest.approx(math.pi / denominator, abs=1e-6)
