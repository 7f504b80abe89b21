import torch

from stages.common.config import ModelConfig
from stages.modeling.base_model import load_base_lm
from stages.modeling.generation import generate_stories, new_token_budget

PROMPTS = ["[WP] A short prompt.", "[WP] A much longer prompt about a dragon that guards a hoard in a castle."]


def tiny_model(tokenizer):
    torch.manual_seed(0)
    return load_base_lm(
        ModelConfig(n_layer=1, n_head=2, n_embd=16, max_tokens=48, max_prompt_tokens=24), tokenizer
    ).eval()


def generate(model, tokenizer, prompts=PROMPTS, seed=0, top_k=0, max_new_tokens=100):
    return generate_stories(
        model,
        tokenizer,
        prompts,
        max_prompt_tokens=24,
        max_tokens=48,
        max_new_tokens=max_new_tokens,
        temperature=1.0,
        top_k=top_k,
        seed=seed,
    )


def test_new_token_budget_stops_at_max_tokens():
    assert new_token_budget(100, max_tokens=48, prompt_width=20) == 28
    assert new_token_budget(10, max_tokens=48, prompt_width=20) == 10
    assert new_token_budget(10, max_tokens=48, prompt_width=48) == 1


def test_asking_for_more_tokens_than_the_model_has_positions_still_works(tiny_tokenizer):
    # The tiny model has 48 positions: without the budget, generation would index past them.
    stories = generate(tiny_model(tiny_tokenizer), tiny_tokenizer, max_new_tokens=500)
    assert len(stories) == 2 and all(isinstance(story, str) for story in stories)


def test_sampling_is_reproducible_and_leaves_the_global_rng_alone(tiny_tokenizer):
    model = tiny_model(tiny_tokenizer)
    torch.manual_seed(123)
    expected_next = torch.rand(1)
    torch.manual_seed(123)
    first = generate(model, tiny_tokenizer, seed=7)
    assert torch.equal(torch.rand(1), expected_next)
    assert generate(model, tiny_tokenizer, seed=7) == first
    assert generate(model, tiny_tokenizer, seed=8) != first


def test_left_padding_beside_a_longer_prompt_changes_nothing(tiny_tokenizer):
    """With top_k=1 decoding is deterministic: a prompt continues the same alone or in a batch."""
    model = tiny_model(tiny_tokenizer)
    alone = generate(model, tiny_tokenizer, prompts=PROMPTS[:1], top_k=1, max_new_tokens=12)
    batched = generate(model, tiny_tokenizer, top_k=1, max_new_tokens=12)
    assert batched[0] == alone[0]
