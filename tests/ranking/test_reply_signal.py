import numpy as np
import pytest

from stages.ranking.reply_signal import (
    UNIDENTIFIED_PRIOR_REPLIES,
    prior_replies,
    prompt_means,
    shrunk_reply_means,
    story_reply_statistics,
)


def test_statistics_count_average_and_spread_each_storys_replies():
    stats = story_reply_statistics(np.array([0, 0, 2, 0]), np.array([0.5, -0.5, 0.8, 0.3]), n_stories=3)
    assert stats.n.tolist() == [3, 0, 1]
    assert stats.mean[0] == pytest.approx(0.1) and np.isnan(stats.mean[1]) and stats.mean[2] == pytest.approx(0.8)
    assert stats.deviations == pytest.approx([0.16 + 0.36 + 0.04, 0.0, 0.0])


def test_a_prompts_mean_weighs_its_stories_by_their_replies():
    prompt = np.array([0, 0, 0, 1])
    n, mean = np.array([3.0, 1.0, 0.0, 0.0]), np.array([0.2, 1.0, np.nan, np.nan])
    anchor = prompt_means(prompt, n, mean)
    assert anchor[:3] == pytest.approx([0.4] * 3)  # (3 * 0.2 + 1.0) / 4
    assert np.isnan(anchor[3])


def test_shrinkage_pulls_a_story_towards_its_prompt_by_k_over_n_plus_k():
    prompt = np.array([0, 0, 0])
    n, mean = np.array([1.0, 3.0, 0.0]), np.array([1.0, 0.0, np.nan])
    # prompt mean (1 + 0) / 4 = 0.25; k = 1: weights 1/2 and 3/4
    shrunk = shrunk_reply_means(prompt, n, mean, k=1.0)
    assert shrunk[:2] == pytest.approx([0.25 + 0.5 * 0.75, 0.25 - 0.75 * 0.25]) and np.isnan(shrunk[2])
    assert shrunk_reply_means(prompt, n, mean, k=float("inf"))[:2] == pytest.approx([0.25, 0.25])


def test_k_is_within_variance_over_between_variance():
    # Two prompts of two stories, two replies each: within each story the replies are m +- 0.1
    # (sigma^2 = 0.02 pooled: 2 * 0.01 per story over 1 degree of freedom), and the story
    # means are 0.5 apart in each prompt.
    prompt = np.repeat([0, 0, 1, 1], 2)
    story = np.repeat([0, 1, 2, 3], 2)
    means = np.repeat([0.25, -0.25, 0.75, 0.25], 2)
    sentiment = means + np.tile([0.1, -0.1], 4)
    stats = story_reply_statistics(story, sentiment, 4)
    k = prior_replies(prompt[::2], stats.n, stats.mean, stats.deviations, np.ones(4, dtype=bool))
    # (m_i - prompt mean)^2 = 0.0625, times m / (m - 1) = 2: 0.125; less sigma^2 / n = 0.01: tau^2 = 0.115
    assert k == pytest.approx(0.02 / 0.115)


def test_k_is_infinite_when_stories_differ_no_more_than_noise_and_one_when_unidentified():
    prompt = np.array([0, 0])
    sentiment = np.array([1.0, -1.0, 1.0, -1.0])
    stats = story_reply_statistics(np.array([0, 0, 1, 1]), sentiment, 2)
    assert prior_replies(prompt, stats.n, stats.mean, stats.deviations, np.ones(2, dtype=bool)) == float("inf")
    single = story_reply_statistics(np.array([0, 1]), np.array([0.5, -0.5]), 2)
    k = prior_replies(prompt, single.n, single.mean, single.deviations, np.ones(2, dtype=bool))
    assert k == UNIDENTIFIED_PRIOR_REPLIES


def test_k_reads_only_the_stories_it_is_fitted_on():
    prompt = np.array([0, 0, 1, 1])
    story = np.repeat([0, 1, 2, 3], 2)
    sentiment = np.array([0.3, 0.1, -0.3, -0.1, 0.9, -0.9, 0.0, 0.2])
    stats = story_reply_statistics(story, sentiment, 4)
    fit = np.array([True, True, False, False])
    changed = story_reply_statistics(story, sentiment * np.array([1, 1, 1, 1, 5, 5, 5, 5]), 4)
    assert prior_replies(prompt, stats.n, stats.mean, stats.deviations, fit) == prior_replies(
        prompt, changed.n, changed.mean, changed.deviations, fit
    )
