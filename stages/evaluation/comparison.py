"""What SFT and the policy wrote for the same prompts, compared: pure functions over lists.

The two models are decoded with the same seed, so sample i of a prompt from one is
set against sample i of the same prompt from the other: the win rates and the paired
gains compare like with like, and the paired standard error says when a gain is
larger than the sampling noise.
"""

import math
from dataclasses import dataclass

import numpy as np

from stages.modeling.text_metrics import distinct_n, mean_words, repeated_ngram_rate


@dataclass(frozen=True)
class Decoded:
    """One model's stories for a list of prompts, with what each scorer said of them."""

    prompts: list[str]  # one per story: a prompt repeated once per sample
    stories: list[str]
    rewards: list[float]  # reward model, normalised (train mean 0, SD 1)
    gold: list[float] | None  # true quality: simulated source only
    kl: list[float] | None  # KL(model || SFT) of each story: sampled stories only


def win_rate(candidate: list[float], baseline: list[float]) -> float:
    """Share of pairs in which the candidate scores higher; a tie counts half."""
    if len(candidate) != len(baseline):
        raise ValueError(f"win_rate: {len(candidate)} candidate scores against {len(baseline)} baseline scores")
    if not candidate:
        return float("nan")
    a, b = np.asarray(candidate, dtype=float), np.asarray(baseline, dtype=float)
    return float(np.mean((a > b) + 0.5 * (a == b)))


def paired_gain(candidate: list[float], baseline: list[float]) -> tuple[float, float]:
    """Mean of candidate - baseline over pairs, and its standard error (nan with one pair)."""
    differences = np.asarray(candidate, dtype=float) - np.asarray(baseline, dtype=float)
    if differences.size == 0:
        return float("nan"), float("nan")
    se = float(differences.std(ddof=1) / math.sqrt(differences.size)) if differences.size > 1 else float("nan")
    return float(differences.mean()), se


def text_summary(stories: list[str]) -> dict[str, float]:
    """Surface statistics that show a policy narrowing onto what the reward model likes."""
    return {
        "distinct_1": distinct_n(stories, 1),
        "distinct_2": distinct_n(stories, 2),
        "repeated_4gram": repeated_ngram_rate(stories, 4),
        "mean_words": mean_words(stories),
    }


def decoding_summary(decoded: Decoded, prefix: str, name_prefix: str = "") -> dict[str, float]:
    """`{prefix}/{name_prefix}reward`, gold, KL and text statistics of one model's stories."""
    values = {"reward": float(np.mean(decoded.rewards))} | text_summary(decoded.stories)
    if decoded.gold is not None:
        values |= {"gold": float(np.mean(decoded.gold)), "gold_std": float(np.std(decoded.gold))}
    if decoded.kl is not None:
        values["kl"] = float(np.mean(decoded.kl))
    return {f"{prefix}/{name_prefix}{name}": value for name, value in values.items()}


def head_to_head(policy: Decoded, sft: Decoded, prefix: str, name_prefix: str = "") -> dict[str, float]:
    """Win rates of the policy over SFT (reward model, gold) and the paired gains with their SEs."""
    if policy.prompts != sft.prompts:
        raise ValueError("head_to_head: the two models were decoded for different prompts")
    scores = {"reward": (policy.rewards, sft.rewards)}
    if policy.gold is not None and sft.gold is not None:
        scores["gold"] = (policy.gold, sft.gold)
    metrics = {}
    for scorer, (candidate, baseline) in scores.items():
        gain, se = paired_gain(candidate, baseline)
        metrics |= {
            f"{prefix}/{name_prefix}win_rate_{scorer}": win_rate(candidate, baseline),
            f"{prefix}/{name_prefix}{scorer}_gain": gain,
            f"{prefix}/{name_prefix}{scorer}_gain_se": se,
        }
    return metrics
