"""Waiting on the ROS graph: on match counts and messages, with timeouts, never on sleeps."""

from __future__ import annotations

import time
from collections.abc import Callable

from rclpy.executors import Executor


def spin_until(
    executor: Executor, condition: Callable[[], bool], timeout_s: float, step_s: float = 0.05
) -> bool:
    """Spin `executor` until `condition()` holds or `timeout_s` passes; returns the condition.

    Each spin_once returns as soon as any callback ran (or after `step_s`), so the condition is
    rechecked on every event; graph changes (matches) are polled at that period."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return condition()
        executor.spin_once(timeout_sec=min(step_s, remaining))
    return True
