"""reward: learn how good a story is for its prompt from the tiers and rankings.

reward.kind picks the objective (see reward_losses): a good/ok/bad classifier, a
Bradley-Terry model of the preference pairs, or a Plackett-Luce model of each
prompt's whole ranking. The backbone starts from the SFT model (reward.init) and a
head reads the last story token. Validation pairwise accuracy picks the best
checkpoint; the test split gives the reported figures.

Under `accelerate launch` (launch.config) each of N processes trains on batch_size / N
examples of every batch (prompts_per_batch / N lists for listwise); only the main process
evaluates and writes.
"""

from dataclasses import replace
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from accelerate.utils import set_seed
from dvclive import Live
from torch.utils.data import DataLoader

from stages.common.atomic_io import atomic_output_dir, write_metrics
from stages.common.config import DataConfig, ModelConfig, RewardConfig, load_section
from stages.common.contracts import TIERS
from stages.common.datasets import load_pairs, load_stories, split_of
from stages.common.distributed import SilentLive, on_main_process, require_even_split
from stages.common.layout import REWARD_DIR, REWARD_LIVE_DIR, metrics_file
from stages.modeling.adapters import plain_model, trainable
from stages.modeling.base_model import load_tokenizer
from stages.modeling.linear_reward import fit_linear_reward
from stages.modeling.reward_batches import listwise_batch, pairwise_batch, tier_batch
from stages.modeling.reward_losses import bradley_terry_loss, plackett_luce_loss, tier_loss
from stages.modeling.reward_model import RewardHead, RewardScorer, new_reward_model, rewards_from_logits
from stages.modeling.story_format import LengthGroupedBatches, encode_story
from stages.modeling.training_loop import accelerator_for, fit
from stages.ranking.adjusted_ranking import mean_within_spearman, spearman
from stages.simulator.gold import gold

# Train stories scored for the normalising mean and std.
NORMALISING_STORIES = 2048


def pairwise_accuracy(reward_of: pd.Series, pairs: pd.DataFrame) -> float:
    """Share of pairs whose chosen story gets the higher reward; a tie counts half."""
    chosen = reward_of.loc[pairs["chosen_id"]].to_numpy()
    rejected = reward_of.loc[pairs["rejected_id"]].to_numpy()
    return float(np.mean((chosen > rejected) + 0.5 * (chosen == rejected)))


def objective(kind: str, margin_scale: float, head: RewardHead):
    """loss_of(model, batch) for the kind: every batch is a dict with input_ids and attention_mask."""

    def rewards(model, batch):
        return rewards_from_logits(
            model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits, head
        )

    def pairwise(model, batch):
        scores = rewards(model, batch)
        n = scores.size(0) // 2
        return bradley_terry_loss(scores[:n], scores[n:], margin_scale * batch["margin"])

    def listwise(model, batch):
        scores = rewards(model, batch)
        grid = torch.zeros(batch["list_mask"].shape, dtype=scores.dtype, device=scores.device)
        grid[batch["list_mask"]] = scores
        return plackett_luce_loss(grid, batch["list_mask"])

    def tier(model, batch):
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        return tier_loss(logits, batch["tier"])

    return {"pairwise": pairwise, "listwise": listwise, "tier": tier}[kind]


def objective_items(kind: str):
    """items_of(batch) for the kind: what its loss is a mean over (pairs, lists or stories)."""
    return {
        "pairwise": lambda batch: torch.tensor(batch["margin"].numel()),
        "listwise": lambda batch: torch.tensor(batch["list_mask"].size(0)),
        "tier": lambda batch: torch.tensor(batch["tier"].numel()),
    }[kind]


def training_loader(kind: str, config: RewardConfig, stories: pd.DataFrame, pairs: pd.DataFrame, encode, pad_id: int):
    """Examples of the kind, batched by length (a batch pads to its longest sequence)."""
    if kind == "pairwise":
        items = [
            (encode(p, c), encode(p, r), m)
            for p, c, r, m in zip(pairs["prompt"], pairs["chosen"], pairs["rejected"], pairs["margin"], strict=True)
        ]
        lengths = [max(len(chosen.input_ids), len(rejected.input_ids)) for chosen, rejected, _ in items]
        collate, batch_size = pairwise_batch, config.batch_size
    elif kind == "listwise":
        ordered = stories.sort_values(["submission_id", "adjusted"], ascending=[True, False])
        items = [
            [encode(p, s) for p, s in zip(group["prompt"], group["story"], strict=True)]
            for _, group in ordered.groupby("submission_id")
        ]
        lengths = [max(len(story.input_ids) for story in ranking) for ranking in items]
        collate, batch_size = listwise_batch, config.prompts_per_batch
    else:
        items = [
            (encode(p, s), TIERS.index(t))
            for p, s, t in zip(stories["prompt"], stories["story"], stories["tier"], strict=True)
        ]
        lengths = [len(story.input_ids) for story, _ in items]
        collate, batch_size = tier_batch, config.batch_size
    sampler = LengthGroupedBatches(lengths, batch_size, config.seed)
    return DataLoader(items, batch_sampler=sampler, collate_fn=partial(collate, pad_id=pad_id))


def score_frame(scorer: RewardScorer, stories: pd.DataFrame) -> pd.Series:
    return pd.Series(
        scorer.score(stories["prompt"].tolist(), stories["story"].tolist()).numpy(), index=stories["comment_id"]
    )


def tier_accuracy(scorer: RewardScorer, stories: pd.DataFrame) -> float:
    predicted = scorer.logits(stories["prompt"].tolist(), stories["story"].tolist()).argmax(-1).numpy()
    return float(np.mean(predicted == stories["tier"].map(TIERS.index).to_numpy()))


def held_out_metrics(
    scorer: RewardScorer, stories: pd.DataFrame, pairs: pd.DataFrame, simulated: bool
) -> dict[str, float]:
    metrics = ranking_metrics(score_frame(scorer, stories), stories, pairs, simulated, "reward/")
    if scorer.head.kind == "tier":
        metrics["reward/tier_accuracy"] = tier_accuracy(scorer, stories)
    return metrics


def ranking_metrics(
    reward_of: pd.Series, stories: pd.DataFrame, pairs: pd.DataFrame, simulated: bool, prefix: str
) -> dict[str, float]:
    """How rewards (by comment_id) order the stories and pairs: against the pairs, adjusted and gold."""
    scored = stories.assign(reward=reward_of.to_numpy())
    metrics = {
        f"{prefix}pairwise_accuracy": pairwise_accuracy(reward_of, pairs),
        f"{prefix}spearman_adjusted": spearman(scored["reward"], scored["adjusted"]),
        f"{prefix}within_spearman_adjusted": mean_within_spearman(scored, "reward", "adjusted"),
    }
    if simulated:
        scored = scored.assign(gold=[gold(p, s) for p, s in zip(scored["prompt"], scored["story"], strict=True)])
        metrics[f"{prefix}spearman_gold"] = spearman(scored["reward"], scored["gold"])
        metrics[f"{prefix}within_spearman_gold"] = mean_within_spearman(scored, "reward", "gold")
    return metrics


def run(params: Path) -> str:
    data = load_section(params, "data", DataConfig)
    model_config = load_section(params, "model", ModelConfig)
    config = load_section(params, "reward", RewardConfig)
    set_seed(config.seed)
    tokenizer = load_tokenizer()
    stories, pairs = load_stories(), load_pairs()
    train_stories = split_of(stories, "train", "stories")
    train_pairs = split_of(pairs, "train", "preference pairs")
    val_stories, val_pairs = split_of(stories, "val", "stories"), split_of(pairs, "val", "preference pairs")
    test_stories, test_pairs = split_of(stories, "test", "stories"), split_of(pairs, "test", "preference pairs")

    head = RewardHead(
        kind=config.kind,
        tier_values=tuple(config.tier_values[tier] for tier in TIERS),
        max_tokens=model_config.max_tokens,
        max_prompt_tokens=model_config.max_prompt_tokens,
    )
    encode = partial(
        encode_story, tokenizer, max_prompt_tokens=head.max_prompt_tokens, max_tokens=head.max_tokens, add_eos=False
    )
    loader = training_loader(config.kind, config, train_stories, train_pairs, encode, tokenizer.pad_token_id)
    accelerator = accelerator_for(config)
    require_even_split(
        config.prompts_per_batch if config.kind == "listwise" else config.batch_size,
        accelerator.num_processes,
        "reward.prompts_per_batch" if config.kind == "listwise" else "reward.batch_size",
    )
    model = trainable(new_reward_model(config, model_config, tokenizer), model_config, task="sequence_classification")
    main = accelerator.is_main_process

    def evaluate(model) -> dict[str, float]:
        scorer = RewardScorer(model, tokenizer, head)
        return {"reward/val_pairwise_accuracy": pairwise_accuracy(score_frame(scorer, val_stories), val_pairs)}

    with (
        on_main_process(
            main, lambda: Live(str(REWARD_LIVE_DIR), save_dvc_exp=False, dvcyaml=False), SilentLive()
        ) as live,
        on_main_process(main, lambda: atomic_output_dir(REWARD_DIR)) as staging,
    ):
        result = fit(
            model=model,
            loader=loader,
            loss_of=objective(config.kind, config.margin_scale, head),
            evaluate=evaluate,
            monitor="reward/val_pairwise_accuracy",
            higher_is_better=True,
            on_best=lambda best, step: RewardScorer(plain_model(best), tokenizer, head).save(staging),
            config=config,
            accelerator=accelerator,
            live=live,
            prefix="reward",
            items_of=objective_items(config.kind),
        )
        if not main:
            return ""
        scorer = RewardScorer.load(staging, accelerator.device)
        # A sample gives the mean and std to ~2% (std / sqrt(n)) in a fraction of the time.
        normalising = train_stories.sample(min(NORMALISING_STORIES, len(train_stories)), random_state=config.seed)
        train_rewards = scorer.score(normalising["prompt"].tolist(), normalising["story"].tolist())
        statistics = {
            "train_mean": float(train_rewards.mean()),
            "train_std": float(train_rewards.std().clamp(min=1e-6)),
        }
        scorer = RewardScorer(scorer.model, tokenizer, replace(head, **statistics))
        scorer.save(staging)
        metrics = held_out_metrics(scorer, test_stories, test_pairs, simulated=data.source == "simulated")
        # The baseline beside it: what a linear model of the words makes of the same pairs.
        linear = fit_linear_reward(train_stories, train_pairs, config.seed)
        linear_of = pd.Series(linear.score(test_stories["prompt"], test_stories["story"]), test_stories["comment_id"])
        metrics |= ranking_metrics(linear_of, test_stories, test_pairs, data.source == "simulated", "reward/linear/")

    metrics |= result.metrics("reward") | {
        "reward/val_pairwise_accuracy": result.best_value,
        "reward/train_mean": scorer.head.train_mean,
        "reward/train_std": scorer.head.train_std,
    }
    write_metrics(metrics_file("reward"), metrics)
    return (
        f"reward ({config.kind}): test pairwise accuracy {metrics['reward/pairwise_accuracy']:.3f}, "
        f"Spearman with adjusted {metrics['reward/spearman_adjusted']:.3f}"
        + (f", with gold {metrics['reward/spearman_gold']:.3f}" if "reward/spearman_gold" in metrics else "")
        + f" -> {REWARD_DIR}/"
    )
