"""A key/value cache that is allocated once per rollout and filled in place.

transformers' DynamicCache grows by `torch.cat` at every new token, which copies the
whole cache each time: O(length^2) bytes per rollout. On a CPU, for the batches of
short stories an RL step samples, those copies cost about a third of generation.
This layer holds a buffer of the rollout's final length and hands attention a view
of the filled part, so each token writes only its own keys and values.
"""

import torch
from transformers.cache_utils import Cache, DynamicLayer


class PreallocatedLayer(DynamicLayer):
    """One attention layer's cache: [batch, heads, capacity, head_dim] buffers, a view
    of the first `length` positions exposed as `keys` / `values` as DynamicLayer does."""

    def __init__(self, capacity: int):
        super().__init__()
        self.capacity = capacity
        self.length = 0

    def lazy_initialization(self, key_states: torch.Tensor, value_states: torch.Tensor) -> None:
        self.dtype, self.device = key_states.dtype, key_states.device
        batch, heads, _, head_dim = key_states.shape
        self.key_buffer = key_states.new_empty((batch, heads, self.capacity, head_dim))
        self.value_buffer = value_states.new_empty((batch, heads, self.capacity, value_states.size(-1)))
        self.is_initialized = True

    def update(
        self, key_states: torch.Tensor, value_states: torch.Tensor, *args, **kwargs
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
        end = self.length + key_states.size(-2)
        if end > self.capacity:
            raise ValueError(f"the cache holds {self.capacity} positions; {end} were asked for")
        self.key_buffer[:, :, self.length : end] = key_states
        self.value_buffer[:, :, self.length : end] = value_states
        self.length = end
        self.keys, self.values = self.key_buffer[:, :, :end], self.value_buffer[:, :, :end]
        return self.keys, self.values

    def get_seq_length(self) -> int:
        return self.length


def preallocated_cache(n_layers: int, capacity: int) -> Cache:
    """A cache for a decoder of n_layers that will see at most `capacity` positions."""
    return Cache(layers=[PreallocatedLayer(capacity) for _ in range(n_layers)])
