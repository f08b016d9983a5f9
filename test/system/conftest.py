"""System tests: the whole graph as separate processes, as `llm-mas-ros up` starts it."""

import contextlib
import json
import math
import os
import signal
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

import pytest
from diagnostic_msgs.msg import DiagnosticArray
from graph_context import client_in, rclpy_on_domain
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray, String

from llm_mas_ros.core.control.agent import AgentStatus
from llm_mas_ros.core.planning.status import PlannerStatus
from llm_mas_ros.core.robot.model import load_robot
from llm_mas_ros.launcher.bringup import HOST_NODE, NodeSpec, node_list
from llm_mas_ros.launcher.processes import ProcessGroup, Running, claim_free_domain
from llm_mas_ros.ros import qos, topics
from llm_mas_ros.ros.client import GraphClient
from llm_mas_ros.ros.graph import spin_until
from llm_mas_ros.ros.messages import agent_statuses
from llm_mas_ros.ros.runtime import monotonic

AGENTS_MODULE = "llm_mas_ros.nodes.agents_node"


class Graph:
    def __init__(self, group: ProcessGroup, client: GraphClient) -> None:
        self.group, self.client = group, client

    def alive(self) -> str | None:
        dead = self.group.failed()
        return self.group.describe_exit(dead) if dead else None

    def run(self, text: str, timeout_s: float = 60.0):
        return self.client.execute(text, timeout_s, alive=self.alive)

    def positions(self) -> dict[str, float]:
        return self.client.fresh_positions()

    def wait_planner(self, state: str, timeout_s: float) -> PlannerStatus:
        """The planner's status once it reports `state` (an ExecutionState value)."""

        def reached() -> bool:
            planner = self.client.seen.planner
            return planner is not None and planner.state == state

        assert spin_until(self.client.executor, reached, timeout_s), (
            f"the planner never reported {state!r}: {self.client.seen.planner}"
        )
        assert self.client.seen.planner is not None
        return self.client.seen.planner

    def joint_samples(self, joint: str, count: int, timeout_s: float = 10.0) -> list[float]:
        """The positions of `joint` in the next `count` /joint_states messages: 'for a while'
        measured in the sim's own steps (250 Hz), a wait on messages rather than on a clock."""
        samples: list[float] = []

        def store(message: JointState) -> None:
            if joint in message.name:
                samples.append(message.position[list(message.name).index(joint)])

        node = self.client.node
        subscription = node.create_subscription(
            JointState, topics.JOINT_STATES, store, qos.JOINT_STATES
        )
        try:
            heard = spin_until(self.client.executor, lambda: len(samples) >= count, timeout_s)
        finally:
            node.destroy_subscription(subscription)
        assert heard, f"{len(samples)} of {count} joint states in {timeout_s} s"
        return samples


@pytest.fixture(scope="module")
def graph(ros, tmp_path_factory) -> Iterator[Graph]:
    group = ProcessGroup(node_list(), log_dir=tmp_path_factory.mktemp("logs"))
    group.start()
    client = GraphClient(load_robot(), node_name="system_test")
    try:
        graph = Graph(group, client)
        client.wait_ready(180.0, graph.alive)
        yield graph
    finally:
        client.close()
        group.stop()
    assert not group.running, "processes survived stop()"


# -- a graph of its own per test, for fault drills (test_faults.py, test_multihost.py) ---------


@dataclass(frozen=True)
class Sent:
    """An instruction a test sent: its text, the id the planner gives it, and a getter of
    its latest status heard under that id."""

    text: str
    number: int
    status: Callable[[], PlannerStatus | None]


@dataclass(frozen=True)
class Sample:
    """One message as this process heard it: when (monotonic s) and its value."""

    at: float
    value: float


class DrillGraph(Graph):
    """One test's whole graph on a domain of its own, with what fault drills need: the
    processes to kill and restart, every agent's latest status, and recorders of a joint's
    commands and states. Times are CLOCK_MONOTONIC s, the clock of the nodes' own stamps."""

    def __init__(self, group: ProcessGroup, client: GraphClient, domain: int) -> None:
        super().__init__(group, client)
        self.domain = domain
        self.agents: dict[str, tuple[float, AgentStatus]] = {}  # agent -> (heard at, status)
        client.node.create_subscription(
            DiagnosticArray, topics.DIAGNOSTICS, self._on_diagnostics, qos.DIAGNOSTICS
        )

    def _on_diagnostics(self, message: DiagnosticArray) -> None:
        now = monotonic()
        for status in agent_statuses(message):
            self.agents[status.name] = (now, status)

    def process(self, module: str, agent: str | None = None) -> Running:
        """The running process of node module `module` (e.g. 'llm_mas_ros.nodes.sim_node');
        with `agent`, the agents process that hosts that agent."""
        for running in self.group.running:
            hosted = running.spec.parameters.get("agents") or self.client.robot.agent_names
            if running.spec.module == module and (agent is None or agent in hosted):
                return running
        raise LookupError(f"no {module} process (agent {agent}) in {self.group.running}")

    def until(self, condition: Callable[[], bool], timeout_s: float, what: str) -> None:
        assert spin_until(self.client.executor, condition, timeout_s), (
            f"not within {timeout_s:g} s: {what}"
        )

    def send(self, text: str) -> Sent:
        """Publish instruction `text` (this test alone sends on its domain: the planner
        numbers it after those it has received)."""
        heard = self.client.seen.planner
        number = (heard.instruction_count if heard else 0) + 1
        self.client.instructions.publish(String(data=text))
        return Sent(text, number, lambda: self.client.seen.by_id.get(number))

    def outcome(self, sent: Sent, timeout_s: float) -> PlannerStatus:
        """The planner's outcome of `sent`, reported under its id."""

        def finished() -> bool:
            heard = sent.status()
            return heard is not None and heard.finished

        self.until(finished, timeout_s, f"an outcome of {sent} (last heard: {sent.status()})")
        outcome = sent.status()
        assert outcome is not None and outcome.instruction == sent.text, outcome
        return outcome

    def heard_since(self, name: str, since: float) -> AgentStatus | None:
        """Agent `name`'s latest status if it was heard after `since` (monotonic s)."""
        at, status = self.agents.get(name, (-math.inf, None))
        return status if at > since else None

    def settle(
        self, joint: str, count: int = 50, spread: float = 1e-3, timeout_s: float = 10.0
    ) -> float:
        """Wait until `count` consecutive states of `joint` lie within `spread` (rad or m):
        it has stopped. Returns where."""
        with self.recording(joint) as (_, states):
            self.until(
                lambda: (
                    len(states) >= count
                    and max(s.value for s in states[-count:])
                    - min(s.value for s in states[-count:])
                    <= spread
                ),
                timeout_s,
                f"{joint} settling within {spread:g} (last: {[s.value for s in states[-5:]]})",
            )
            return states[-1].value

    def agent(self, name: str) -> AgentStatus | None:
        heard = self.agents.get(name)
        return heard[1] if heard else None

    def position(self, joint: str) -> float:
        return self.client.seen.positions.get(joint, math.nan)

    @contextlib.contextmanager
    def recording(self, joint: str) -> Iterator[tuple[list[Sample], list[Sample]]]:
        """Record `joint`'s commands (its agent's controller topic) and its states while the
        block runs: (commands, states), appended as they are heard."""
        (agent,) = [a for a in self.client.robot.agents if a.joint.name == joint]
        commands: list[Sample] = []
        states: list[Sample] = []

        def command(message: Float64MultiArray) -> None:
            commands.append(Sample(monotonic(), float(message.data[0])))

        def state(message: JointState) -> None:
            if joint in message.name:
                states.append(Sample(monotonic(), message.position[message.name.index(joint)]))

        node = self.client.node
        subscriptions = [
            node.create_subscription(
                Float64MultiArray, agent.command_topic, command, qos.COMMANDS
            ),
            node.create_subscription(JointState, topics.JOINT_STATES, state, qos.JOINT_STATES),
        ]
        try:
            yield commands, states
        finally:
            for subscription in subscriptions:
                node.destroy_subscription(subscription)


@pytest.fixture()
def drill_graph(ros, tmp_path) -> Iterator[Callable[..., DrillGraph]]:
    """Starts a whole graph of its own (`node_list(**options)`, the rules planner unless told
    otherwise) on a DDS domain no one else on this host uses, once ready; stopped at the end.
    The rules planner loads in a second and reads the agent language the drills speak."""
    with contextlib.ExitStack() as stack:

        def start(alone: Sequence[str] = (), **options: Any) -> DrillGraph:
            """`alone`: these agents get a process each, the others share one (what
            agents='separate' does for every agent, in fewer processes to start)."""
            claim = stack.enter_context(claim_free_domain())
            env = {**os.environ, "ROS_DOMAIN_ID": str(claim.domain)}
            specs = split_agents(node_list(**{"planner_backend": "rules", **options}), alone)
            group = ProcessGroup(specs, log_dir=tmp_path / f"logs-{claim.domain}", env=env)
            stack.callback(_stopped, group)
            group.start()
            context = stack.enter_context(rclpy_on_domain(claim.domain))
            client = client_in(context, load_robot(), f"fault_drill_{claim.domain}")
            stack.callback(client.close)
            graph = DrillGraph(group, client, claim.domain)
            client.wait_ready(120.0, graph.alive)
            return graph

        yield start


def split_agents(specs: list[NodeSpec], alone: Sequence[str]) -> list[NodeSpec]:
    """The grouped agents process of `specs` split: one process per agent of `alone` (its host
    node renamed, as agents='separate' does), one for the rest."""
    if not alone:
        return specs
    (grouped,) = [spec for spec in specs if spec.module == AGENTS_MODULE]
    rest = [name for name in load_robot().agent_names if name not in alone]
    split = [
        replace(
            grouped,
            parameters={**grouped.parameters, "agents": [agent]},
            remappings=((f"{HOST_NODE}:__node", f"{HOST_NODE}_{agent}"), *grouped.remappings),
        )
        for agent in alone
    ]
    split.append(replace(grouped, parameters={**grouped.parameters, "agents": rest}))
    return [spec for spec in specs if spec is not grouped] + split


RESULTS_ENV = "LLM_MAS_ROS_FAULT_RESULTS"  # benchmarks/faults_bench.py collects these


@pytest.fixture()
def record_result(request) -> Callable[..., None]:
    """record_result(fault, name=value...): note what a fault drill measured (ms), as one JSON
    line with the test's id in the file RESULTS_ENV names (nothing when it is unset)."""

    def record(fault: str, **values: float) -> None:
        path = os.environ.get(RESULTS_ENV)
        if path:
            line = {"test": request.node.nodeid, "fault": fault, **values}
            with open(path, "a") as results:
                results.write(json.dumps(line) + "\n")

    return record


def _stopped(group: ProcessGroup) -> None:
    for running in group.running:  # a paused process ignores the stop until it runs again
        group.kill(running, signal.SIGCONT)
    group.stop()
    assert not group.running, "processes survived stop()"
