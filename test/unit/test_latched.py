"""A latched topic heard live and latched: each goal counts once, history only when owed."""

from llm_mas_ros.core.control.latched import ECHO_WINDOW_S, GoalInbox, latched_stop_applies


def test_history_counts_for_an_agent_that_heard_nothing():
    inbox = GoalInbox()
    assert inbox.latched("move to 20 degrees", 0.0)
    assert not inbox.latched("move to 30 degrees", 1.0)  # live traffic from then on


def test_the_live_copy_of_the_history_just_used_is_dropped():
    inbox = GoalInbox()
    assert inbox.latched("open", 0.0)
    assert not inbox.live("open", 0.001)
    assert inbox.live("open", 0.002)  # sent again: a new goal


def test_a_live_goal_first_makes_its_latched_copy_redundant():
    inbox = GoalInbox()
    assert inbox.live("close", 0.0)
    assert not inbox.latched("close", 0.001)


def test_a_live_goal_other_than_the_history_or_after_the_window_counts():
    inbox = GoalInbox()
    assert inbox.latched("open", 0.0)
    assert inbox.live("close", 0.01)
    inbox = GoalInbox()
    assert inbox.latched("open", 0.0)
    assert inbox.live("open", ECHO_WINDOW_S + 0.01)


def test_only_a_stop_is_taken_from_the_latched_path():
    assert latched_stop_applies(True)
    assert not latched_stop_applies(False)


def test_an_inbox_that_does_not_take_standing_goals_ignores_the_latched_path():
    """robot.yaml on_rejoin: hold: a joining agent holds; new goals still arrive live."""
    inbox = GoalInbox(take_standing=False)
    assert not inbox.latched("move to 20 degrees", 0.0)  # the history: ignored
    assert inbox.ignored == "move to 20 degrees"
    assert inbox.live("move to 30 degrees", 0.1)
    assert not inbox.latched("open", 0.2)  # a new goal's latched copy ...
    assert inbox.live("open", 0.201)  # ... and its live copy counts, once
