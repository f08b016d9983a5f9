"""The agents process's real-time settings, as a ros2_control user knows them: timer slack, CPU
affinity, a SCHED_FIFO priority for the control thread, and memory locked in RAM.

`apply_realtime(control, system)` applies what `control` (robot.yaml's ControlSettings) asks
for through a `RealtimeSystem` and returns one `RealtimeOutcome` per setting asked for: applied,
or why not and what a person can do about it. A setting that cannot be applied (no permission,
not Linux, no such CPU) never raises: the process runs on without it and says so once. A
malformed `cpu_affinity` is a ConfigError, like every other invalid parameter.

Scope, as in ros2_control's controller manager: timer slack and the SCHED_FIFO priority are the
calling (control) thread's, and threads it starts later inherit them; the CPU affinity is set
for every thread of the process (the DDS threads that deliver /joint_states included).
`LinuxSystem` is the real system (os, and prctl / mlockall through ctypes); tests pass a fake.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import resource
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from ..errors import ConfigError
from ..robot.model import ControlSettings

PR_SET_TIMERSLACK = 29  # linux/prctl.h
MCL_CURRENT, MCL_FUTURE = 1, 2  # sys/mman.h
CAP_IPC_LOCK = 14  # linux/capability.h: lock memory beyond RLIMIT_MEMLOCK
LIMITS_CONF = "/etc/security/limits.conf"


class RealtimeSystem(Protocol):
    """What applying the settings needs of the operating system; each call raises OSError
    (with its errno) when the system refuses."""

    def set_timer_slack(self, ns: int) -> None: ...

    def set_affinity(self, cpus: frozenset[int]) -> None: ...

    def set_fifo_priority(self, priority: int) -> None: ...

    def lock_memory(self) -> None: ...

    def memlock_limit(self) -> int | None:
        """RLIMIT_MEMLOCK in bytes; None when unlimited or when CAP_IPC_LOCK lifts it."""
        ...

    def cpus(self) -> frozenset[int]:
        """The CPUs this machine has."""
        ...


@dataclass(frozen=True)
class RealtimeOutcome:
    """One real-time setting asked for: `error` says why it is not in force ("": it is)."""

    setting: str
    value: str
    error: str = ""

    @property
    def applied(self) -> bool:
        return not self.error

    def line(self) -> str:
        state = "applied" if self.applied else f"not applied: {self.error}"
        return f"{self.setting} {self.value}: {state}"


def parse_cpu_list(text: str) -> frozenset[int]:
    """CPUs as `taskset -c` and cpusets write them: '2', '0,2-3'. '' is no CPU (no pinning)."""
    cpus: set[int] = set()
    for part in filter(None, (p.strip() for p in text.split(","))):
        low, dash, high = part.partition("-")
        try:
            first, last = int(low), int(high if dash else low)
        except ValueError:
            first, last = 0, -1
        if first < 0 or last < first:
            raise ConfigError(
                f"cpu_affinity {text!r}: {part!r} is not a CPU or a range of CPUs "
                "(write them as taskset -c does: '2' or '0,2-3')"
            )
        cpus.update(range(first, last + 1))
    return frozenset(cpus)


def format_cpu_list(cpus: frozenset[int]) -> str:
    """The inverse of parse_cpu_list, ranges merged: {0, 1, 2, 5} -> '0-2,5'."""
    runs: list[list[int]] = []
    for cpu in sorted(cpus):
        if runs and cpu == runs[-1][1] + 1:
            runs[-1][1] = cpu
        else:
            runs.append([cpu, cpu])
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)


def requested(control: ControlSettings) -> list[tuple[str, str]]:
    """(setting, value) of each real-time setting `control` asks for, in the order applied.
    Timer slack is always asked for (0 asks for the kernel's default back); the others only
    when set. Raises ConfigError for a malformed cpu_affinity."""
    asked = [("timer_slack_ns", str(control.timer_slack_ns))]
    cpus = parse_cpu_list(control.cpu_affinity)
    if cpus:
        asked.append(("cpu_affinity", format_cpu_list(cpus)))
    if control.thread_priority > 0:
        asked.append(("thread_priority", str(control.thread_priority)))
    if control.lock_memory:
        asked.append(("lock_memory", "true"))
    return asked


def apply_realtime(control: ControlSettings, system: RealtimeSystem) -> list[RealtimeOutcome]:
    """Apply every real-time setting `control` asks for; one outcome each (see module doc)."""
    actions: dict[str, Callable[[], None]] = {
        "timer_slack_ns": lambda: system.set_timer_slack(control.timer_slack_ns),
        "cpu_affinity": lambda: system.set_affinity(parse_cpu_list(control.cpu_affinity)),
        "thread_priority": lambda: system.set_fifo_priority(control.thread_priority),
        "lock_memory": lambda: _lock_memory(system),
    }
    outcomes = []
    for setting, value in requested(control):
        try:
            actions[setting]()
            error = ""
        except OSError as failure:
            error = explain(setting, value, failure, system)
        outcomes.append(RealtimeOutcome(setting, value, error))
    return outcomes


def _lock_memory(system: RealtimeSystem) -> None:
    """mlockall(MCL_CURRENT | MCL_FUTURE) only where no limit applies: under a finite
    RLIMIT_MEMLOCK, MCL_FUTURE makes every allocation past the limit fail, which would kill
    the control loop later instead of refusing now."""
    limit = system.memlock_limit()
    if limit is not None:
        raise OSError(errno.ENOMEM, f"RLIMIT_MEMLOCK is {limit // 1024} KiB")
    system.lock_memory()


def explain(setting: str, value: str, failure: OSError, system: RealtimeSystem) -> str:
    """Why `setting` could not be applied, and what would let it be, in a person's words."""
    code = failure.errno
    if code == errno.ENOSYS:
        return "not supported on this system (Linux only)"
    if setting == "cpu_affinity" and code == errno.EINVAL:
        return f"no such CPU on this machine (it has CPUs {format_cpu_list(system.cpus())})"
    if setting == "thread_priority" and code == errno.EPERM:
        return (
            f"not permitted: SCHED_FIFO needs CAP_SYS_NICE or an rtprio limit of at least "
            f"{value} (e.g. '@realtime - rtprio 99' in {LIMITS_CONF}, as for ros2_control)"
        )
    if setting == "lock_memory" and code in (errno.ENOMEM, errno.EPERM):
        return (
            f"{failure.strerror}: locking needs CAP_IPC_LOCK or an unlimited memlock limit "
            f"(e.g. '@realtime - memlock unlimited' in {LIMITS_CONF})"
        )
    return failure.strerror or os.strerror(code or 0)


class LinuxSystem:
    """The real system: Linux calls for the calling thread (timer slack, SCHED_FIFO) or for
    every thread of the process (affinity, locked memory). Elsewhere each raises ENOSYS."""

    def __init__(self) -> None:
        self._libc: ctypes.CDLL | None = None
        with contextlib.suppress(OSError):
            self._libc = ctypes.CDLL(None, use_errno=True)

    def set_timer_slack(self, ns: int) -> None:
        self._call("prctl", PR_SET_TIMERSLACK, ns, 0, 0, 0)

    def set_affinity(self, cpus: frozenset[int]) -> None:
        setter = getattr(os, "sched_setaffinity", None)
        if setter is None or not os.path.isdir("/proc/self/task"):
            raise OSError(errno.ENOSYS, "no sched_setaffinity")
        for thread in os.listdir("/proc/self/task"):
            with contextlib.suppress(ProcessLookupError):  # a thread that ended meanwhile
                setter(int(thread), cpus)

    def set_fifo_priority(self, priority: int) -> None:
        setter = getattr(os, "sched_setscheduler", None)
        if setter is None:
            raise OSError(errno.ENOSYS, "no sched_setscheduler")
        setter(0, os.SCHED_FIFO, os.sched_param(priority))  # 0: the calling thread

    def lock_memory(self) -> None:
        self._call("mlockall", MCL_CURRENT | MCL_FUTURE)

    def memlock_limit(self) -> int | None:
        if _has_capability(CAP_IPC_LOCK):
            return None
        soft, _ = resource.getrlimit(resource.RLIMIT_MEMLOCK)
        return None if soft == resource.RLIM_INFINITY else soft

    def cpus(self) -> frozenset[int]:
        return frozenset(range(os.cpu_count() or 1))

    def _call(self, name: str, *args: int) -> None:
        function = getattr(self._libc, name, None) if self._libc is not None else None
        if function is None:
            raise OSError(errno.ENOSYS, f"no {name}")
        if function(*args) != 0:
            code = ctypes.get_errno()
            raise OSError(code, os.strerror(code))


def _has_capability(bit: int) -> bool:
    """Whether this process holds capability `bit` (its effective set in /proc)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("CapEff:"):
                    return bool(int(line.split()[1], 16) >> bit & 1)
    except (OSError, ValueError):
        pass
    return False


def demote_current_thread(nice: int = 10) -> str:
    """Run the calling thread below the control loops: SCHED_BATCH (the scheduler treats it
    as CPU-bound and does not let its wake-ups preempt others) and `nice` steps nicer. For a
    worker that must never starve the agents on a small computer (the planner's decoding);
    threads it starts later (a model runtime's pool) inherit both. Lowering one's own priority
    needs no privilege. Returns why it could not ("" when it did)."""
    import threading  # here: only workers that demote themselves need it

    try:
        os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))
        thread = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, thread, os.getpriority(os.PRIO_PROCESS, thread) + nice)
    except (AttributeError, OSError) as error:  # not Linux, or refused
        return f"cannot lower the thread's priority: {error}"
    return ""
