"""The naive build's policy: the project's learned network stepped in eager torch, one agent at
a time, allocating its inputs on every call, as code written without latency in mind does.

It is the same function as the tuned runtime's `LearnedPolicy.act` (numpy, batched, arrays
allocated once): the same weights, features and residual output (a unit test checks), so the
benchmark compares how the step is run, not what it computes. torch is imported on use.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..core.control.learned_policy import (
    PolicyWeights,
    command_from_output,
    joint_scale,
    moving,
    observation_features,
    reference,
    torch_model_from,
    type_rows,
)
from ..core.control.policies import Observation


class TorchPolicy:
    """`Policy` of the learned network in eager torch for the agents `agent_names`."""

    name = "learned (eager torch)"

    def __init__(self, weights: PolicyWeights, agent_names: Sequence[str]) -> None:
        import torch

        self.torch = torch
        self.weights = weights
        self.model = torch_model_from(weights)
        self.types = type_rows(agent_names, weights.type_names)

    def act(self, observation: Observation) -> np.ndarray:
        torch, weights = self.torch, self.weights
        features = observation_features(observation, self.types, len(weights.type_names))
        count = features.shape[0]
        embedding = observation.goal_embedding
        if weights.embedding_dim > 0 and embedding.shape[1] == weights.embedding_dim:
            text = torch.from_numpy(np.ascontiguousarray(embedding, dtype=np.float32))
        else:  # no goal text: the FiLM layers take a width-1 zero input
            text = torch.zeros((count, max(weights.embedding_dim, 1)))
        with torch.no_grad():
            y = self.model(torch.from_numpy(features), text).numpy().astype(np.float64)
        _, half = joint_scale(observation.lower, observation.upper)
        base, _ = reference(observation)
        return command_from_output(
            y,
            base,
            half,
            weights.output_scale,
            observation.lower,
            observation.upper,
            moving(observation),
        )
