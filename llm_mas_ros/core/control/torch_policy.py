"""The learned network stepped in torch, on any device: the `policy_device: cuda` runtime (the
robot's GPU) and the naive build of the latency bench (eager torch on the CPU, one agent at a
time, allocating its inputs on every call).

It computes the same commands as `LearnedPolicy.command` (numpy, batched, arrays allocated
once): the same weights, features, embedding and residual output (a unit test checks), so
what differs is only where and how the network runs. torch is imported when one is built.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .learned_policy import (
    PolicyWeights,
    command_from_output,
    joint_scale,
    moving,
    observation_features,
    reference,
    torch_model_from,
    type_rows,
)
from .policies import Observation


class TorchPolicy:
    """The learned network in torch on `device` for the agents `agent_names`: a `Policy`, and
    a command source for the guard (`command`, and `base` the classical command)."""

    name = "learned (eager torch)"

    def __init__(
        self, weights: PolicyWeights, agent_names: Sequence[str], device: str = "cpu"
    ) -> None:
        import torch

        self.torch = torch
        self.device = torch.device(device)
        self.weights = weights
        self.model = torch_model_from(weights).to(self.device)
        self.types = type_rows(agent_names, weights.type_names)
        self.base = np.zeros(len(agent_names))

    def command(self, observation: Observation) -> np.ndarray:
        torch, weights = self.torch, self.weights
        features = observation_features(observation, self.types, len(weights.type_names))
        count = features.shape[0]
        embedding = observation.goal_embedding
        if weights.embedding_dim > 0 and embedding.shape[1] == weights.embedding_dim:
            text = torch.from_numpy(np.ascontiguousarray(embedding, dtype=np.float32))
        else:  # no goal text: the FiLM layers take a width-1 zero input
            text = torch.zeros((count, max(weights.embedding_dim, 1)))
        with torch.no_grad():
            y = self.model(torch.from_numpy(features).to(self.device), text.to(self.device))
            output = y.cpu().numpy().astype(np.float64)
        _, half = joint_scale(observation.lower, observation.upper)
        self.base = reference(observation)[0]
        return command_from_output(
            output,
            self.base,
            half,
            weights.output_scale,
            observation.lower,
            observation.upper,
            moving(observation),
        )

    def act(self, observation: Observation) -> np.ndarray:
        return self.command(observation)


def cuda_available() -> tuple[bool, str]:
    """(whether torch sees a CUDA device, why not)."""
    try:
        import torch
    except ImportError as error:
        return False, f"torch is not installed ({error})"
    if not torch.cuda.is_available():
        return False, "torch sees no CUDA device"
    return True, ""
