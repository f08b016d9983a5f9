"""How long a late-joining process waits to hear a running graph, with and without the
package's Fast DDS profile (config/fastdds.xml: 10 initial announcements 20 ms apart,
then one every 250 ms).

For each variant a publisher process keeps a latched (transient local) message up; each trial
starts a fresh Python process that creates a node and a subscription and measures, on
CLOCK_MONOTONIC, the time from creating its subscription to matching the publisher and to
receiving the message. Publisher and late joiner use the same variant (as a real graph does);
trials of the variants alternate, so machine load affects them alike.

    .venv/bin/python benchmarks/discovery_bench.py [--trials 20] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

PUBLISHER = r"""
import rclpy
from rclpy.qos import QoSProfile, DurabilityPolicy, ReliabilityPolicy
from std_msgs.msg import String
rclpy.init()
node = rclpy.create_node("discovery_probe_publisher")
qos = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL,
                 reliability=ReliabilityPolicy.RELIABLE)
node.create_publisher(String, "discovery_probe", qos).publish(String(data="hello"))
print("up", flush=True)
try:
    while rclpy.ok():
        rclpy.spin_once(node, timeout_sec=0.1)
except KeyboardInterrupt:
    pass
"""

LATE_JOINER = r"""
import time, rclpy
from rclpy.qos import QoSProfile, DurabilityPolicy, ReliabilityPolicy
from std_msgs.msg import String
rclpy.init()
node = rclpy.create_node("late_joiner")
got = []
qos = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL,
                 reliability=ReliabilityPolicy.RELIABLE)
start = time.monotonic()
sub = node.create_subscription(String, "discovery_probe", lambda m: got.append(time.monotonic()),
                               qos)
matched = None
while not got and time.monotonic() - start < 15:
    rclpy.spin_once(node, timeout_sec=0.005)
    if matched is None and sub.get_publisher_count() > 0:
        matched = time.monotonic()
matched = matched or (got[0] if got else start - 0.001)
print((matched - start) * 1000, (got[0] - start) * 1000 if got else -1)
"""


def trial(env: dict[str, str]) -> tuple[float, float]:
    """(ms to match the publisher, ms to receive its latched message)."""
    result = subprocess.run(
        [sys.executable, "-c", LATE_JOINER],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    matched, received = result.stdout.strip().splitlines()[-1].split()
    return float(matched), float(received)


def _summary(samples: list[tuple[float, float]]) -> dict[str, object]:
    matched = [m for m, _ in samples]
    received = [r for _, r in samples]
    return {
        "match_p50_ms": statistics.median(matched),
        "match_max_ms": max(matched),
        "message_p50_ms": statistics.median(received),
        "message_max_ms": max(received),
        "messages_over_1s": sum(r > 1000 or r < 0 for r in received),
        "samples_ms": samples,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = parser.parse_args()
    from llm_mas_ros.launcher.bringup import FASTDDS_PROFILE_ENV, dds_environment

    profile = dds_environment({})[FASTDDS_PROFILE_ENV]
    base = {**os.environ, "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST"}
    base.pop(FASTDDS_PROFILE_ENV, None)
    variants = {
        "default Fast DDS": base,
        "config/fastdds.xml": {**base, FASTDDS_PROFILE_ENV: profile},
    }
    publishers = []
    for domain, env in zip(
        random.sample(range(110, 200), len(variants)), variants.values(), strict=True
    ):
        env["ROS_DOMAIN_ID"] = str(domain)  # one domain per variant: they must not meet
        publisher = subprocess.Popen(
            [sys.executable, "-c", PUBLISHER], env=env, text=True, stdout=subprocess.PIPE
        )
        assert publisher.stdout.readline().strip() == "up"
        publishers.append(publisher)
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in variants}
    try:
        for _ in range(args.trials):
            for name, env in variants.items():
                samples[name].append(trial(env))
    finally:
        for publisher in publishers:
            publisher.send_signal(signal.SIGINT)
            publisher.wait(timeout=10)
    summary = {name: _summary(v) for name, v in samples.items()}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "discovery.json").write_text(
        json.dumps(
            {
                "trials": args.trials,
                "machine": os.uname().machine,
                "when": time.ctime(),
                "results": summary,
            },
            indent=2,
        )
    )
    lines = [
        "| profile | match p50 ms | match max ms | message p50 ms | message max ms | "
        "messages later than 1 s |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {name} | {s['match_p50_ms']:.0f} | {s['match_max_ms']:.0f} | "
        f"{s['message_p50_ms']:.0f} | {s['message_max_ms']:.0f} | "
        f"{s['messages_over_1s']}/{args.trials} |"
        for name, s in summary.items()
    ]
    table = "\n".join(lines)
    (out / "discovery.md").write_text(
        "Late joiner: subscription created -> publisher matched / latched message received "
        f"({args.trials} trials each, alternating; publisher and joiner use the same "
        f"variant).\n\n{table}\n\nReproduce: `.venv/bin/python benchmarks/discovery_bench.py`\n"
    )
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
