"""The naive build's policy: the project's learned network stepped in eager torch, one agent at
a time, allocating its inputs on every call, as code written without latency in mind does.

It is the same function as the tuned runtime's `LearnedPolicy.act` (numpy, batched, arrays
allocated once): the same weights, features and residual output (a unit test checks), so the
benchmark compares how the step is run, not what it computes. torch is imported on use.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..core.control.learned_policy import (
    PolicyWeights,
    joint_scale,
    observation_features,
    torch_model,
    type_rows,
)
from ..core.control.policies import Observation


def torch_network(weights: PolicyWeights) -> Any:
    """A `torch_model` module holding `weights` (float32, eval mode)."""
    import torch

    hidden = [w.shape[1] for w, _ in weights.hidden]
    model = torch_model(
        weights.type_names, weights.embedding_dim, hidden, output_scale=weights.output_scale
    )
    with torch.no_grad():
        for layer, (w, b) in zip(model.hidden, weights.hidden, strict=True):
            layer.weight.copy_(torch.from_numpy(w.T.copy()))
            layer.bias.copy_(torch.from_numpy(b))
        for i, film in enumerate(weights.film):
            gw, gb, bw, bb = (torch.from_numpy(a.T.copy() if a.ndim == 2 else a) for a in film)
            model.gamma[i].weight.copy_(gw)
            model.gamma[i].bias.copy_(gb)
            model.beta[i].weight.copy_(bw)
            model.beta[i].bias.copy_(bb)
        model.output.weight.copy_(torch.from_numpy(weights.output[0].T.copy()))
        model.output.bias.copy_(torch.from_numpy(weights.output[1]))
    return model.eval()


class TorchPolicy:
    """`Policy` of the learned network in eager torch for the agents `agent_names`."""

    name = "learned (eager torch)"

    def __init__(self, weights: PolicyWeights, agent_names: Sequence[str]) -> None:
        import torch

        self.torch = torch
        self.weights = weights
        self.model = torch_network(weights)
        self.types = type_rows(agent_names, weights.type_names)

    def act(self, observation: Observation) -> np.ndarray:
        torch, weights = self.torch, self.weights
        features = observation_features(observation, self.types, len(weights.type_names))
        count = features.shape[0]
        text = torch.zeros((count, max(weights.embedding_dim, 1)))  # no goal text: no FiLM
        with torch.no_grad():
            y = self.model(torch.from_numpy(features), text).numpy().astype(np.float64)
        _, half = joint_scale(observation.lower, observation.upper)
        command: np.ndarray = observation.position + weights.output_scale * half * y
        if observation.lower.size:
            command = np.clip(command, observation.lower, observation.upper)
        return command
