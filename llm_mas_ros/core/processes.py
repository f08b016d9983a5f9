"""The pip-only launcher: start a node list as processes, watch them, stop them cleanly.

Each NodeSpec runs as `python -m <module> --ros-args ...` (the same arguments `ros2 launch` would
pass), in its own process group, so stopping the group leaves no orphans: SIGINT first (nodes
exit 0 on it), then SIGTERM, then SIGKILL for anything that does not listen. Each child is told
the launcher's pid (LAUNCHER_ENV) so that it also stops when the launcher dies without stopping
it (SIGKILL, a crash): see ros/runtime.py's die_with_launcher().

`llm-mas-ros run` brings up a graph of its own: free_domain_id() picks it a DDS domain that no
participant on this host uses.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from .bringup import NodeSpec, dds_environment
from .errors import LlmMasError

STOP_GRACE_S = 5.0
LAUNCHER_ENV = "LLM_MAS_ROS_LAUNCHER_PID"  # set in every child: the pid of the process starting it

# Domains `run` may pick. 0 is everyone's default; above 101 a domain's DDS ports (below) reach
# Linux's ephemeral port range (32768 and up), where they may collide with any socket.
DOMAIN_IDS = range(1, 102)
# The DDS-RTPS port mapping (spec 9.6.1.1): a participant's discovery (metatraffic unicast)
# port is PB + DG * domain + d1 + PG * participant_id; each takes the lowest free id.
_PB, _DG, _D1, _PG = 7400, 250, 10, 2
_PARTICIPANTS_PROBED = 10  # a domain with none of its first 10 participant ports bound is free


@dataclass
class Running:
    spec: NodeSpec
    process: subprocess.Popen
    log: Path | None

    @property
    def label(self) -> str:
        return self.spec.name or self.spec.executable


class ProcessGroup:
    """Processes of one bringup. Use as a context manager: leaving it stops them all.

    Start it from the main thread: a child's death signal (die_with_launcher) fires when the
    *thread* that started it ends, not only the process."""

    def __init__(
        self,
        specs: Sequence[NodeSpec],
        log_dir: str | Path | None = None,
        env: Mapping[str, str] | None = None,
        inherit_output: bool = False,
    ) -> None:
        self.specs = list(specs)
        self.inherit_output = inherit_output
        self.log_dir = Path(log_dir) if log_dir else Path(tempfile.mkdtemp(prefix="llm_mas_ros-"))
        self.env = dds_environment(env)
        self.env["PYTHONUNBUFFERED"] = "1"
        self.env[LAUNCHER_ENV] = str(os.getpid())
        self.running: list[Running] = []

    def __enter__(self) -> ProcessGroup:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for index, spec in enumerate(self.specs):
            log = None
            if not self.inherit_output:
                log = self.log_dir / f"{index:02d}-{spec.name or spec.executable}.log"
            self.running.append(Running(spec, self._spawn(spec, log), log))

    def _spawn(self, spec: NodeSpec, log: Path | None) -> subprocess.Popen:
        command = [sys.executable, "-m", spec.module, *spec.ros_arguments()]
        with contextlib.ExitStack() as stack:  # the child keeps its own copy of the log fd
            output = stack.enter_context(open(log, "w")) if log else None
            return subprocess.Popen(
                command,
                env=self.env,
                stdout=output,
                stderr=subprocess.STDOUT if output else None,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own process group: stop() reaches grandchildren
            )

    def failed(self) -> Running | None:
        """The first process that has exited (they are meant to run until stopped)."""
        return next((r for r in self.running if r.process.poll() is not None), None)

    def describe_exit(self, running: Running) -> str:
        code = running.process.returncode
        where = f"; its log: {running.log}" if running.log else ""
        tail = ""
        if running.log and running.log.exists():
            lines = [line for line in running.log.read_text(errors="replace").splitlines() if line]
            tail = f" (last line: {lines[-1].strip()})" if lines else ""
        return f"{running.label} exited with code {code}{tail}{where}"

    def stop(self) -> None:
        """Stop every process: SIGINT, then SIGTERM, then SIGKILL, each after a grace time."""
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
            alive = [r for r in self.running if r.process.poll() is None]
            if not alive:
                break
            for running in alive:
                _signal_group(running.process, sig)
            for running in alive:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    running.process.wait(timeout=STOP_GRACE_S)
        for running in self.running:
            _signal_group(running.process, signal.SIGKILL)  # stray grandchildren, if any
        self.running = [r for r in self.running if r.process.poll() is None]


def _signal_group(process: subprocess.Popen, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):  # already gone
        os.killpg(process.pid, sig)


def domain_in_use(domain: int) -> bool:
    """Whether a DDS participant of `domain` runs on this host (any discovery range): one of
    the first participants' discovery ports is bound."""
    for participant in range(_PARTICIPANTS_PROBED):
        port = _PB + _DG * domain + _D1 + _PG * participant
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            try:
                probe.bind(("0.0.0.0", port))
            except OSError:
                return True
    return False


def free_domain_id(rng: random.Random | None = None) -> int:
    """A random domain of DOMAIN_IDS that no participant on this host uses. Two launchers
    choosing in the same instant, before either's processes exist, can still meet (odds 1 in
    ~100); after that, each sees the other's ports."""
    candidates = list(DOMAIN_IDS)
    (rng or random.Random()).shuffle(candidates)
    for domain in candidates:
        if not domain_in_use(domain):
            return domain
    raise LlmMasError(
        f"every ROS domain {DOMAIN_IDS.start}..{DOMAIN_IDS.stop - 1} is in use on this host"
    )
