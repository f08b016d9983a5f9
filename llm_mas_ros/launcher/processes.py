"""The pip-only launcher: start a node list as processes, watch them, stop them cleanly.

Each NodeSpec runs as `python -m <module> --ros-args ...` (the same arguments `ros2 launch` would
pass), in its own process group, so stopping the group leaves no orphans: SIGINT first (nodes
exit 0 on it), then SIGTERM, then SIGKILL for anything that does not listen. Each child is told
the launcher's pid (LAUNCHER_ENV) so that it also stops when the launcher dies without stopping
it (SIGKILL, a crash): see ros/runtime.py's die_with_launcher().

`llm-mas-ros run` brings up a graph of its own: claim_free_domain() picks it a DDS domain that no
participant on this host uses, and holds it while it runs.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..core.errors import ConfigError, LlmMasError
from .bringup import NodeSpec, dds_environment

STOP_GRACE_S = 5.0
LAUNCHER_ENV = "LLM_MAS_ROS_LAUNCHER_PID"  # set in every child: the pid of the process starting it

# Domains `run` may pick. 0 is everyone's default; above 101 a domain's DDS ports (below) reach
# Linux's ephemeral port range (32768 and up), where they may collide with any socket.
DOMAIN_IDS = range(1, 102)
# The DDS-RTPS port mapping (spec 9.6.1.1): a participant's discovery (metatraffic unicast)
# port is PB + DG * domain + d1 + PG * participant_id; each takes the lowest free id.
_PB, _DG, _D1, _PG = 7400, 250, 10, 2
_PARTICIPANTS_PROBED = 10  # a domain with none of its first 10 participant ports bound is free
# A launcher claims a domain by binding the discovery port of participant id 50, which no graph
# here reaches (a graph takes ids from 0; ours use ~3, or ~10 with one process per agent). Below
# 101 * 250 + 7400 + 10 + 2 * 50 = 32760 it stays out of the ephemeral range too.
_CLAIM_PARTICIPANT = 50


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
        prefix: Sequence[str] = (),
    ) -> None:
        """`prefix`: a command that each process is started under and that execs it, keeping
        its pid (`ip netns exec NS`: the process joins network namespace NS)."""
        self.specs = list(specs)
        self.inherit_output = inherit_output
        self.prefix = list(prefix)
        self.log_dir = Path(log_dir) if log_dir else Path(tempfile.mkdtemp(prefix="llm_mas_ros-"))
        self._own_log_dir = log_dir is None  # a folder of our own: removed by discard_logs()
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
            log = self._log(f"{index:02d}-{spec.name or spec.executable}")
            self.running.append(Running(spec, self._spawn(spec, log), log))

    def kill(self, running: Running, sig: int = signal.SIGKILL) -> None:
        """Send `sig` to `running`'s process group: a fault (SIGKILL, SIGSTOP) or its end
        (SIGCONT). After SIGKILL it returns once the process is gone."""
        _signal_group(running.process, sig)
        if sig == signal.SIGKILL:
            running.process.wait(timeout=STOP_GRACE_S)

    def restart(self, running: Running) -> Running:
        """Start `running`'s node again in its place (once it has exited: kill() it first),
        logging to a new file beside the first. Returns the new Running."""
        if running.process.poll() is None:
            raise LlmMasError(f"{running.label} still runs (pid {running.process.pid})")
        index = self.running.index(running)
        stem = running.log.stem if running.log else running.label
        log = self._log(f"{stem}-restarted")
        restarted = Running(running.spec, self._spawn(running.spec, log), log)
        self.running[index] = restarted
        return restarted

    def _log(self, stem: str) -> Path | None:
        return None if self.inherit_output else self.log_dir / f"{stem}.log"

    def _spawn(self, spec: NodeSpec, log: Path | None) -> subprocess.Popen:
        if spec.module is None:  # another package's executable: only `ros2 launch` has it
            raise ConfigError(
                f"{spec.name} runs {spec.package}'s {spec.executable}, which needs a ROS 2 "
                "install: use ros2 launch"
            )
        command = [*self.prefix, sys.executable, "-m", spec.module, *spec.ros_arguments()]
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

    def discard_logs(self) -> None:
        """Remove the temporary log folder (when all went well: nobody needs it)."""
        if self._own_log_dir:
            shutil.rmtree(self.log_dir, ignore_errors=True)

    def first_death(self) -> str | None:
        """How the first process that exited ended, or None while all run."""
        dead = self.failed()
        return self.describe_exit(dead) if dead else None

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


def _discovery_port(domain: int, participant: int) -> int:
    return _PB + _DG * domain + _D1 + _PG * participant


def _bound(port: int) -> socket.socket | None:
    """A UDP socket bound to `port` on every address, or None if something holds the port."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.bind(("0.0.0.0", port))
    except OSError:
        probe.close()
        return None
    return probe


def _port_free(port: int) -> bool:
    probe = _bound(port)
    if probe is None:
        return False
    probe.close()
    return True


def _participants_running(domain: int) -> bool:
    return not all(_port_free(_discovery_port(domain, p)) for p in range(_PARTICIPANTS_PROBED))


def domain_in_use(domain: int) -> bool:
    """Whether a DDS participant of `domain` runs on this host (any discovery range), or a
    launcher holds a claim on it."""
    claimed = not _port_free(_discovery_port(domain, _CLAIM_PARTICIPANT))
    return claimed or _participants_running(domain)


@dataclass
class DomainClaim:
    """A DDS domain that no participant on this host used when it was claimed, held while
    `port` stays bound: close() it, or leave its with-block, to release it."""

    domain: int
    port: socket.socket

    def __enter__(self) -> DomainClaim:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.port.close()


def claim_free_domain(rng: random.Random | None = None) -> DomainClaim:
    """Claim a random domain of DOMAIN_IDS that no participant on this host uses. Binding its
    claim port is the atomic step: two launchers choosing in the same instant, before either's
    nodes exist, never get the same domain. The socket is not inherited: the nodes a launcher
    starts make the domain busy with their own ports."""
    candidates = list(DOMAIN_IDS)
    (rng or random.Random()).shuffle(candidates)
    for domain in candidates:
        claim = _bound(_discovery_port(domain, _CLAIM_PARTICIPANT))
        if claim is None:
            continue
        if not _participants_running(domain):
            return DomainClaim(domain, claim)
        claim.close()
    raise LlmMasError(
        f"every ROS domain {DOMAIN_IDS.start}..{DOMAIN_IDS.stop - 1} is in use on this host"
    )
