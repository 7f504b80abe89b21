"""Every feedback signal of a story, side by side (rank.feedback picks the one ranked by).

- zscore: the seed's rule on votes, w_rank * -z(rank) + w_time * z(delay) within the prompt;
- model: votes de-confounded by a fitted delay curve and prompt effects (ranking/vote_model.py);
- replies: the story's mean reply sentiment, shrunk by its number of replies (ranking/reply_signal.py);
- both: votes (rank.deconfound's) and replies, each standardised within the prompt, in the
  proportion rank.reply_weight; votes alone for a story without replies.

model, replies and both are standardised over the train split (mean 0, SD 1), so
rank.pair_margin means the same share of a standard deviation whichever is ranked by;
zscore is the seed's rule kept as it was. Only the train split fits anything here.
"""

import numpy as np
import pandas as pd

from stages.common.config import RankConfig
from stages.ranking.reply_signal import ReplyStatistics, prior_replies, shrunk_reply_means
from stages.ranking.vote_model import delay_quality

SIGNALS = ("zscore", "model", "replies", "both")


def standardised(values: np.ndarray, fit: np.ndarray) -> np.ndarray:
    """(values - mean) / SD over the finite values where `fit` is true; NaN stays NaN."""
    values = np.asarray(values, dtype=float)
    reference = values[fit & np.isfinite(values)]
    if len(reference) == 0:
        return values - np.nan
    std = reference.std()
    return (values - reference.mean()) / (std if std > 0 else 1.0)


def within_zscore(values: np.ndarray, group: np.ndarray) -> np.ndarray:
    """Population z-score of each finite value among its group's finite values; 0 where
    they do not vary; NaN stays NaN."""
    values = np.asarray(values, dtype=float)
    finite = np.isfinite(values)
    size = max(group.max(initial=-1) + 1, 0)
    count = np.bincount(group[finite], minlength=size).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.bincount(group[finite], weights=values[finite], minlength=size) / count
        centred = values - mean[group]
        variance = np.bincount(group[finite], weights=centred[finite] ** 2, minlength=size) / count
        std = np.sqrt(variance)[group]
        return np.where(finite, np.where(std > 0, centred / np.where(std > 0, std, 1.0), 0.0), np.nan)


def combined_signal(votes: np.ndarray, replies: np.ndarray, group: np.ndarray, reply_weight: float) -> np.ndarray:
    """(1 - w) * z(votes) + w * z(replies), both within the prompt; z(votes) where a story has no reply."""
    z_votes, z_replies = within_zscore(votes, group), within_zscore(replies, group)
    return np.where(np.isfinite(z_replies), (1 - reply_weight) * z_votes + reply_weight * z_replies, z_votes)


def feedback_signals(
    stories: pd.DataFrame,
    zscore: np.ndarray,
    group: np.ndarray,
    train: np.ndarray,
    replies: ReplyStatistics,
    config: RankConfig,
) -> tuple[dict[str, np.ndarray], float]:
    """Every signal of SIGNALS by name (one value per story, NaN where a story has none),
    and k, the prior weight in replies of the replies signal's shrinkage.

    stories: with score and delay_s; zscore: the seed's rule's adjusted ranking; group:
    the prompt's code, 0, 1, ...; train: whether in the train split; replies: the
    replies' statistics."""
    quality = delay_quality(stories["score"].to_numpy(), stories["delay_s"].to_numpy(), group, train)
    k = prior_replies(group, replies.n, replies.mean, replies.deviations, train)
    signals = {
        "zscore": zscore,
        "model": standardised(quality, train),
        "replies": standardised(shrunk_reply_means(group, replies.n, replies.mean, k), train),
    }
    votes = signals[config.deconfound]
    signals["both"] = standardised(combined_signal(votes, signals["replies"], group, config.reply_weight), train)
    return signals, k
