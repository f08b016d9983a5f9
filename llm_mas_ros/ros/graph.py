"""Waiting on the ROS graph: on match counts and messages, with timeouts, never on sleeps."""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Callable, Iterator

from rclpy.executors import Executor

# Signals whose Python handlers stop a process (Ctrl-C's KeyboardInterrupt, the CLI's exit).
HELD_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)


def spin_until(
    executor: Executor, condition: Callable[[], bool], timeout_s: float, step_s: float = 0.05
) -> bool:
    """Spin `executor` until `condition()` holds or `timeout_s` passes; returns the condition.

    Each spin_once returns as soon as any callback ran (or after `step_s`), so the condition is
    rechecked on every event; graph changes (matches) are polled at that period. A stop signal
    that arrives meanwhile is handled when spin_once returns (see signals_held)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return condition()
        with signals_held():
            executor.spin_once(timeout_sec=min(step_s, remaining))
    return True


@contextlib.contextmanager
def signals_held() -> Iterator[None]:
    """Run the Python handlers of HELD_SIGNALS after the block, not inside it.

    A handler that raises inside a callback the executor's C++ calls, or inside its conversion
    of a message to Python, does not come out as its own exception: pybind11 turns it into
    "Unable to convert call argument" RuntimeError (seen in CI: Ctrl-C of `up` exited 2, not 0).
    Held, it raises here, in plain Python, after the callback finished. Handlers are only
    swapped in the main thread (the only one Python runs them in)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    handlers = {number: signal.getsignal(number) for number in HELD_SIGNALS}
    held = {number: handler for number, handler in handlers.items() if callable(handler)}
    for number in held:
        signal.signal(number, lambda signum, _frame: received.append(signum))
    try:
        yield
    finally:
        for number, handler in held.items():
            signal.signal(number, handler)
        for number in received:
            held[number](number, None)
