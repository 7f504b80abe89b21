import math

import pytest
import torch

from stages.common.config import ModelConfig
from stages.modeling.base_model import load_base_lm
from stages.modeling.kv_cache import PreallocatedLayer
from stages.modeling.sampling import (
    SamplingConfig,
    decode_stories,
    encode_prompts,
    filter_logits,
    inverse_cdf_sample,
    sample_rollout,
    story_token_scores,
)

PROMPTS = ["[WP] A short prompt.", "[WP] A much longer prompt about a dragon that guards a hoard in a castle."]


def tiny_model(tokenizer, seed=0):
    torch.manual_seed(seed)
    return load_base_lm(
        ModelConfig(n_layer=2, n_head=2, n_embd=16, max_tokens=64, max_prompt_tokens=24), tokenizer
    ).eval()


def rollout_of(model, tokenizer, prompts, config, seed=0):
    ids = encode_prompts(tokenizer, prompts, 24)
    generator = torch.Generator().manual_seed(seed)
    return sample_rollout(
        model,
        ids,
        config,
        eos_id=tokenizer.eos_token_id,
        pad_id=tokenizer.pad_token_id,
        max_tokens=64,
        generator=generator,
    )


def test_top_k_and_top_p_keep_exactly_the_tokens_they_should():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))

    def kept(filtered):
        return torch.isfinite(filtered)[0].tolist()

    assert kept(filter_logits(logits, top_k=2, top_p=1.0)) == [True, True, False, False]
    # 0.5 < 0.7, 0.5 + 0.3 >= 0.7: the nucleus is the first two
    assert kept(filter_logits(logits, top_k=0, top_p=0.7)) == [True, True, False, False]
    assert kept(filter_logits(logits, top_k=0, top_p=0.81)) == [True, True, True, False]
    assert kept(filter_logits(logits, top_k=0, top_p=0.1)) == [True, False, False, False]
    shuffled = logits[:, [2, 0, 3, 1]]
    assert kept(filter_logits(shuffled, top_k=0, top_p=0.7)) == [False, True, False, True]


def test_greedy_story_does_not_depend_on_the_other_rows_padding(tiny_tokenizer):
    model = tiny_model(tiny_tokenizer)
    greedy = SamplingConfig(max_new_tokens=12, greedy=True)
    alone = decode_stories(tiny_tokenizer, rollout_of(model, tiny_tokenizer, PROMPTS[:1], greedy))
    batched = decode_stories(tiny_tokenizer, rollout_of(model, tiny_tokenizer, PROMPTS, greedy))
    assert batched[0] == alone[0]


def test_scored_logprobs_equal_those_of_an_unpadded_forward(tiny_tokenizer):
    model = tiny_model(tiny_tokenizer)
    rollout = rollout_of(model, tiny_tokenizer, PROMPTS, SamplingConfig(max_new_tokens=10))
    scores = story_token_scores(model, rollout)
    for row in range(2):
        real = rollout.attention_mask[row].bool()
        sequence = rollout.sequences[row][real].unsqueeze(0)
        n_story = int(rollout.story_mask[row].sum())
        with torch.no_grad():
            logits = model(input_ids=sequence).logits[0]
        expected = (
            torch.log_softmax(logits[-n_story - 1 : -1], dim=-1)
            .gather(-1, sequence[0, -n_story:].unsqueeze(-1))
            .squeeze(-1)
        )
        assert scores.logprobs[row, :n_story].tolist() == pytest.approx(expected.tolist(), abs=1e-5)
        assert scores.logprobs[row, n_story:].abs().sum().item() == 0.0


def test_rows_stop_at_eos_and_nothing_is_counted_after_it(tiny_tokenizer):
    model = tiny_model(tiny_tokenizer)
    with torch.no_grad():  # make EOS the likeliest token after a few steps
        model.lm_head.weight[tiny_tokenizer.eos_token_id] *= 0
        model.transformer.wte.weight[tiny_tokenizer.eos_token_id] += 0
    rollout = rollout_of(model, tiny_tokenizer, PROMPTS * 4, SamplingConfig(max_new_tokens=30, temperature=3.0))
    for row in range(rollout.sequences.size(0)):
        story = rollout.story_ids[row].tolist()
        mask = rollout.story_mask[row].tolist()
        if tiny_tokenizer.eos_token_id in story:
            end = story.index(tiny_tokenizer.eos_token_id)
            assert mask[: end + 1] == [1] * (end + 1)
            assert sum(mask[end + 1 :]) == 0
        else:
            assert sum(mask) == len(mask)
    assert rollout.story_ids.size(1) <= 30


def test_the_budget_never_runs_past_the_models_positions(tiny_tokenizer):
    model = tiny_model(tiny_tokenizer)
    rollout = rollout_of(model, tiny_tokenizer, PROMPTS, SamplingConfig(max_new_tokens=500, greedy=True))
    assert rollout.sequences.size(1) <= 64


def test_same_generator_seed_same_stories(tiny_tokenizer):
    model = tiny_model(tiny_tokenizer)
    config = SamplingConfig(max_new_tokens=15, top_k=20, top_p=0.9)
    first = decode_stories(tiny_tokenizer, rollout_of(model, tiny_tokenizer, PROMPTS, config, seed=3))
    again = decode_stories(tiny_tokenizer, rollout_of(model, tiny_tokenizer, PROMPTS, config, seed=3))
    other = decode_stories(tiny_tokenizer, rollout_of(model, tiny_tokenizer, PROMPTS, config, seed=4))
    assert first == again and first != other


def test_inverse_cdf_draws_follow_the_probabilities_and_never_a_filtered_token():
    probabilities = torch.tensor([[0.0, 0.1, 0.0, 0.2, 0.7, 0.0]]).repeat(100_000, 1)
    draws = inverse_cdf_sample(probabilities, torch.Generator().manual_seed(0))
    shares = torch.bincount(draws, minlength=6).float() / len(draws)
    assert shares[[0, 2, 5]].sum().item() == 0.0
    assert shares[[1, 3, 4]].tolist() == pytest.approx([0.1, 0.2, 0.7], abs=0.01)


def test_greedy_rollout_matches_transformers_generate(tiny_tokenizer):
    """The preallocated KV cache and the hand-written loop decode what generate does."""
    model = tiny_model(tiny_tokenizer)
    ids = encode_prompts(tiny_tokenizer, PROMPTS[1:], 24)
    ours = sample_rollout(
        model,
        ids,
        SamplingConfig(max_new_tokens=20, greedy=True),
        eos_id=tiny_tokenizer.eos_token_id,
        pad_id=tiny_tokenizer.pad_token_id,
        max_tokens=64,
    )
    theirs = model.generate(
        torch.tensor(ids),
        attention_mask=torch.ones(1, len(ids[0]), dtype=torch.long),
        do_sample=False,
        max_new_tokens=20,
        eos_token_id=tiny_tokenizer.eos_token_id,
        pad_token_id=tiny_tokenizer.pad_token_id,
    )
    assert ours.sequences.tolist() == theirs.tolist()


def test_the_preallocated_cache_refuses_more_positions_than_it_holds():
    layer = PreallocatedLayer(capacity=3)
    keys = torch.zeros(1, 1, 2, 4)
    layer.update(keys, keys)
    assert layer.get_seq_length() == 2 and layer.keys.shape == (1, 1, 2, 4)
    with pytest.raises(ValueError, match="holds 3"):
        layer.update(keys, keys)


def test_entropy_is_that_of_each_story_tokens_distribution_and_only_when_asked(tiny_tokenizer):
    model = tiny_model(tiny_tokenizer)
    rollout = rollout_of(model, tiny_tokenizer, PROMPTS, SamplingConfig(max_new_tokens=10))
    assert story_token_scores(model, rollout).entropy is None
    with torch.no_grad():
        scores = story_token_scores(model, rollout, temperature=0.7, with_entropy=True)
        logits = model(
            input_ids=rollout.sequences,
            attention_mask=rollout.attention_mask,
            position_ids=(rollout.attention_mask.cumsum(1) - 1).clamp(min=0),
        ).logits
    width, new = rollout.prompt_width, rollout.story_ids.size(1)
    expected = torch.distributions.Categorical(logits=logits[:, width - 1 : width - 1 + new] / 0.7).entropy()
    expected = expected * rollout.story_mask
    assert torch.allclose(scores.entropy, expected, atol=1e-5)
    assert scores.entropy[rollout.story_mask == 0].abs().sum() == 0


def test_reading_whether_rows_ended_less_often_gives_the_same_stories(tiny_tokenizer):
    """A GPU reads `finished` every few tokens; the columns after the last row ended are cut."""
    model = tiny_model(tiny_tokenizer)
    with torch.no_grad():  # every position's logits: 0, and log(100) for EOS (p ~ 0.2 a token)
        model.transformer.ln_f.weight.zero_()
        model.transformer.ln_f.bias.copy_(torch.nn.functional.one_hot(torch.tensor(0), model.config.n_embd).float())
        model.lm_head.weight[:, 0] = 0.0
        model.lm_head.weight[tiny_tokenizer.eos_token_id, 0] = math.log(100.0)
    ids = encode_prompts(tiny_tokenizer, PROMPTS * 3, 24)
    rollouts = [
        sample_rollout(
            model,
            ids,
            SamplingConfig(max_new_tokens=30),
            eos_id=tiny_tokenizer.eos_token_id,
            pad_id=tiny_tokenizer.pad_token_id,
            max_tokens=64,
            generator=torch.Generator().manual_seed(4),
            check_every=every,
        )
        for every in (1, 8)
    ]
    assert rollouts[0].story_ids.size(1) < 30  # every row ended early
    assert torch.equal(rollouts[0].sequences, rollouts[1].sequences)
    assert torch.equal(rollouts[0].story_mask, rollouts[1].story_mask)
