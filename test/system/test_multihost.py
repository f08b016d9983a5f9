"""Multi-host (issue 13, item 6): the planner on one "host", the sim and the agents on another,
as two Linux network namespaces joined by a veth pair. Each namespace has only its loopback and
its end of the veth, and the Fast DDS profile allows UDPv4 alone (no shared-memory transport),
so every message between the two sides crosses the veth as UDP, as between two machines. An
instruction sent on the planner's side still runs to done; the veth's counters show the
traffic. Skipped, with the reason, where namespaces or veth pairs cannot be made (no iproute2,
no CAP_NET_ADMIN, a kernel without veth)."""

import contextlib
import json
import math
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from llm_mas_ros.launcher.bringup import FASTDDS_PROFILE_ENV, node_list
from llm_mas_ros.launcher.processes import ProcessGroup

SUBNET = "10.213.77"  # /24 of the veth pair: .1 the planner's host, .2 the robot's

# The package's profile (config/fastdds.xml: fast initial announcements) with UDPv4 as the only
# transport: no shared memory, whose segments processes of one machine would share whatever
# their network namespaces.
UDP_ONLY_PROFILE = """<?xml version="1.0" encoding="UTF-8"?>
<dds xmlns="http://www.eprosima.com">
  <profiles>
    <transport_descriptors>
      <transport_descriptor>
        <transport_id>udp_only</transport_id>
        <type>UDPv4</type>
      </transport_descriptor>
    </transport_descriptors>
    <participant profile_name="llm_mas_ros_multihost" is_default_profile="true">
      <rtps>
        <userTransports><transport_id>udp_only</transport_id></userTransports>
        <useBuiltinTransports>false</useBuiltinTransports>
        <builtin>
          <discovery_config>
            <initialAnnouncements>
              <count>10</count>
              <period><sec>0</sec><nanosec>20000000</nanosec></period>
            </initialAnnouncements>
          </discovery_config>
        </builtin>
      </rtps>
    </participant>
  </profiles>
</dds>
"""


@dataclass(frozen=True)
class Host:
    """One network namespace: its name, its end of the veth, that end's address."""

    namespace: str
    interface: str
    address: str

    @property
    def prefix(self) -> list[str]:
        return ["ip", "netns", "exec", self.namespace]

    def ip(self, *args: str) -> None:
        _ip("-n", self.namespace, *args)

    def received_bytes(self) -> int:
        path = f"/sys/class/net/{self.interface}/statistics/rx_bytes"
        out = subprocess.run([*self.prefix, "cat", path], capture_output=True, text=True)
        return int(out.stdout)


def _ip(*args: str) -> None:
    result = subprocess.run(["ip", *args], capture_output=True, text=True)
    if result.returncode:
        raise OSError(f"ip {' '.join(args)}: {result.stderr.strip() or result.returncode}")


CAP_NET_ADMIN, CAP_SYS_ADMIN = 12, 21  # bits of CapEff (linux/capability.h)


def _missing_privilege() -> str | None:
    """Why this process cannot make network namespaces, as far as can be told before trying:
    `ip netns add` needs CAP_NET_ADMIN, and CAP_SYS_ADMIN for the bind mount that names a
    namespace (both are root's, in the initial user namespace)."""
    if shutil.which("ip") is None:
        return "no `ip` command (iproute2): cannot create network namespaces"
    status = Path("/proc/self/status").read_text()
    effective = int(next(line.split()[1] for line in status.splitlines() if "CapEff" in line), 16)
    missing = [
        name
        for name, bit in (("CAP_NET_ADMIN", CAP_NET_ADMIN), ("CAP_SYS_ADMIN", CAP_SYS_ADMIN))
        if not effective >> bit & 1
    ]
    if missing:
        who = "root" if os.geteuid() == 0 else f"not root (euid {os.geteuid()})"
        return (
            f"{who} without {' and '.join(missing)}: `ip netns add` cannot create network "
            "namespaces (run the test as root, or in a container with --cap-add NET_ADMIN "
            "--cap-add SYS_ADMIN)"
        )
    return None


def _try_ip(*args: str) -> None:
    with contextlib.suppress(OSError):
        _ip(*args)


@contextlib.contextmanager
def two_hosts() -> Iterator[tuple[Host, Host]]:
    """Two namespaces joined by a veth pair (a /24, multicast routed over it as a default
    route would), removed on the way out; skips the test where they cannot be made."""
    if reason := _missing_privilege():
        pytest.skip(reason)
    tag = f"{os.getpid() % 100000}"
    hosts = (
        Host(f"llm_mas_planner_{tag}", f"lmp{tag}", f"{SUBNET}.1"),
        Host(f"llm_mas_robot_{tag}", f"lmr{tag}", f"{SUBNET}.2"),
    )
    with contextlib.ExitStack() as stack:
        try:
            for host in hosts:
                _try_ip("netns", "delete", host.namespace)  # left by a killed run of this pid
                _ip("netns", "add", host.namespace)
                stack.callback(_try_ip, "netns", "delete", host.namespace)  # and its veth end
            _try_ip("link", "delete", hosts[0].interface)
            _ip("link", "add", hosts[0].interface, "type", "veth", "peer", hosts[1].interface)
        except OSError as error:  # e.g. a kernel without netns or veth, a read-only /run
            pytest.skip(f"cannot create network namespaces joined by a veth pair: {error}")
        # Deleted with its namespace once moved there; before that, here.
        stack.callback(_try_ip, "link", "delete", hosts[0].interface)
        for host in hosts:
            _ip("link", "set", host.interface, "netns", host.namespace)
            host.ip("addr", "add", f"{host.address}/24", "dev", host.interface)
            host.ip("link", "set", "lo", "up")
            host.ip("link", "set", host.interface, "up")
            host.ip("route", "add", "224.0.0.0/4", "dev", host.interface)  # for discovery
        yield hosts


def test_planner_and_robot_on_two_hosts_execute_an_instruction_over_udp(tmp_path, record_result):
    with contextlib.ExitStack() as stack:
        planner_host, robot_host = stack.enter_context(two_hosts())
        profile = tmp_path / "fastdds_udp_only.xml"
        profile.write_text(UDP_ONLY_PROFILE)
        env = {
            **os.environ,
            FASTDDS_PROFILE_ENV: str(profile),
            "ROS_AUTOMATIC_DISCOVERY_RANGE": "SUBNET",  # the session's LOCALHOST would isolate
        }
        sides = [
            (robot_host, node_list(part="robot") + node_list(part="agents")),
            (planner_host, node_list(part="planner", planner_backend="rules")),
        ]
        groups = []
        for host, specs in sides:
            group = ProcessGroup(specs, tmp_path / host.namespace, env, prefix=host.prefix)
            stack.callback(group.stop)
            group.start()
            groups.append(group)
        received_before = planner_host.received_bytes()
        say_args = ["wrist_1 to 30 degrees", "--json", "--timeout", "30", "--ready-timeout", "30"]
        say = subprocess.run(
            [*planner_host.prefix, sys.executable, "-m", "llm_mas_ros.cli", "say", *say_args],
            capture_output=True,
            text=True,
            env=env,
            timeout=90,
        )
        crossed = planner_host.received_bytes() - received_before
        pids = [running.process.pid for group in groups for running in group.running]
        shared = {pid: _shared_memory_segments(pid) for pid in pids}
    assert say.returncode == 0, say.stdout + say.stderr + _logs(tmp_path)
    outcome = json.loads(say.stdout.strip().splitlines()[-1])
    assert outcome["ok"] is True and outcome["state"] == "done", outcome
    final = outcome["final_positions"]["wrist_1_joint"]
    assert final == pytest.approx(math.radians(30), abs=0.02)
    # What the planner's side heard came over the veth, as UDP: no node mapped a Fast DDS
    # shared-memory segment (with the package's own profile they do, beside UDP).
    assert crossed > 50_000, f"only {crossed} bytes crossed the veth"
    assert all(segments == set() for segments in shared.values()), shared
    record_result(
        "multi-host (two network namespaces, UDP)", done_ms=outcome["timings_ms"]["done"]
    )


def _shared_memory_segments(pid: int) -> set[str]:
    """The Fast DDS shared-memory segments (/dev/shm/fast*) process `pid` has mapped."""
    maps = Path(f"/proc/{pid}/maps").read_text()
    return {line.split()[-1] for line in maps.splitlines() if "/dev/shm/fast" in line}


def _logs(folder: Path) -> str:
    return "".join(f"\n--- {log}\n{log.read_text()[-2000:]}" for log in folder.glob("*/*.log"))
