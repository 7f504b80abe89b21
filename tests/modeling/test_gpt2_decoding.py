import pytest
import torch
from transformers import GPT2Config, GPT2LMHeadModel

from stages.common.config import LoraConfig, ModelConfig
from stages.modeling.adapters import trainable
from stages.modeling.gpt2_decoding import lean_gpt2_decoder, supports
from stages.modeling.sampling import SamplingConfig, left_padded, positions, sample_rollout

# Left padding of 0, 2 and 5 tokens: the padded rows must read as if alone.
PROMPT_IDS = [[5, 9, 3, 7, 11, 2, 8], [4, 6, 12, 10, 3], [13, 2]]


def gpt2(seed=0, **config):
    torch.manual_seed(seed)
    return GPT2LMHeadModel(GPT2Config(vocab_size=32, n_positions=40, n_embd=16, n_layer=2, n_head=2, **config)).eval()


def lean_logits_step_by_step(model, prompt_ids, continuation):
    """The lean decoder's next-token logits after each prompt, then after each token of
    `continuation` ([rows, steps] ids fed one per step): [rows, steps + 1, vocab]."""
    ids, mask = left_padded(prompt_ids, pad_id=0)
    steps = continuation.size(1)
    decoder = lean_gpt2_decoder(model, rows=len(prompt_ids), capacity=ids.size(1) + steps)
    key_mask = torch.cat([mask, torch.ones_like(continuation)], dim=1)
    step_positions = positions(mask)
    with torch.no_grad():
        out = [decoder.next_logits(ids, key_mask[:, : ids.size(1)], step_positions)]
        step_positions = step_positions[:, -1:]
        for step in range(steps):
            step_positions = step_positions + 1
            out.append(
                decoder.next_logits(
                    continuation[:, step : step + 1], key_mask[:, : ids.size(1) + step + 1], step_positions
                )
            )
    return torch.stack(out, dim=1)


def alone_logits(model, prompt_ids, continuation):
    """transformers' logits for each row on its own, unpadded, at the same positions."""
    rows = []
    with torch.no_grad():
        for prompt, more in zip(prompt_ids, continuation.tolist(), strict=True):
            logits = model(input_ids=torch.tensor([prompt + more])).logits[0]
            rows.append(logits[len(prompt) - 1 :])
    return torch.stack(rows)


@pytest.mark.parametrize("config", [{}, {"scale_attn_by_inverse_layer_idx": True}, {"scale_attn_weights": False}])
def test_lean_logits_equal_transformers_on_each_row_alone(config):
    model = gpt2(**config)
    continuation = torch.randint(1, 32, (3, 6), generator=torch.Generator().manual_seed(1))
    lean = lean_logits_step_by_step(model, PROMPT_IDS, continuation)
    assert torch.allclose(lean, alone_logits(model, PROMPT_IDS, continuation), atol=1e-5)


def test_lean_decoding_sees_lora_adapters():
    model = trainable(gpt2(), ModelConfig(lora=LoraConfig(r=4, alpha=8, dropout=0.0)), "causal_lm").eval()
    with torch.no_grad():  # peft starts B at zero: give the adapters something to say
        for name, parameter in model.named_parameters():
            if "lora_B" in name:
                parameter.normal_(0.0, 0.5)
    continuation = torch.randint(1, 32, (3, 3), generator=torch.Generator().manual_seed(2))
    lean = lean_logits_step_by_step(model, PROMPT_IDS, continuation)
    assert torch.allclose(lean, alone_logits(model, PROMPT_IDS, continuation), atol=1e-5)
    with model.disable_adapter():  # and the adapters change them
        assert not torch.allclose(lean, alone_logits(model, PROMPT_IDS, continuation), atol=1e-3)


@pytest.mark.parametrize(
    "sampling", [SamplingConfig(12), SamplingConfig(12, temperature=1.5, top_k=8), SamplingConfig(12, greedy=True)]
)
def test_rollouts_are_the_same_token_for_token_as_through_transformers(sampling):
    model = gpt2()
    rollouts = [
        sample_rollout(
            model,
            PROMPT_IDS * 3,
            sampling,
            eos_id=1,
            pad_id=0,
            max_tokens=40,
            generator=torch.Generator().manual_seed(3),
            lean_decoding=lean,
        )
        for lean in (True, False)
    ]
    assert torch.equal(rollouts[0].sequences, rollouts[1].sequences)
    assert torch.equal(rollouts[0].story_mask, rollouts[1].story_mask)


def test_models_it_does_not_reproduce_decode_through_transformers():
    assert supports(gpt2())
    upcast = gpt2(reorder_and_upcast_attn=True)
    assert not supports(upcast) and lean_gpt2_decoder(upcast, 3, 20) is None
    rollout = sample_rollout(upcast, PROMPT_IDS, SamplingConfig(5, greedy=True), eos_id=1, pad_id=0, max_tokens=40)
    assert rollout.story_ids.shape == (3, 5)


def test_a_full_cache_refuses_more_positions():
    model = gpt2()
    decoder = lean_gpt2_decoder(model, rows=1, capacity=4)
    with torch.no_grad():
        decoder.next_logits(torch.tensor([[3, 4, 5]]), torch.ones(1, 3, dtype=torch.long), torch.arange(3).unsqueeze(0))
        with pytest.raises(ValueError, match="holds 4 positions"):
            decoder.next_logits(torch.tensor([[6, 7]]), torch.ones(1, 5, dtype=torch.long), torch.tensor([[3, 4]]))
