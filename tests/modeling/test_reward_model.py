import json
import math

import pytest
import torch
from transformers import AutoModelForSequenceClassification

from stages.common.config import ModelConfig, RewardConfig
from stages.modeling.reward_model import HEAD_FILE, RewardHead, RewardScorer, new_reward_model, rewards_from_logits

TINY = ModelConfig(n_layer=1, n_head=2, n_embd=16, max_tokens=48, max_prompt_tokens=16)
PROMPTS = ["[WP] The dragon wakes.", "[WP] The dragon wakes.", "[WP] A ghost moves in."]
STORIES = ["The knight fled.", "The crimson dragon shattered the castle at dawn.", "It was fine."]


def head(kind="pairwise", mean=0.0, std=1.0):
    return RewardHead(kind, (-1.0, 0.0, 1.0), TINY.max_tokens, TINY.max_prompt_tokens, mean, std)


def test_scalar_kinds_read_the_first_logit_and_tier_the_expected_value():
    logits = torch.tensor([[0.5, 0.0, 0.0], [0.0, 0.0, 100.0]])
    assert rewards_from_logits(logits, head("pairwise")).tolist() == [0.5, 0.0]
    # tier: P = (e^0.5, 1, 1) / (e^0.5 + 2), values (-1, 0, 1)
    expected = (1 - math.exp(0.5)) / (math.exp(0.5) + 2)
    assert rewards_from_logits(logits, head("tier")).tolist() == pytest.approx([expected, 1.0], abs=1e-6)


@pytest.mark.parametrize(("kind", "outputs"), [("tier", 3), ("pairwise", 1), ("listwise", 1)])
def test_a_reward_model_from_the_base_has_one_output_per_kind(kind, outputs, tiny_tokenizer):
    model = new_reward_model(RewardConfig(kind=kind, init="base"), TINY, tiny_tokenizer)
    assert model.config.num_labels == outputs
    assert model.config.pad_token_id == tiny_tokenizer.pad_token_id


def test_scores_do_not_depend_on_what_else_is_in_the_batch(tiny_tokenizer):
    torch.manual_seed(0)
    scorer = RewardScorer(
        new_reward_model(RewardConfig(init="base"), TINY, tiny_tokenizer).eval(), tiny_tokenizer, head()
    )
    together = scorer.score(PROMPTS, STORIES, batch_size=3)
    apart = torch.cat([scorer.score([p], [s]) for p, s in zip(PROMPTS, STORIES, strict=True)])
    assert torch.allclose(together, apart, atol=1e-5)
    assert together[0] != together[1]


def test_save_and_load_round_trip_scores_and_normalisation(tmp_path, tiny_tokenizer):
    torch.manual_seed(0)
    model = new_reward_model(RewardConfig(kind="tier", init="base"), TINY, tiny_tokenizer).eval()
    scorer = RewardScorer(model, tiny_tokenizer, head("tier", mean=0.2, std=0.5))
    scorer.save(tmp_path)
    loaded = RewardScorer.load(tmp_path)
    assert loaded.head == scorer.head
    assert torch.allclose(loaded.score(PROMPTS, STORIES), scorer.score(PROMPTS, STORIES))
    assert loaded.normalise(torch.tensor([0.7])).item() == pytest.approx(1.0)
    assert json.loads((tmp_path / HEAD_FILE).read_text())["kind"] == "tier"
    assert AutoModelForSequenceClassification.from_pretrained(tmp_path).config.num_labels == 3
