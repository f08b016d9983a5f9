"""The bench's side of sense->act: publish one /joint_states, time the arrival of every
expected command.

The prober takes commands on a bare rcl wait set, without an executor, and takes them raw
(no deserialisation), so its own cost is the floor's and the same for every system measured.
A window is closed loop on a fixed grid: a state goes out on the grid tick, or as soon as the
previous state's commands have all arrived when that is later (counted as a late publish), so
no command is ever mistaken for the answer to another state. A state whose commands do not
all arrive within `timeout_s` is lost (counted) and its late commands are drained.
All times are CLOCK_MONOTONIC seconds of this process.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from rclpy.duration import Duration
from rclpy.impl.implementation_singleton import rclpy_implementation as _rclpy
from rclpy.node import Node
from rclpy.qos import QoSProfile
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray, String

from ..ros import qos, topics

ROUND_TIMEOUT_S = 0.05  # a state not answered by every command within this is lost
READY_POLL_S = 0.001  # how often match counts are read while waiting for a system
LATE_FRACTION = 0.1  # a state published this share of a period after its tick is late
GOAL_ACK_S = 5.0  # goals are matched and acknowledged well within this


def _ignore(_message: object) -> None:
    """Subscriptions of the prober are taken from its wait set, never by an executor."""


@dataclass
class Window:
    """One measurement window: per state, when it was published and when its last command
    arrived (NaN: lost); the grid period; late publishes; the window's wall time."""

    period_s: float
    scheduled_s: np.ndarray  # the grid tick each state was due at
    published_s: np.ndarray
    acted_s: np.ndarray
    late_publishes: int
    wall_s: float

    @property
    def latency_s(self) -> np.ndarray:
        latency: np.ndarray = self.acted_s - self.published_s
        return latency

    @property
    def publish_late_s(self) -> np.ndarray:
        """How late the prober itself published each state after its tick (its own jitter,
        part of every system's step jitter)."""
        late: np.ndarray = self.published_s - self.scheduled_s
        return late

    @property
    def lost(self) -> int:
        return int(np.isnan(self.acted_s).sum())

    @property
    def achieved_hz(self) -> float:
        return len(self.published_s) / self.wall_s


class Prober:
    """Publishes `joints`' states on `<namespace>/joint_states` with `state_qos` and waits for
    one message on each of `command_topics` (relative to the node's namespace)."""

    def __init__(
        self,
        node: Node,
        joints: Sequence[str],
        command_topics: Sequence[str],
        state_qos: QoSProfile,
        command_qos: QoSProfile,
    ) -> None:
        count = len(joints)
        # Positions inside every limit (0 is), fixed: each agent holds, its command constant.
        self.state = JointState(name=list(joints), position=[0.0] * count, velocity=[0.0] * count)
        self.publisher = node.create_publisher(JointState, topics.JOINT_STATES, state_qos)
        self.subscriptions = [
            node.create_subscription(Float64MultiArray, topic, _ignore, command_qos)
            for topic in command_topics
        ]
        self.pointers = [sub.handle.pointer for sub in self.subscriptions]
        context = node.context.handle
        self.wait_set = _rclpy.WaitSet(len(self.subscriptions), 0, 0, 0, 0, 0, context)  # type: ignore[arg-type]

    def matched(self, state_subscribers: int) -> bool:
        """Whether `state_subscribers` subscriptions hear our states and every command topic
        has a publisher matched to us: the system is ready to be measured."""
        return self.publisher.get_subscription_count() >= state_subscribers and all(
            sub.get_publisher_count() > 0 for sub in self.subscriptions
        )

    def wait_matched(
        self, state_subscribers: int, timeout_s: float, alive: Callable[[], str | None]
    ) -> float | None:
        """The monotonic time the system became matched, None after `timeout_s`; raises
        RuntimeError when `alive()` names a process that died."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.matched(state_subscribers):
                return time.monotonic()
            if death := alive():
                raise RuntimeError(death)
            time.sleep(READY_POLL_S)
        return None

    def first_answer(self, timeout_s: float) -> float | None:
        """Publish states until one is answered by every command: when that happened (s),
        None after `timeout_s` (a matched system can still be building its first step)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            _, arrived = self.round()
            if arrived == arrived:  # not NaN
                return arrived
        return None

    def send_goals(self, node: Node, goal_topics: Sequence[str], text: str) -> bool:
        """Give every agent the goal `text` (the agents' own goal QoS); True once each was
        acknowledged within GOAL_ACK_S. Send it after a state was answered: an agent refuses
        a goal before it has a joint state."""
        publishers = [node.create_publisher(String, t, qos.GOALS) for t in goal_topics]
        deadline = time.monotonic() + GOAL_ACK_S
        while not all(p.get_subscription_count() > 0 for p in publishers):
            if time.monotonic() > deadline:
                return False
            time.sleep(READY_POLL_S)
        for publisher in publishers:
            publisher.publish(String(data=text))
        acked = all(p.wait_for_all_acked(Duration(seconds=GOAL_ACK_S)) for p in publishers)
        self.round()  # the next step reads the goal; its commands are no measurement
        return acked

    def drain(self) -> None:
        """Drop every command already received (a lost state's late answers, old ones)."""
        for sub in self.subscriptions:
            while sub.handle.take_message(sub.msg_type, True) is not None:
                pass

    def round(self, timeout_s: float = ROUND_TIMEOUT_S) -> tuple[float, float]:
        """Publish one state; (published, last command arrived) in s, arrival NaN if lost."""
        pending = list(range(len(self.subscriptions)))
        wait_set, pointers, subscriptions = self.wait_set, self.pointers, self.subscriptions
        published = time.monotonic()
        self.publisher.publish(self.state)
        deadline = published + timeout_s
        arrived = float("nan")
        while pending:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.drain()
                return published, float("nan")
            wait_set.clear_entities()
            for index in pending:
                wait_set.add_subscription(subscriptions[index].handle)
            wait_set.wait(int(remaining * 1e9))
            arrived = time.monotonic()  # when we learned of what is ready now
            ready = wait_set.get_ready_entities("subscription")
            for index in list(pending):
                sub = subscriptions[index]
                if pointers[index] in ready and sub.handle.take_message(sub.msg_type, True):
                    pending.remove(index)
        return published, arrived

    def window(
        self,
        rate_hz: float,
        seconds: float,
        warm_up_s: float = 0.3,
        between: Callable[[float], None] | None = None,
    ) -> Window:
        """States at `rate_hz` for `warm_up_s` (discarded) then `seconds`; `between(now)` is
        called after each state is answered (the decode load sends its instructions there).
        The garbage collector is paused meanwhile: its pauses would be the prober's, not the
        system's."""
        period = 1.0 / rate_hz
        if warm_up_s > 0:
            self._rounds(period, round(warm_up_s * rate_hz), between)
        gc.disable()
        try:
            return self._rounds(period, max(1, round(seconds * rate_hz)), between)
        finally:
            gc.enable()

    def _rounds(
        self, period: float, count: int, between: Callable[[float], None] | None
    ) -> Window:
        scheduled, published, acted = (np.full(count, np.nan) for _ in range(3))
        late = 0
        self.drain()
        began = tick = time.monotonic()
        for k in range(count):
            now = time.monotonic()
            if tick > now:
                time.sleep(tick - now)
            elif now - tick > LATE_FRACTION * period:  # answered after this tick: off grid
                late += 1
                if now - tick > period:  # a period behind: restart the grid, no catch-up
                    tick = now
            scheduled[k] = tick
            published[k], acted[k] = self.round()
            tick += period
            if between is not None:
                between(time.monotonic())
        return Window(period, scheduled, published, acted, late, time.monotonic() - began)
