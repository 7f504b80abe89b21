"""A lean KV-cached forward for GPT-2-family models, for sampling rollouts.

transformers' forward builds a 4D attention mask, walks its cache classes and wraps
every output at each new token; for the small models and short stories of an RL step
on a CPU, that bookkeeping costs more than the layers' arithmetic. This decoder calls
the model's own modules (layer norms, projections, MLPs: so LoRA adapters, a fused
activation and autocast apply as they do in transformers) and does only attention and
the cache itself: keys and values written in place into buffers of the rollout's final
length, attention over the filled part under a boolean mask.

It serves a plain GPT-2 (GPT2LMHeadModel, or one wrapped by peft or DDP); any other
model, or a GPT-2 configured with attention options it does not reproduce, decodes
through transformers (`lean_gpt2_decoder` returns None). tests/modeling compare its
logits with transformers' on left-padded batches.
"""

import math

import torch
import torch.nn.functional as F


def unwrapped(model):
    """The GPT2LMHeadModel under a DDP or peft wrapper (peft's adapters stay in its modules)."""
    model = getattr(model, "module", model)  # DistributedDataParallel
    if hasattr(model, "get_base_model"):  # peft
        model = model.get_base_model()
    return model


def supports(model) -> bool:
    model = unwrapped(model)
    config = getattr(model, "config", None)
    return (
        config is not None
        and getattr(config, "model_type", None) == "gpt2"
        and hasattr(model, "transformer")
        and hasattr(model, "lm_head")
        and not getattr(config, "add_cross_attention", False)
        and not getattr(config, "reorder_and_upcast_attn", False)
    )


class GPT2Decoder:
    """One rollout's decoding state: a cache of `capacity` positions for `rows` rows."""

    def __init__(self, model, rows: int, capacity: int):
        self.model = unwrapped(model)
        config = self.model.config
        self.heads = config.n_head
        self.head_dim = config.n_embd // config.n_head
        self.scale_by_layer = bool(getattr(config, "scale_attn_by_inverse_layer_idx", False))
        self.scale = 1.0 / math.sqrt(self.head_dim) if getattr(config, "scale_attn_weights", True) else 1.0
        self.rows, self.capacity, self.length = rows, capacity, 0
        self.keys: list[torch.Tensor] = []
        self.values: list[torch.Tensor] = []

    def allocate(self, like: torch.Tensor) -> None:
        shape = (self.rows, self.heads, self.capacity, self.head_dim)
        for _ in self.model.transformer.h:
            self.keys.append(like.new_empty(shape))
            self.values.append(like.new_empty(shape))

    def next_logits(self, input_ids: torch.Tensor, key_mask: torch.Tensor, position_ids: torch.Tensor) -> torch.Tensor:
        """Logits of the next token after `input_ids` ([rows, new] tokens at `position_ids`),
        attending to every cached position and these where `key_mask` ([rows, length + new],
        1 on real tokens) says so, causally among the new ones."""
        transformer = self.model.transformer
        new = input_ids.size(1)
        start, end = self.length, self.length + new
        if end > self.capacity:
            raise ValueError(f"the cache holds {self.capacity} positions; {end} were asked for")
        hidden = transformer.wte(input_ids) + transformer.wpe(position_ids)
        mask = self.attention_mask(key_mask.bool(), start, new)
        for index, block in enumerate(transformer.h):
            hidden = hidden + self.attention(block.attn, block.ln_1(hidden), index, start, end, mask)
            hidden = hidden + block.mlp(block.ln_2(hidden))
        self.length = end
        last = transformer.ln_f(hidden[:, -1:, :])
        return self.model.lm_head(last)[:, -1, :]

    @staticmethod
    def attention_mask(key_mask: torch.Tensor, start: int, new: int) -> torch.Tensor:
        """[rows, 1, new, start + new] booleans: real keys, causally. A query always sees its
        own position, so a padding query's softmax is over something and stays finite (its
        output is never read; its key is masked for every real query)."""
        keys = start + new
        query_positions = torch.arange(start, keys, device=key_mask.device).unsqueeze(1)
        key_positions = torch.arange(keys, device=key_mask.device).unsqueeze(0)
        causal = key_positions <= query_positions
        mask = (key_mask[:, None, :] & causal[None]) | (key_positions == query_positions)[None]
        return mask.unsqueeze(1)

    def attention(
        self, attn, hidden: torch.Tensor, index: int, start: int, end: int, mask: torch.Tensor
    ) -> torch.Tensor:
        rows, new, width = hidden.shape
        query, key, value = attn.c_attn(hidden).split(width, dim=2)
        query, key, value = (t.view(rows, new, self.heads, self.head_dim).transpose(1, 2) for t in (query, key, value))
        if not self.keys:
            self.allocate(key)
        self.keys[index][:, :, start:end] = key
        self.values[index][:, :, start:end] = value
        scale = self.scale / (index + 1) if self.scale_by_layer else self.scale
        out = F.scaled_dot_product_attention(
            query, self.keys[index][:, :, :end], self.values[index][:, :, :end], attn_mask=mask, scale=scale
        )
        return attn.c_proj(out.transpose(1, 2).reshape(rows, new, width))


def lean_gpt2_decoder(model, rows: int, capacity: int) -> GPT2Decoder | None:
    return GPT2Decoder(model, rows, capacity) if supports(model) else None
