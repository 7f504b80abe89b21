"""The RL loop on a tiny random model with a toy reward: each online estimator must
raise it in a few steps, and a divergence must restore the last good weights."""

import pytest
import torch

from stages.common.config import ModelConfig, RLConfig
from stages.modeling.base_model import load_base_lm
from stages.modeling.story_format import encode_story
from stages.policy_gradient.trainer import PolicyTrainer, RLModels

PROMPTS = [
    "[WP] A dragon guards the last library.",
    "[WP] The moon sends a letter.",
    "[WP] You wake up as a cat.",
    "[WP] Rain that falls upward.",
]
LETTER = "e"


class LetterScorer:
    """A toy reward: the share of a story's characters that are LETTER, times ten."""

    def score(self, prompts, stories):
        return torch.tensor([10.0 * story.count(LETTER) / max(len(story), 1) for story in stories])

    def normalise(self, rewards):
        return rewards


def toy_trainer(tokenizer, **overrides) -> PolicyTrainer:
    torch.manual_seed(0)
    model_config = ModelConfig(n_layer=1, n_head=2, n_embd=32, max_tokens=48, max_prompt_tokens=16)
    policy = load_base_lm(model_config, tokenizer)
    reference = load_base_lm(model_config, tokenizer)
    reference.load_state_dict(policy.state_dict())
    settings = {
        "prompts_per_step": 4,
        "samples_per_prompt": 4,
        "max_new_tokens": 10,
        "lr": 1e-2,
        "kl_coef": 0.0,
        "max_ref_nll_ratio": 100.0,
        "critic_layers": [32],
    } | overrides
    config = RLConfig(**settings)
    stories = [encode_story(tokenizer, p, "Once there was a tale to tell.", 16, 48, add_eos=True) for p in PROMPTS]
    models = RLModels(policy, reference, LetterScorer(), tokenizer, max_prompt_tokens=16, max_tokens=48)
    return PolicyTrainer(models, config, alpha=0.0, reference_stories=stories, pairs=None, device=torch.device("cpu"))


def mean_toy_reward(trainer: PolicyTrainer) -> float:
    return sum(trainer.evaluate(trainer.m.policy, PROMPTS, samples=16, seed=123).rewards) / (16 * len(PROMPTS))


@pytest.mark.parametrize("algo", ["reinforce", "scst", "rloo", "grpo", "a2c", "reinforce_pp", "ppo"])
def test_each_online_estimator_raises_a_toy_reward(tiny_tokenizer, algo):
    trainer = toy_trainer(tiny_tokenizer, algo=algo)
    before = mean_toy_reward(trainer)
    for step in range(40):
        outcome = trainer.step(step, PROMPTS, 40)
        assert outcome.diverged is None, outcome.diverged
    after = mean_toy_reward(trainer)
    assert after > before + 0.3, (before, after)


def test_kl_to_the_reference_is_zero_before_the_first_update_and_grows_after(tiny_tokenizer):
    trainer = toy_trainer(tiny_tokenizer, algo="rloo")
    first = trainer.step(0, PROMPTS, 10)
    assert first.metrics["rl/kl"] == pytest.approx(0.0, abs=1e-6)
    for step in range(1, 10):
        last = trainer.step(step, PROMPTS, 10)
    assert last.metrics["rl/kl"] > 0.01


def test_a_nan_reward_is_a_divergence_that_restores_the_last_checked_weights(tiny_tokenizer, monkeypatch):
    trainer = toy_trainer(tiny_tokenizer, algo="rloo")
    trainer.step(0, PROMPTS, 10)
    checked = {name: value.clone() for name, value in trainer.m.policy.state_dict().items()}
    trainer.step(1, PROMPTS, 10)  # checks the weights of step 1, then moves on from them
    moved = trainer.m.policy.state_dict()
    assert any(not torch.equal(moved[name], checked[name]) for name in checked)
    monkeypatch.setattr(trainer, "rewards", lambda prompts, stories: torch.full((len(stories),), float("nan")))
    outcome = trainer.step(2, PROMPTS, 10)
    assert outcome.diverged and "loss" in outcome.diverged
    restored = trainer.m.policy.state_dict()
    assert all(torch.equal(restored[name], checked[name]) for name in checked)


def test_the_likelihood_term_guards_against_drift(tiny_tokenizer):
    """With a large alpha the reference stories' NLL stays near the reference model's."""
    free = toy_trainer(tiny_tokenizer, algo="rloo")
    anchored = toy_trainer(tiny_tokenizer, algo="rloo")
    anchored.alpha = 50.0
    for step in range(20):
        free_out = free.step(step, PROMPTS, 20)
        anchored_out = anchored.step(step, PROMPTS, 20)

    def drift(out):
        return out.metrics["rl/ref_nll"] - out.metrics["rl/sft_ref_nll"]

    assert drift(anchored_out) < drift(free_out)


def test_dpo_raises_the_preferred_story_over_the_rejected(tiny_tokenizer):
    trainer = toy_trainer(tiny_tokenizer, algo="dpo", dpo_batch_size=4, dpo_beta=0.5)
    chosen = "eee eeee eee eeeee"
    rejected = "aaa oooo uuu iiiii"
    trainer.pairs = [
        (encode_story(tiny_tokenizer, p, chosen, 16, 48, True), encode_story(tiny_tokenizer, p, rejected, 16, 48, True))
        for p in PROMPTS
    ]
    first = trainer.step(0, [], 15)
    for step in range(1, 15):
        last = trainer.step(step, [], 15)
    assert last.metrics["rl/policy_loss"] < first.metrics["rl/policy_loss"]
    assert last.metrics["rl/dpo_accuracy"] == 1.0
