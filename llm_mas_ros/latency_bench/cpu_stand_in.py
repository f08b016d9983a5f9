"""The decode load when the planner's model is not measured: one thread busy in Python at
normal priority, as much CPU as one decoding thread takes, until SIGINT or SIGTERM (what the
launcher's stop sends). Started by the launcher like a node; its ROS arguments are ignored."""

from __future__ import annotations

import signal
import threading

from ..ros.runtime import die_with_launcher

SPIN = range(10_000)  # one unit of busy work (~0.1 ms): the stop flag is read between them


def main() -> int:
    die_with_launcher()
    stop = threading.Event()
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda *_: stop.set())
    while not stop.is_set():
        sum(SPIN)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
