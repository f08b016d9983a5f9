"""The agents process as launched: its real-time settings in force (read from /proc, not from
what it says) and reported, and its hop latencies measured and reported on /diagnostics."""

from pathlib import Path

from llm_mas_ros.core.robot.model import load_robot

ROBOT = load_robot()
AGENTS = "llm_mas_ros.nodes.agents_node"
KERNEL_DEFAULT_SLACK_NS = 50_000


def timer_slack_ns(pid: int) -> int:
    return int(Path(f"/proc/{pid}/timerslack_ns").read_text())


def test_the_agents_process_runs_with_its_timer_slack_and_reports_its_latencies(drill_graph):
    graph = drill_graph()
    agents = graph.process(AGENTS)
    assert ROBOT.control.timer_slack_ns != KERNEL_DEFAULT_SLACK_NS  # or this proves nothing
    assert timer_slack_ns(agents.process.pid) == ROBOT.control.timer_slack_ns
    outcome = graph.run("wrist_1 to 10 degrees")  # states and commands flow: hops measured
    assert outcome.ok, outcome.reason

    def measured() -> bool:
        status = graph.agent("wrist_1")
        return (
            status is not None
            and status.latency is not None
            and None not in (status.latency.state_to_command, status.latency.step_time)
        )

    graph.until(measured, 5.0, f"latencies in wrist_1's status: {graph.agent('wrist_1')}")
    status = graph.agent("wrist_1")
    assert f"timer_slack_ns {ROBOT.control.timer_slack_ns}: applied" in status.realtime
    hops = status.latency
    # The sim stamps states on the system clock, as the agents read it: their age is measured.
    assert hops.state_age is not None and 0 < hops.state_age.p50_ms < 50.0, hops
    assert 0 < hops.step_time.p50_ms <= hops.state_to_command.p50_ms < 50.0, hops
    assert hops.command_publish is not None and hops.command_publish.p50_ms < 50.0, hops
    assert hops.state_to_command.p50_ms <= hops.state_to_command.p99_ms, hops
