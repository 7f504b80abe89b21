import numpy as np
import pandas as pd
import pytest

from stages.common.config import SimulateConfig
from stages.common.contracts import COMMENT_COLUMNS, SUBMISSION_COLUMNS
from stages.simulator.gold import gold
from stages.simulator.simulated_rows import AUTHOR_SALT
from stages.simulator.simulator import expected_votes, simulate_subreddit
from stages.sources.privacy import author_hash

SMALL = SimulateConfig(n_prompts=120, n_writers=50)


def test_same_config_gives_identical_frames_and_another_seed_does_not():
    first = simulate_subreddit(SMALL, "WritingPrompts")
    second = simulate_subreddit(SMALL, "WritingPrompts")
    other = simulate_subreddit(SMALL.model_copy(update={"seed": 1}), "WritingPrompts")
    for a, b in zip(first, second, strict=True):
        pd.testing.assert_frame_equal(a, b)
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
