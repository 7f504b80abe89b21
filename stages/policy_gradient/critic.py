"""The critic of a2c and ppo: an MLP on the policy's last hidden state.

As in the original experiments' Dense stack (Input -> Dense(512, ReLU) -> Dense(512,
ReLU) -> Dense(256, ReLU) -> Dense(1)), the layer sizes are a param. It reads the
hidden state detached, so the critic's loss never pulls the policy's features.
"""

import itertools

import torch
from torch import nn


class ValueHead(nn.Module):
    def __init__(self, width: int, layers: list[int]):
        super().__init__()
        sizes = [width, *layers]
        blocks: list[nn.Module] = []
        for inputs, outputs in itertools.pairwise(sizes):
            blocks += [nn.Linear(inputs, outputs), nn.ReLU()]
        blocks.append(nn.Linear(sizes[-1], 1))
        self.net = nn.Sequential(*blocks)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.net(hidden.detach().float()).squeeze(-1)
