import json
import math
import shutil

import pandas as pd
import pytest
import torch
from conftest import model_params, run_ahf

from stages.modeling.linear_reward import fit_linear_reward
from stages.modeling.reward_model import RewardHead, RewardScorer
from stages.reward import objective, pairwise_accuracy


def test_pairwise_accuracy_by_hand_with_ties_counting_half():
    reward_of = pd.Series({"a": 2.0, "b": 1.0, "c": 1.0, "d": 3.0})
    pairs = pd.DataFrame({"chosen_id": ["a", "b", "c"], "rejected_id": ["b", "c", "d"]})
    assert pairwise_accuracy(reward_of, pairs) == pytest.approx((1 + 0.5 + 0) / 3)


@pytest.mark.slow
def test_the_reward_stage_saves_a_scorer_normalised_on_the_train_split(trained_project):
    scorer = RewardScorer.load(trained_project / "models/reward")
    metrics = json.loads((trained_project / "reports/reward.json").read_text())
    assert scorer.head.kind == "pairwise"
    assert (scorer.head.train_mean, scorer.head.train_std) == (
        metrics["reward/train_mean"],
        metrics["reward/train_std"],
    )
    train = pd.read_parquet(trained_project / "data/processed/stories.parquet").query("split == 'train'")
    normalised = scorer.normalise(scorer.score(train["prompt"].tolist(), train["story"].tolist()))
    assert abs(normalised.mean().item()) < 0.05 and abs(normalised.std().item() - 1.0) < 0.05


@pytest.mark.slow
def test_the_reward_stage_reports_held_out_figures(trained_project):
    metrics = json.loads((trained_project / "reports/reward.json").read_text())
    for key in (
        "pairwise_accuracy",
        "val_pairwise_accuracy",
        "spearman_adjusted",
        "within_spearman_adjusted",
        "spearman_gold",
        "within_spearman_gold",
    ):
        assert -1.0 <= metrics[f"reward/{key}"] <= 1.0, key
    assert "reward/tier_accuracy" not in metrics
    curve = pd.read_csv(
        trained_project / "reports/reward_live/plots/metrics/reward/val_pairwise_accuracy.tsv", sep="\t"
    )
    assert curve["val_pairwise_accuracy"].max() == metrics["reward/val_pairwise_accuracy"]


@pytest.mark.slow
def test_the_linear_baseline_is_fitted_on_train_and_reported_on_test_beside_the_network(trained_project):
    metrics = json.loads((trained_project / "reports/reward.json").read_text())
    stories = pd.read_parquet(trained_project / "data/processed/stories.parquet")
    pairs = pd.read_parquet(trained_project / "data/processed/pairs.parquet")
    model = fit_linear_reward(stories[stories["split"] == "train"], pairs[pairs["split"] == "train"], seed=0)
    test, test_pairs = stories[stories["split"] == "test"], pairs[pairs["split"] == "test"]
    reward_of = pd.Series(model.score(test["prompt"], test["story"]), index=test["comment_id"])
    assert metrics["reward/linear/pairwise_accuracy"] == pairwise_accuracy(reward_of, test_pairs)
    for key in ("spearman_adjusted", "within_spearman_adjusted", "spearman_gold", "within_spearman_gold"):
        assert -1.0 <= metrics[f"reward/linear/{key}"] <= 1.0, key


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["tier", "listwise"])
def test_each_kind_trains_and_scores(sft_project, kind):
    model_params(sft_project, reward={"kind": kind})
    result = run_ahf(sft_project, "reward")
    assert result.returncode == 0, result.stderr
    metrics = json.loads((sft_project / "reports/reward.json").read_text())
    assert ("reward/tier_accuracy" in metrics) == (kind == "tier")
    scorer = RewardScorer.load(sft_project / "models/reward")
    rewards = scorer.score(["[WP] A prompt."] * 2, ["A story.", "The crimson dragon shattered the castle."])
    assert rewards.shape == (2,) and torch.isfinite(rewards).all()
    if kind == "tier":
        assert ((rewards >= -1.0) & (rewards <= 1.0)).all()  # an expectation of the tier values


@pytest.mark.slow
def test_a_bad_reward_kind_is_a_clear_error_that_writes_nothing(model_project):
    model_params(model_project, reward={"kind": "pointwise"})
    result = run_ahf(model_project, "reward")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "ahf reward: error: params.yaml: reward.kind: Input should be 'tier', 'pairwise' or 'listwise' (got "
        "'pointwise')"
    )
    assert not (model_project / "models/reward").exists()


@pytest.mark.slow
def test_reward_from_sft_without_an_sft_model_says_what_to_run(sft_project):
    shutil.rmtree(sft_project / "models/sft")
    result = run_ahf(sft_project, "reward")
    assert result.returncode == 2
    assert "models/sft not found: run `ahf sft` first, or set reward.init: base" in result.stderr


def test_the_margin_asks_the_pairwise_objective_for_a_larger_gap():
    head = RewardHead("pairwise", (-1.0, 0.0, 1.0), 32, 8)

    class Scores(torch.nn.Module):
        """Returns fixed rewards as logits: chosen 1.0, rejected 0.5."""

        def forward(self, input_ids, attention_mask):
            return type("Output", (), {"logits": torch.tensor([[1.0], [0.5]])})()

    batch = {
        "input_ids": torch.zeros(2, 3, dtype=torch.long),
        "attention_mask": torch.ones(2, 3),
        "margin": torch.tensor([2.0]),
    }
    without = objective("pairwise", 0.0, head)(Scores(), batch)
    with_margin = objective("pairwise", 0.5, head)(Scores(), batch)
    assert without.item() == pytest.approx(-math.log(1 / (1 + math.exp(-0.5))))
    assert with_margin.item() == pytest.approx(-math.log(1 / (1 + math.exp(0.5))))  # 0.5 - 0.5 * 2.0
