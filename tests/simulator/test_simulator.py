import hashlib
import math

import numpy as np
import pandas as pd
import pytest

from stages.common.config import SimulateConfig
from stages.common.contracts import COMMENT_COLUMNS, SUBMISSION_COLUMNS
from stages.simulator.gold import gold
from stages.simulator.gold_batch import batch_gold
from stages.simulator.simulated_rows import AUTHOR_SALT
from stages.simulator.simulator import expected_votes, simulate_subreddit
from stages.sources.privacy import author_hash

SMALL = SimulateConfig(n_prompts=120, n_writers=50)


def content_hash(frame: pd.DataFrame) -> str:
    return hashlib.sha256((str(frame.dtypes.to_dict()) + frame.to_csv(index=False)).encode()).hexdigest()


def test_same_config_gives_byte_identical_frames_and_another_seed_does_not():
    first = simulate_subreddit(SMALL, "WritingPrompts", prompts_per_block=50)
    second = simulate_subreddit(SMALL, "WritingPrompts", prompts_per_block=50)
    other = simulate_subreddit(SMALL.model_copy(update={"seed": 1}), "WritingPrompts", prompts_per_block=50)
    for a, b in zip(first, second, strict=True):
        pd.testing.assert_frame_equal(a, b)
        assert content_hash(a) == content_hash(b)
    assert not first[1]["body"].equals(other[1]["body"])


def test_frames_follow_the_raw_contract():
    submissions, comments = simulate_subreddit(SMALL, "WritingPrompts")
    assert tuple(submissions.columns) == SUBMISSION_COLUMNS
    assert tuple(comments.columns) == COMMENT_COLUMNS
    assert len(submissions) == 120
    assert submissions["id"].is_unique
    assert set(comments["submission_id"]) <= set(submissions["id"])


def test_it_emits_what_real_scrapes_hold():
    submissions, comments = simulate_subreddit(SMALL, "WritingPrompts")
    stickies = comments[comments["stickied"]].drop_duplicates("id")
    assert len(stickies) == len(submissions)
    assert (stickies["distinguished"] == "moderator").all()
    assert (comments["body"] == "[deleted]").any() and (comments["body"] == "[removed]").any()
    assert comments["id"].duplicated().any()
    assert comments["parent_id"].str.startswith("t1_").any()
    top_level = comments[comments["parent_id"].str.startswith("t3_") & ~comments["stickied"]]
    stories_per_prompt = top_level.drop_duplicates("id").groupby("submission_id").size()
    assert (stories_per_prompt == 1).any()
    assert stories_per_prompt.mean() > 5


def test_usernames_are_hashed_never_stored():
    submissions, comments = simulate_subreddit(SMALL, "WritingPrompts")
    text = submissions.to_csv() + comments.to_csv()
    assert "writer_" not in text and "prompter_" not in text and "AutoModerator" not in text
    assert author_hash("AutoModerator", AUTHOR_SALT) in set(comments["author_hash"])


def test_votes_rise_with_gold_and_popularity_and_fall_with_delay():
    config = SimulateConfig()
    base = expected_votes(config, np.array([1.0]), np.array([0.0]), np.array([0.0]))[0]
    assert expected_votes(config, np.array([1.0]), np.array([1.0]), np.array([0.0]))[0] > base
    assert expected_votes(config, np.array([2.0]), np.array([0.0]), np.array([0.0]))[0] == 2 * base
    later = expected_votes(config, np.array([1.0]), np.array([0.0]), np.array([3600.0 * config.attention_tau_h]))
    assert later[0] == pytest.approx(base / np.e)


def test_stories_span_a_wide_range_of_gold():
    submissions, comments = simulate_subreddit(SMALL, "WritingPrompts")
    titles = submissions.set_index("id")["title"]
    stories = comments[comments["parent_id"].str.startswith("t3_") & ~comments["stickied"]]
    golds = np.array([gold(titles[s], body) for s, body in zip(stories["submission_id"], stories["body"], strict=True)])
    assert golds.std() > 0.7
    assert np.percentile(golds, 90) - np.percentile(golds, 10) > 2.0


def test_prompts_carry_their_parsed_tag():
    submissions, _ = simulate_subreddit(SMALL, "WritingPrompts")
    assert (submissions["tag"] == "WP").all()


def share_within(count: int, n: int, share: float) -> bool:
    """count of n draws is share of them up to 4 binomial standard errors."""
    return abs(count / n - share) < 4 * math.sqrt(share * (1 - share) / n)


def test_removals_replies_and_the_second_scrape_follow_their_shares():
    config = SimulateConfig(n_prompts=2000, n_writers=100)
    _, comments = simulate_subreddit(config, "WritingPrompts")
    first_scrape = comments.drop_duplicates("id")
    ordinary = first_scrape[~first_scrape["stickied"]]
    assert share_within((ordinary["body"] == "[deleted]").sum(), len(ordinary), config.deleted_share)
    assert share_within((ordinary["body"] == "[removed]").sum(), len(ordinary), config.removed_share)
    assert ordinary.loc[ordinary["body"] == "[deleted]", "author_hash"].isna().all()
    assert share_within(len(comments) - len(first_scrape), len(first_scrape), config.duplicate_share)
    again = comments[comments["id"].duplicated()]
    assert (again["scraped_utc"] == first_scrape["scraped_utc"].iloc[0] + 86_400).all()
    replies = ordinary["parent_id"].str.startswith("t1_")
    assert share_within(replies.sum(), (~replies).sum(), config.reply_share)
    assert set(ordinary.loc[replies, "parent_id"].str[3:]) <= set(ordinary.loc[~replies, "id"])
    stories_per_prompt = ordinary[~replies].groupby("submission_id").size()
    assert len(stories_per_prompt) == config.n_prompts
    assert share_within((stories_per_prompt == 1).sum(), config.n_prompts, config.one_story_share)


def test_a_log_linear_fit_of_the_scores_recovers_the_vote_model():
    """log score = log base + log popularity - delay / tau + quality_weight * gold_z + noise:
    with votes by the billion (so that the Poisson draw and the score's floor of 1 vanish
    even for stories posted two days late) and nothing removed, regressing it on gold_z,
    the delay in hours and the log of the prompt's score (~ log 3 base popularity) gives
    back quality_weight, -1/attention_tau_h and 1, each within 4 standard errors."""
    config = SimulateConfig(
        n_prompts=1000, base_votes=1e12, deleted_share=0.0, removed_share=0.0, duplicate_share=0.0, reply_share=0.0
    )
    submissions, comments = simulate_subreddit(config, "WritingPrompts")
    stories = comments[~comments["stickied"]].merge(
        submissions[["id", "title", "score", "created_utc"]].add_prefix("prompt_"),
        left_on="submission_id",
        right_on="prompt_id",
    )
    golds = batch_gold(stories["prompt_title"], stories["body"])
    features = np.column_stack(
        [
            np.ones(len(stories)),
            (golds - golds.mean()) / golds.std(),
            (stories["created_utc"] - stories["prompt_created_utc"]) / 3600.0,
            np.log(stories["prompt_score"]),
        ]
    )
    scores = np.log(stories["score"].to_numpy())
    coefficients, residuals, *_ = np.linalg.lstsq(features, scores, rcond=None)
    noise = residuals[0] / (len(scores) - features.shape[1])
    errors = np.sqrt(noise * np.diag(np.linalg.inv(features.T @ features)))
    expected = [config.quality_weight, -1.0 / config.attention_tau_h, 1.0]
    assert (np.abs(coefficients[1:] - expected) < 4 * errors[1:]).all(), (coefficients, errors)
    assert math.sqrt(noise) == pytest.approx(config.vote_noise, rel=0.1)
