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
    with signals_held() as deliver:
        while not condition():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return condition()
            executor.spin_once(timeout_sec=min(step_s, remaining))
            deliver()
    return True


@contextlib.contextmanager
def signals_held() -> Iterator[Callable[[], None]]:
    """Hold the Python handlers of HELD_SIGNALS during the block; it gets `deliver`, which runs
    those of the signals received so far: call it where raising is safe. The rest run when the
    block ends.

    A handler that raises inside a callback the executor's C++ calls, or inside its conversion
    of a message to Python, does not come out as its own exception: pybind11 turns it into
    "Unable to convert call argument" RuntimeError (seen in CI: Ctrl-C of `up` exited 2, not 0).
    Held, it raises in plain Python, after the callback finished. Handlers are only swapped in
    the main thread (the only one Python runs them in)."""
    if threading.current_thread() is not threading.main_thread():
        yield lambda: None
        return
    received: list[int] = []
    handlers = {number: signal.getsignal(number) for number in HELD_SIGNALS}
    held = {number: handler for number, handler in handlers.items() if callable(handler)}

    def deliver() -> None:
        while received:
            number = received.pop(0)
            held[number](number, None)

    for number in held:
        signal.signal(number, lambda signum, _frame: received.append(signum))
    try:
        yield deliver
    finally:
        for number, handler in held.items():
            signal.signal(number, handler)
        deliver()
