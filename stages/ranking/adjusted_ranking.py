"""The adjusted-ranking method, as pure functions over arrays and frames.

A story's raw score is confounded by its prompt's popularity (every story under a
popular prompt scores high) and by its posting delay (early stories are seen by more
readers). Ranking within the submission removes the first; adding the z-scored delay
credits a late story for the readers it never had, which removes the second.
"""

import hashlib
from typing import NamedTuple

import numpy as np
import pandas as pd

from stages.common.config import RankConfig
from stages.common.contracts import TIERS
from stages.ranking.feedback_signals import feedback_signals
from stages.ranking.groups import group_codes, groups_by_size
from stages.ranking.reply_signal import ReplyStatistics


def zscore(values: np.ndarray) -> np.ndarray:
    """Population z-score along the last axis; all zeros where the values do not vary
    (one story, or ties)."""
    values = np.asarray(values, dtype=float)
    if values.shape[-1] == 0:
        return np.zeros_like(values)
    std = values.std(axis=-1, keepdims=True)
    flat = std == 0.0
    return np.where(flat, 0.0, (values - values.mean(axis=-1, keepdims=True)) / np.where(flat, 1.0, std))


def grouped_zscore(frame: pd.DataFrame, group: str, column: str) -> pd.Series:
    values = frame[column].to_numpy(dtype=float)
    z = np.zeros(len(values))
    for _, rows in groups_by_size(group_codes(frame[group])):
        z[rows] = zscore(values[rows])
    return pd.Series(z, index=frame.index)


def score_rank(frame: pd.DataFrame) -> pd.Series:
    """1 = the top-scored story of its submission; tied scores share their mean rank."""
    return frame.groupby("submission_id", sort=False)["score"].rank(ascending=False, method="average")


def adjusted_ranking(z_rank: np.ndarray, z_delay: np.ndarray, w_rank: float, w_time: float) -> np.ndarray:
    """Higher is better: a low rank number is good, and so is a high rank reached late."""
    return w_rank * -np.asarray(z_rank) + w_time * np.asarray(z_delay)


def tier_thresholds(adjusted: np.ndarray, cutpoints: list[float]) -> np.ndarray:
    return np.quantile(np.asarray(adjusted, dtype=float), cutpoints)


def assign_tiers(adjusted: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """bad below the first threshold, good at or above the second, ok between."""
    return np.asarray(TIERS, dtype=object)[np.searchsorted(thresholds, adjusted, side="right")]


def split_fraction(submission_id: str, seed: int) -> float:
    """A uniform draw fixed by (seed, id): a prompt keeps its split as new scrapes arrive."""
    digest = hashlib.blake2b(f"{seed}:{submission_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def split_for_fraction(fraction: float, val_share: float, test_share: float) -> str:
    if fraction < test_share:
        return "test"
    if fraction < test_share + val_share:
        return "val"
    return "train"


def assign_splits(submission_ids: pd.Series, seed: int, val_share: float, test_share: float) -> pd.Series:
    split_of = {
        sid: split_for_fraction(split_fraction(sid, seed), val_share, test_share) for sid in submission_ids.unique()
    }
    return submission_ids.map(split_of)


# Pairs are compared group by group in blocks of at most this many (chosen, rejected) cells.
PAIR_BLOCK_CELLS = 2**22


def preferred(rule: str, values: dict[str, np.ndarray], min_margin: float, score_ratio: float) -> np.ndarray:
    """(groups, n, n): whether story i of a group is preferred to its story j.

    adjusted: the adjusted rankings differ by more than min_margin. shp: the SHP rule
    (Ethayarajh et al. 2022), a story posted later that still outscored an earlier one
    by score_ratio is preferred, since it won despite fewer readers."""
    if rule == "adjusted":
        adjusted = values["adjusted"]
        return adjusted[:, :, None] - adjusted[:, None, :] > min_margin
    created, score = values["created_utc"], values["score"].astype(float)
    later = created[:, :, None] > created[:, None, :]
    return later & (score[:, :, None] >= score_ratio * np.maximum(score[:, None, :], 1e-9))


def pair_positions(
    stories: pd.DataFrame, rule: str, min_margin: float, score_ratio: float
) -> tuple[np.ndarray, np.ndarray]:
    """Row positions of (chosen, rejected), within a submission only: stories of different
    prompts are not comparable. Ordered by submission (first appearance), then chosen,
    then rejected, in frame order."""
    columns = ["adjusted"] if rule == "adjusted" else ["created_utc", "score"]
    arrays = {name: stories[name].to_numpy() for name in columns}
    found = []
    for groups, rows in groups_by_size(group_codes(stories["submission_id"])):
        size = rows.shape[1]
        step = max(1, PAIR_BLOCK_CELLS // size**2)
        for start in range(0, len(groups), step):
            block = rows[start : start + step]
            group, chosen, rejected = np.nonzero(
                preferred(rule, {name: array[block] for name, array in arrays.items()}, min_margin, score_ratio)
            )
            found.append((groups[start + group], chosen, rejected, block[group, chosen], block[group, rejected]))
    if not found:
        return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.intp)
    group, chosen, rejected, chosen_rows, rejected_rows = (np.concatenate(parts) for parts in zip(*found, strict=True))
    order = np.lexsort((rejected, chosen, group))
    return chosen_rows[order], rejected_rows[order]


def pairs_frame(stories: pd.DataFrame, chosen: np.ndarray, rejected: np.ndarray) -> pd.DataFrame:
    """The pairs data contract for the (chosen, rejected) row positions given."""

    def taken(column: str, positions: np.ndarray) -> pd.Series:
        return stories[column].take(positions).reset_index(drop=True)

    return pd.DataFrame(
        {
            "submission_id": taken("submission_id", chosen),
            "prompt": taken("prompt", chosen),
            "chosen": taken("story", chosen),
            "rejected": taken("story", rejected),
            "margin": taken("adjusted", chosen) - taken("adjusted", rejected),
            "split": taken("split", chosen),
            "chosen_id": taken("comment_id", chosen),
            "rejected_id": taken("comment_id", rejected),
        }
    )


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Rank correlation with average ranks for ties; NaN when either side is constant."""
    ranks_a = pd.Series(a).rank(method="average").to_numpy()
    ranks_b = pd.Series(b).rank(method="average").to_numpy()
    if ranks_a.std() == 0.0 or ranks_b.std() == 0.0:
        return float("nan")
    return float(np.corrcoef(ranks_a, ranks_b)[0, 1])


def within_spearman(frame: pd.DataFrame, a: str, b: str) -> tuple[np.ndarray, np.ndarray]:
    """Each submission's Spearman of a and b (NaN where either is constant) and its size,
    by order of first appearance: spearman() per group, in one pass per group size."""
    codes = group_codes(frame["submission_id"])
    ranks = frame[[a, b]].groupby(codes).rank(method="average")
    ranks_a, ranks_b = ranks[a].to_numpy(), ranks[b].to_numpy()
    rho = np.full(codes.max(initial=-1) + 1, np.nan)
    sizes = np.bincount(codes)
    for groups, rows in groups_by_size(codes):
        rho[groups] = rows_correlation(ranks_a[rows], ranks_b[rows])
    return rho, sizes


def rows_correlation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson correlation of each row of a with the same row of b, step by step as
    np.corrcoef computes it; NaN where a row is constant."""
    centered_a = a - a.mean(axis=1, keepdims=True)
    centered_b = b - b.mean(axis=1, keepdims=True)
    factor = np.true_divide(1, a.shape[1] - 1) if a.shape[1] > 1 else np.nan
    cov_ab = (centered_a * centered_b).sum(axis=1) * factor
    var_a = (centered_a * centered_a).sum(axis=1) * factor
    var_b = (centered_b * centered_b).sum(axis=1) * factor
    constant = (var_a == 0.0) | (var_b == 0.0) | np.isnan(var_a)
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = np.clip(cov_ab / np.sqrt(var_a) / np.sqrt(var_b), -1, 1)
    return np.where(constant, np.nan, rho)


def mean_within_spearman(frame: pd.DataFrame, a: str, b: str, min_size: int = 3) -> float:
    """Mean over submissions of the within-submission Spearman: what ranking alone can see."""
    rho, sizes = within_spearman(frame, a, b)
    values = rho[(sizes >= min_size) & ~np.isnan(rho)]
    return float(np.mean(values)) if len(values) else float("nan")


class RankedStories(NamedTuple):
    stories: pd.DataFrame
    signals: dict[str, np.ndarray]  # every feedback signal by name (feedback_signals.SIGNALS), by story
    prior_replies: float  # the replies signal's shrinkage: a prompt's mean weighs this many replies


def rank_stories(stories: pd.DataFrame, replies: ReplyStatistics, config: RankConfig) -> RankedStories:
    """Add rank, z-scores, split, every feedback signal, adjusted (rank.feedback's signal)
    and tier to selected stories; `replies` holds their replies' statistics, by position.
    Under rank.feedback: replies, a story without replies has no adjusted ranking and no tier."""
    stories = stories.copy()
    stories["rank"] = score_rank(stories)
    stories["n_stories"] = stories.groupby("submission_id", sort=False)["score"].transform("size")
    stories["z_rank"] = grouped_zscore(stories, "submission_id", "rank")
    stories["z_delay"] = grouped_zscore(stories, "submission_id", "delay_s")
    stories["split"] = assign_splits(stories["submission_id"], config.split_seed, config.val_share, config.test_share)
    train = (stories["split"] == "train").to_numpy()
    zscore = adjusted_ranking(stories["z_rank"].to_numpy(), stories["z_delay"].to_numpy(), config.w_rank, config.w_time)
    group = group_codes(stories["submission_id"])
    signals, prior_replies = feedback_signals(stories, zscore, group, train, replies, config)
    stories["n_replies"] = replies.n.astype(np.int64)
    stories["votes_signal"] = signals[config.deconfound]
    stories["reply_signal"] = signals["replies"]
    stories["adjusted"] = stories["votes_signal"] if config.feedback == "votes" else signals[config.feedback]
    labelled = stories["adjusted"].notna().to_numpy()
    stories["tier"] = None
    if labelled.any():
        reference = stories["adjusted"].to_numpy()[train & labelled]
        thresholds = tier_thresholds(
            reference if len(reference) else stories["adjusted"].dropna(), config.tier_cutpoints
        )
        stories.loc[labelled, "tier"] = assign_tiers(stories["adjusted"].to_numpy()[labelled], thresholds)
    return RankedStories(stories, signals, prior_replies)
