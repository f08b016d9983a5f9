"""The agents process's real-time settings against a fake system: what is asked for, what is
applied, and a person's reason for each that is not (core/control/realtime.py)."""

import errno
from dataclasses import replace

import pytest

from llm_mas_ros.core.control.realtime import (
    RealtimeOutcome,
    apply_realtime,
    format_cpu_list,
    parse_cpu_list,
)
from llm_mas_ros.core.errors import ConfigError
from llm_mas_ros.core.robot.model import ControlSettings


class FakeSystem:
    """Records what was applied; `refuse` maps a call to the errno it fails with."""

    def __init__(self, refuse=None, memlock=None, cpus=frozenset({0, 1})):
        self.refuse = refuse or {}
        self.memlock, self.machine_cpus = memlock, cpus
        self.applied: dict[str, object] = {}

    def _do(self, name, value):
        if name in self.refuse:
            raise OSError(self.refuse[name], "refused")
        self.applied[name] = value

    def set_timer_slack(self, ns):
        self._do("timer_slack", ns)

    def set_affinity(self, cpus):
        if not cpus <= self.machine_cpus:
            raise OSError(errno.EINVAL, "Invalid argument")
        self._do("affinity", cpus)

    def set_fifo_priority(self, priority):
        self._do("fifo", priority)

    def lock_memory(self):
        self._do("mlockall", True)

    def memlock_limit(self):
        return self.memlock

    def cpus(self):
        return self.machine_cpus


DEFAULTS = ControlSettings()


def test_by_default_only_the_timer_slack_is_set():
    system = FakeSystem()
    assert apply_realtime(DEFAULTS, system) == [RealtimeOutcome("timer_slack_ns", "1")]
    assert system.applied == {"timer_slack": 1}


def test_every_setting_asked_for_is_applied_where_permitted():
    control = replace(DEFAULTS, cpu_affinity="0-1", thread_priority=80, lock_memory=True)
    system = FakeSystem()
    outcomes = apply_realtime(control, system)
    assert [o.line() for o in outcomes] == [
        "timer_slack_ns 1: applied",
        "cpu_affinity 0-1: applied",
        "thread_priority 80: applied",
        "lock_memory true: applied",
    ]
    assert system.applied == {
        "timer_slack": 1,
        "affinity": frozenset({0, 1}),
        "fifo": 80,
        "mlockall": True,
    }


def test_a_refused_setting_says_why_and_what_would_permit_it_and_the_rest_still_apply():
    control = replace(DEFAULTS, cpu_affinity="5", thread_priority=80, lock_memory=True)
    system = FakeSystem(refuse={"fifo": errno.EPERM}, memlock=64 * 1024)
    outcomes = {o.setting: o for o in apply_realtime(control, system)}
    assert outcomes["timer_slack_ns"].applied
    assert (
        "no such CPU" in outcomes["cpu_affinity"].error and "0-1" in outcomes["cpu_affinity"].error
    )
    assert "CAP_SYS_NICE" in outcomes["thread_priority"].error
    assert "rtprio" in outcomes["thread_priority"].error
    # A finite memlock limit: not locked at all (MCL_FUTURE would fail allocations later).
    assert "64 KiB" in outcomes["lock_memory"].error and "mlockall" not in system.applied
    assert not system.applied.keys() - {"timer_slack"}


def test_not_linux_is_said_plainly():
    system = FakeSystem(refuse={"timer_slack": errno.ENOSYS})
    (outcome,) = apply_realtime(DEFAULTS, system)
    assert (
        outcome.line()
        == "timer_slack_ns 1: not applied: not supported on this system (Linux only)"
    )


@pytest.mark.parametrize("text, cpus", [("", set()), ("2", {2}), ("0,2-3", {0, 2, 3})])
def test_cpu_lists_read_as_taskset_writes_them(text, cpus):
    assert parse_cpu_list(text) == frozenset(cpus)
    assert parse_cpu_list(format_cpu_list(frozenset(cpus))) == frozenset(cpus)


@pytest.mark.parametrize("text", ["a", "3-1", "-1", "1,,x"])
def test_a_malformed_cpu_list_is_a_configuration_error(text):
    with pytest.raises(ConfigError, match="cpu_affinity"):
        apply_realtime(replace(DEFAULTS, cpu_affinity=text), FakeSystem())
