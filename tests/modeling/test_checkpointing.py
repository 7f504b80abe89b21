"""Gradient checkpointing: the same loss and gradients, recomputed in the backward pass
even in eval mode (the RL policy's), and sampling keeps its KV cache."""

import copy

import torch

from stages.common.config import ModelConfig
from stages.modeling.base_model import load_base_lm
from stages.modeling.checkpointing import checkpoint_activations
from stages.modeling.sampling import SamplingConfig, encode_prompts, sample_rollout
from stages.modeling.story_format import encode_story, lm_batch
from stages.sft import lm_loss

TINY = ModelConfig(n_layer=2, n_head=2, n_embd=32, max_tokens=48, max_prompt_tokens=16)


def counting_calls(module: torch.nn.Module) -> list[int]:
    calls = [0]
    module.register_forward_hook(lambda *_: calls.__setitem__(0, calls[0] + 1))
    return calls


def test_checkpointing_gives_the_same_loss_and_gradients_and_recomputes_under_autograd(tiny_tokenizer):
    torch.manual_seed(0)
    plain = load_base_lm(TINY, tiny_tokenizer).eval()
    checkpointed = copy.deepcopy(plain)
    checkpoint_activations(checkpointed)
    calls = counting_calls(checkpointed.transformer.h[0].attn)
    stories = [
        encode_story(tiny_tokenizer, f"[WP] Prompt {i}", "a storm over the river " * (1 + i), 16, 48, True)
        for i in range(3)
    ]
    batch = lm_batch(stories, tiny_tokenizer.pad_token_id)
    losses = []
    for model in (plain, checkpointed):
        loss = lm_loss(model, batch)
        loss.backward()
        losses.append(loss.item())
    assert calls[0] == 2  # the forward pass, and its recomputation in the backward pass
    assert abs(losses[0] - losses[1]) < 1e-6
    for (name, a), (_, b) in zip(plain.named_parameters(), checkpointed.named_parameters(), strict=True):
        assert torch.allclose(a.grad, b.grad, atol=1e-6), name


def test_sampling_with_checkpointing_on_keeps_the_kv_cache_and_draws_the_same_stories(tiny_tokenizer):
    torch.manual_seed(0)
    plain = load_base_lm(TINY, tiny_tokenizer).eval()
    checkpointed = copy.deepcopy(plain)
    checkpoint_activations(checkpointed)
    rows = encode_prompts(tiny_tokenizer, ["[WP] The moon sends a letter.", "[WP] Rain that falls upward."], 16)
    drawn = []
    for model in (plain, checkpointed):
        with torch.no_grad():
            rollout = sample_rollout(
                model,
                rows,
                SamplingConfig(max_new_tokens=12),
                eos_id=tiny_tokenizer.eos_token_id,
                pad_id=tiny_tokenizer.pad_token_id,
                max_tokens=48,
                generator=torch.Generator().manual_seed(3),
            )
        drawn.append(rollout.sequences)
    assert torch.equal(drawn[0], drawn[1])
