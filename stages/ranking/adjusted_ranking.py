"""The adjusted-ranking method, as pure functions over arrays and frames.

A story's raw score is confounded by its prompt's popularity (every story under a
popular prompt scores high) and by its posting delay (early stories are seen by more
readers). Ranking within the submission removes the first; adding the z-scored delay
credits a late story for the readers it never had, which removes the second.
"""

import hashlib

import numpy as np
import pandas as pd

from stages.common.config import RankConfig
from stages.common.contracts import TIERS


def zscore(values: np.ndarray) -> np.ndarray:
    """Population z-score; all zeros when the values do not vary (one story, or ties)."""
    values = np.asarray(values, dtype=float)
    std = values.std()
    if values.size == 0 or std == 0.0:
        return np.zeros_like(values)
    return (values - values.mean()) / std


def grouped_zscore(frame: pd.DataFrame, group: str, column: str) -> pd.Series:
    return frame.groupby(group, sort=False)[column].transform(lambda values: zscore(values.to_numpy()))


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
    return submission_ids.map(lambda sid: split_for_fraction(split_fraction(sid, seed), val_share, test_share))


def adjusted_pairs(group: pd.DataFrame, min_margin: float) -> list[tuple[int, int]]:
    """(chosen, rejected) row labels whose adjusted rankings differ by more than min_margin."""
    adjusted = group["adjusted"].to_numpy()
    labels = group.index.to_numpy()
    chosen, rejected = np.nonzero(adjusted[:, None] - adjusted[None, :] > min_margin)
    return list(zip(labels[chosen], labels[rejected]))


def shp_pairs(group: pd.DataFrame, score_ratio: float) -> list[tuple[int, int]]:
    """The SHP rule (Ethayarajh et al. 2022): a story posted later that still outscored an
    earlier one by score_ratio is preferred, since it won despite fewer readers."""
    created = group["created_utc"].to_numpy()
    score = group["score"].to_numpy().astype(float)
    labels = group.index.to_numpy()
    later = created[:, None] > created[None, :]
    outscored = score[:, None] >= score_ratio * np.maximum(score[None, :], 1e-9)
    chosen, rejected = np.nonzero(later & outscored)
    return list(zip(labels[chosen], labels[rejected]))


def preference_pairs(stories: pd.DataFrame, rule: str, min_margin: float, score_ratio: float) -> pd.DataFrame:
    """Pairs within a submission only: stories of different prompts are not comparable."""
    rows = []
    for _, group in stories.groupby("submission_id", sort=False):
        pairs = adjusted_pairs(group, min_margin) if rule == "adjusted" else shp_pairs(group, score_ratio)
        rows.extend(pairs)
    chosen = stories.loc[[c for c, _ in rows]].reset_index(drop=True)
    rejected = stories.loc[[r for _, r in rows]].reset_index(drop=True)
    return pd.DataFrame({
        "submission_id": chosen["submission_id"],
        "prompt": chosen["prompt"],
        "chosen": chosen["story"],
        "rejected": rejected["story"],
        "margin": chosen["adjusted"] - rejected["adjusted"],
        "split": chosen["split"],
        "chosen_id": chosen["comment_id"],
        "rejected_id": rejected["comment_id"],
    })


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Rank correlation with average ranks for ties; NaN when either side is constant."""
    ranks_a = pd.Series(a).rank(method="average").to_numpy()
    ranks_b = pd.Series(b).rank(method="average").to_numpy()
    if ranks_a.std() == 0.0 or ranks_b.std() == 0.0:
        return float("nan")
    return float(np.corrcoef(ranks_a, ranks_b)[0, 1])


def mean_within_spearman(frame: pd.DataFrame, a: str, b: str, min_size: int = 3) -> float:
    """Mean over submissions of the within-submission Spearman: what ranking alone can see."""
    values = [
        spearman(group[a].to_numpy(), group[b].to_numpy())
        for _, group in frame.groupby("submission_id", sort=False)
        if len(group) >= min_size
    ]
    values = [value for value in values if not np.isnan(value)]
    return float(np.mean(values)) if values else float("nan")



def rank_stories(stories: pd.DataFrame, config: RankConfig) -> pd.DataFrame:
    """Add rank, z-scores, adjusted ranking, split and tier to selected stories."""
    stories = stories.copy()
    stories["rank"] = score_rank(stories)
    stories["n_stories"] = stories.groupby("submission_id", sort=False)["score"].transform("size")
    stories["z_rank"] = grouped_zscore(stories, "submission_id", "rank")
    stories["z_delay"] = grouped_zscore(stories, "submission_id", "delay_s")
    stories["adjusted"] = adjusted_ranking(stories["z_rank"], stories["z_delay"], config.w_rank, config.w_time)
    stories["split"] = assign_splits(stories["submission_id"], config.split_seed, config.val_share, config.test_share)
    train = stories.loc[stories["split"] == "train", "adjusted"]
    thresholds = tier_thresholds(train if len(train) else stories["adjusted"], config.tier_cutpoints)
    stories["tier"] = assign_tiers(stories["adjusted"].to_numpy(), thresholds)
    return stories
