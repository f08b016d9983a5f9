"""spin_until under signals: a Ctrl-C lands between callbacks, never inside one.

In CI, a Ctrl-C raised inside the C++ executor's conversion of a message came out of
spin_once as pybind11's "Unable to convert call argument" RuntimeError: the interrupt was lost
and `llm-mas-ros up` exited 2 instead of 0."""

import signal

import pytest
from std_msgs.msg import String

from llm_mas_ros.ros import qos


@pytest.mark.parametrize("number", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_in_a_callback_is_handled_after_the_callback(harness, number):
    def stop(signum, _frame):
        raise KeyboardInterrupt if signum == signal.SIGINT else SystemExit(1)

    previous = signal.signal(number, stop)
    finished: list[str] = []

    def on_message(message: String) -> None:
        signal.raise_signal(number)  # the handler runs here unless spin_until holds it
        finished.append(message.data)

    tester = harness.tester
    tester.create_subscription(String, "signal_test", on_message, qos.INSTRUCTIONS)
    publisher = tester.create_publisher(String, "signal_test", qos.INSTRUCTIONS)
    try:
        assert harness.until(lambda: publisher.get_subscription_count() == 1)
        publisher.publish(String(data="hello"))
        with pytest.raises(KeyboardInterrupt if number == signal.SIGINT else SystemExit):
            harness.until(lambda: False, timeout_s=10.0)
        assert signal.getsignal(number) is stop  # spin_until put it back
    finally:
        signal.signal(number, previous)
    assert finished == ["hello"]
