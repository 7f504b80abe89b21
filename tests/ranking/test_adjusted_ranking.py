import numpy as np
import pandas as pd
import pytest

from stages.common.config import RankConfig
from stages.ranking.adjusted_ranking import (
    adjusted_ranking,
    assign_splits,
    assign_tiers,
    grouped_zscore,
    mean_within_spearman,
    pair_positions,
    pairs_frame,
    rank_stories,
    score_rank,
    spearman,
    split_for_fraction,
    split_fraction,
    tier_thresholds,
    within_spearman,
    zscore,
)
from stages.ranking.reply_signal import story_reply_statistics


def random_groups(seed: int, n_groups: int = 150) -> pd.DataFrame:
    """Submissions of 1 to 40 stories, interleaved, with ties, constant groups and large values."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 41, size=n_groups)
    keys = np.repeat([f"s{i}" for i in range(n_groups)], sizes)
    frame = pd.DataFrame(
        {
            "submission_id": keys,
            "tied": rng.integers(0, 4, size=len(keys)).astype(float),
            "smooth": rng.normal(size=len(keys)),
            "delay": rng.lognormal(8.0, 2.0, size=len(keys)).round(),
        }
    )
    constant = frame["submission_id"].isin([f"s{i}" for i in range(0, n_groups, 10)])
    frame.loc[constant, ["tied", "delay"]] = 7.0
    return frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)  # groups interleaved


def test_zscore_by_hand():
    # mean 2, population std sqrt(2/3)
    assert zscore(np.array([1.0, 2.0, 3.0])) == pytest.approx([-1.2247449, 0.0, 1.2247449])


def test_zscore_of_constant_or_single_values_is_zero():
    assert zscore(np.array([5.0, 5.0, 5.0])).tolist() == [0.0, 0.0, 0.0]
    assert zscore(np.array([7.0])).tolist() == [0.0]


def test_grouped_zscore_is_within_each_submission():
    frame = pd.DataFrame({"submission_id": ["a", "a", "b", "b", "b"], "x": [10.0, 20.0, 1.0, 1.0, 1.0]})
    assert grouped_zscore(frame, "submission_id", "x").tolist() == [-1.0, 1.0, 0.0, 0.0, 0.0]


@pytest.mark.parametrize("column", ["tied", "smooth", "delay"])
def test_grouped_zscore_equals_a_zscore_per_group_to_the_last_bit(column):
    frame = random_groups(seed=1)
    per_group = frame.groupby("submission_id", sort=False)[column].transform(lambda values: zscore(values.to_numpy()))
    z = grouped_zscore(frame, "submission_id", column)
    assert z.index.equals(frame.index)
    np.testing.assert_array_equal(z.to_numpy(), per_group.to_numpy())
    if column != "smooth":
        assert (z[frame["submission_id"] == "s0"] == 0.0).all()  # constant: the zero-variance guard


def test_score_rank_puts_the_top_score_first_and_averages_ties():
    frame = pd.DataFrame({"submission_id": ["a"] * 4 + ["b"] * 2, "score": [5, 50, 5, 7, 3, 9]})
    assert score_rank(frame).tolist() == [3.5, 1.0, 3.5, 2.0, 2.0, 1.0]


def test_adjusted_ranking_rewards_good_rank_and_late_posting():
    z_rank = np.array([-1.0, 1.0, 0.0])
    z_delay = np.array([0.0, 0.0, 2.0])
    assert adjusted_ranking(z_rank, z_delay, w_rank=1.0, w_time=0.5).tolist() == [1.0, -1.0, 1.0]
    assert adjusted_ranking(z_rank, z_delay, w_rank=2.0, w_time=0.0).tolist() == [2.0, -2.0, 0.0]


def test_tiers_by_quantile_cut_points():
    assert assign_tiers(np.array([-1.0, 0.0, 0.5, 1.0, 2.0]), np.array([0.0, 1.0])).tolist() == [
        "bad",
        "ok",
        "ok",
        "good",
        "good",
    ]
    adjusted = np.arange(9, dtype=float)  # quantiles 1/3 and 2/3 of 0..8 are 2.667 and 5.333
    thresholds = tier_thresholds(adjusted, [1 / 3, 2 / 3])
    assert thresholds == pytest.approx([8 / 3, 16 / 3])
    assert assign_tiers(adjusted, thresholds).tolist() == ["bad"] * 3 + ["ok"] * 3 + ["good"] * 3


def test_split_for_fraction_boundaries():
    shares = {"val_share": 0.125, "test_share": 0.25}  # exact in binary: boundaries 0.25, 0.375
    assert split_for_fraction(0.0, **shares) == "test"
    assert split_for_fraction(0.2499, **shares) == "test"
    assert split_for_fraction(0.25, **shares) == "val"
    assert split_for_fraction(0.3749, **shares) == "val"
    assert split_for_fraction(0.375, **shares) == "train"
    assert split_for_fraction(0.9999, **shares) == "train"


def test_split_fraction_is_uniform_and_depends_on_seed():
    fractions = np.array([split_fraction(f"id{i}", seed=0) for i in range(4000)])
    assert fractions.min() >= 0.0 and fractions.max() < 1.0
    assert abs(fractions.mean() - 0.5) < 0.02
    assert abs((fractions < 0.1).mean() - 0.1) < 0.02
    assert split_fraction("id1", seed=0) != split_fraction("id1", seed=1)


def test_splits_are_stable_when_new_submissions_arrive():
    old = pd.Series([f"s{i}" for i in range(200)])
    new = pd.concat([pd.Series([f"n{i}" for i in range(300)]), old], ignore_index=True)
    before = assign_splits(old, 3, 0.1, 0.1)
    after = assign_splits(new, 3, 0.1, 0.1).iloc[300:].reset_index(drop=True)
    assert before.tolist() == after.tolist()


def story_group(adjusted, created=None, score=None):
    n = len(adjusted)
    return pd.DataFrame(
        {
            "submission_id": ["s"] * n,
            "comment_id": [f"c{i}" for i in range(n)],
            "prompt": ["p"] * n,
            "story": [f"story {i}" for i in range(n)],
            "adjusted": adjusted,
            "split": ["train"] * n,
            "created_utc": created if created is not None else list(range(n)),
            "score": score if score is not None else [1] * n,
        }
    )


def positions(group: pd.DataFrame, rule: str, **options) -> list[tuple[int, int]]:
    settings = {"min_margin": 0.5, "score_ratio": 2.0} | options
    chosen, rejected = pair_positions(group, rule, **settings)
    return list(zip(chosen.tolist(), rejected.tolist(), strict=True))


def test_adjusted_pairs_keep_only_differences_above_the_margin():
    group = story_group([1.0, 0.2, -1.0])
    # differences: 0-1 = 0.8, 0-2 = 2.0, 1-2 = 1.2
    assert positions(group, "adjusted", min_margin=0.5) == [(0, 1), (0, 2), (1, 2)]
    assert positions(group, "adjusted", min_margin=1.0) == [(0, 2), (1, 2)]
    assert positions(group, "adjusted", min_margin=2.0) == []


def test_shp_pairs_prefer_the_later_story_that_outscored_an_earlier_one():
    # c1 posted after c0 with 3x its score: preferred. c2 is later still but scores less.
    group = story_group([0.0, 0.0, 0.0], created=[100, 200, 300], score=[10, 30, 12])
    assert positions(group, "shp", score_ratio=2.0) == [(1, 0)]
    assert positions(group, "shp", score_ratio=1.1) == [(1, 0), (2, 0)]


def pairs_group_by_group(
    stories: pd.DataFrame, rule: str, min_margin: float, score_ratio: float
) -> list[tuple[int, int]]:
    """The rule applied one submission at a time, by loops: the reference for pair_positions."""
    adjusted, created, score = (stories[column].tolist() for column in ("adjusted", "created_utc", "score"))
    found = []
    for rows in stories.groupby("submission_id", sort=False).indices.values():
        for i in rows:
            for j in rows:
                if rule == "adjusted":
                    prefer = adjusted[i] - adjusted[j] > min_margin
                else:
                    prefer = created[i] > created[j] and score[i] >= score_ratio * max(score[j], 1e-9)
                if prefer:
                    found.append((int(i), int(j)))
    return found


@pytest.mark.parametrize("rule", ["adjusted", "shp"])
def test_pair_positions_equal_the_rule_applied_group_by_group(rule):
    frame = random_groups(seed=2, n_groups=60)
    stories = frame.assign(
        adjusted=frame["smooth"], created_utc=frame["delay"].astype(int), score=frame["tied"].astype(int)
    )
    assert positions(stories, rule, min_margin=0.3, score_ratio=1.5) == pairs_group_by_group(stories, rule, 0.3, 1.5)


def test_preference_pairs_never_cross_submissions():
    first = story_group([1.0, 0.0])
    second = story_group([5.0, -5.0]).assign(submission_id="t", comment_id=["d0", "d1"])
    stories = pd.concat([first, second], ignore_index=True)
    pairs = pairs_frame(stories, *pair_positions(stories, "adjusted", min_margin=0.5, score_ratio=2.0))
    assert pairs[["chosen_id", "rejected_id"]].values.tolist() == [["c0", "c1"], ["d0", "d1"]]
    assert pairs["margin"].tolist() == [1.0, 10.0]
    assert (pairs["chosen"] != pairs["rejected"]).all()


def test_spearman_by_hand():
    # ranks a = 1,2,3,4; ranks b = 1,3,2,4: d^2 sums to 2, rho = 1 - 6*2/(4*15) = 0.8
    assert spearman(np.array([1, 2, 3, 4]), np.array([10, 30, 20, 40])) == pytest.approx(0.8)
    assert spearman(np.array([1, 2, 3]), np.array([3, 2, 1])) == pytest.approx(-1.0)
    assert np.isnan(spearman(np.array([1, 2, 3]), np.array([5, 5, 5])))


@pytest.mark.parametrize("seed", [3, 4])
def test_within_spearman_equals_spearman_per_group_to_the_last_bit(seed):
    frame = random_groups(seed)
    rho, sizes = within_spearman(frame, "tied", "smooth")
    groups = list(frame.groupby("submission_id", sort=False))
    expected = [spearman(group["tied"].to_numpy(), group["smooth"].to_numpy()) for _, group in groups]
    np.testing.assert_array_equal(rho, expected)  # NaN where constant, in both
    assert sizes.tolist() == [len(group) for _, group in groups]
    assert np.isnan(rho).any() and (~np.isnan(rho)).sum() > 100


def test_mean_within_spearman_is_the_mean_of_the_per_group_values():
    frame = random_groups(seed=5)
    values = [
        spearman(group["delay"].to_numpy(), group["smooth"].to_numpy())
        for _, group in frame.groupby("submission_id", sort=False)
        if len(group) >= 3
    ]
    assert mean_within_spearman(frame, "delay", "smooth") == float(np.mean([v for v in values if not np.isnan(v)]))


def test_mean_within_spearman_skips_small_submissions():
    frame = pd.DataFrame(
        {
            "submission_id": ["a"] * 3 + ["b"] * 3 + ["c"] * 2,
            "x": [1, 2, 3, 1, 2, 3, 1, 2],
            "y": [1, 2, 3, 3, 2, 1, 2, 1],
        }
    )
    assert mean_within_spearman(frame, "x", "y") == pytest.approx(0.0)  # (1 + -1) / 2; c skipped


def test_rank_stories_fills_every_story_column():
    stories = pd.DataFrame(
        {
            "submission_id": ["a", "a", "a", "b", "b"],
            "score": [30, 10, 20, 5, 5],
            "delay_s": [100.0, 200.0, 300.0, 50.0, 60.0],
        }
    )
    replies = story_reply_statistics(np.array([0, 0, 3]), np.array([0.5, 0.1, -0.2]), 5)
    config = RankConfig(deconfound="zscore", w_rank=1.0, w_time=0.0, val_share=0.0, test_share=0.0)
    ranked, signals, _ = rank_stories(stories, replies, config)
    assert ranked["rank"].tolist() == [1.0, 3.0, 2.0, 1.5, 1.5]
    assert ranked["n_stories"].tolist() == [3, 3, 3, 2, 2]
    assert ranked["adjusted"].tolist() == pytest.approx([1.2247449, -1.2247449, 0.0, 0.0, 0.0])
    assert set(ranked["split"]) == {"train"}
    # Both cut points fall on the tied zeros; a story at a cut point goes to the upper tier.
    assert ranked["tier"].tolist() == ["good", "bad", "good", "good", "good"]
    assert ranked["n_replies"].tolist() == [2, 0, 0, 1, 0]
    assert ranked["votes_signal"].tolist() == ranked["adjusted"].tolist()
    np.testing.assert_array_equal(ranked["reply_signal"], signals["replies"])


def test_rank_stories_ranks_by_the_feedback_asked_for_and_leaves_unreplied_stories_untiered():
    stories = pd.DataFrame(
        {
            "submission_id": ["a", "a", "a", "b", "b"],
            "score": [30, 10, 20, 5, 5],
            "delay_s": [100.0, 200.0, 300.0, 50.0, 60.0],
        }
    )
    replies = story_reply_statistics(np.array([0, 1, 1, 3]), np.array([-0.5, 0.4, 0.6, 0.2]), 5)
    config = RankConfig(feedback="replies", val_share=0.0, test_share=0.0)
    ranked, signals, _ = rank_stories(stories, replies, config)
    np.testing.assert_array_equal(ranked["adjusted"], signals["replies"])
    assert ranked["tier"].isna().tolist() == [False, False, True, False, True]
    assert ranked["adjusted"][1] > ranked["adjusted"][0]  # praised above panned, whatever their votes
    both, signals, _ = rank_stories(stories, replies, config.model_copy(update={"feedback": "both"}))
    np.testing.assert_array_equal(both["adjusted"], signals["both"])
    assert both["tier"].notna().all()
