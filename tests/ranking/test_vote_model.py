import numpy as np
import pytest

from stages.ranking.vote_model import delay_knots, delay_quality, log_votes, within_centred


def test_within_centred_takes_each_groups_mean_away_column_by_column():
    group = np.array([0, 0, 1, 1, 1])
    values = np.array([[1.0, 10.0], [3.0, 20.0], [2.0, 0.0], [4.0, 0.0], [6.0, 3.0]])
    np.testing.assert_allclose(within_centred(values, group), [[-1, -5], [1, 5], [-2, -1], [0, -1], [2, 2]])
    np.testing.assert_allclose(within_centred(values[:, 0], group), [-1, 1, -2, 0, 2])


def test_log_votes_counts_the_votes_beyond_the_authors_own_and_a_downvoted_story_as_none():
    np.testing.assert_allclose(log_votes(np.array([-3, 0, 1, 2, np.e + 0.5])), np.log([0.5, 0.5, 0.5, 1.5, np.e]))


def test_delay_knots_merge_ties():
    assert delay_knots(np.array([1.0] * 5 + [2.0] * 5)).tolist() == [1.0, 2.0]
    assert len(delay_knots(np.arange(100.0))) == 8


def planted_world(n_prompts: int, seed: int = 0):
    """Votes as the simulator's model has them: exp(prompt effect + curve(delay) + quality)."""
    rng = np.random.default_rng(seed)
    group = np.repeat(np.arange(n_prompts), 8)
    delay_h = rng.lognormal(np.log(2.0), 0.5, size=len(group))
    quality = rng.normal(0.0, 0.5, size=len(group))
    prompt_effect = rng.normal(8.0, 1.0, size=n_prompts)[group]  # votes stay many: never below one
    curve = -2.0 * np.log1p(delay_h**2)  # not a line: the spline must bend
    return group, delay_h * 3600.0, quality, np.exp(prompt_effect + curve + quality) + 0.5


def test_the_residual_recovers_the_planted_quality_within_its_prompt():
    group, delay_s, quality, score = planted_world(400)
    fit = group < 300  # the "train" prompts; the rest only get the curve applied
    residual = delay_quality(score, delay_s, group, fit)
    expected = within_centred(quality, group)
    # The curve is estimated from 2,400 stories whose quality (SD 0.5) is noise to it: it
    # errs by under 0.1 for nine stories in ten, where the curve itself spans about 8.
    assert np.quantile(np.abs(residual - expected), 0.9) < 0.1
    assert np.corrcoef(residual[~fit], expected[~fit])[0, 1] > 0.98
    # Without the curve, late stories would look bad: the raw residual is far worse.
    assert np.corrcoef(within_centred(log_votes(score), group), expected)[0, 1] < 0.8


def test_the_fit_reads_only_the_stories_it_is_given():
    group, delay_s, _, score = planted_world(200, seed=1)
    fit = group < 150
    changed = score.copy()
    changed[~fit] *= np.exp(np.random.default_rng(2).normal(0, 3, size=(~fit).sum()))  # held-out votes
    before, after = delay_quality(score, delay_s, group, fit), delay_quality(changed, delay_s, group, fit)
    np.testing.assert_allclose(before[fit], after[fit])  # the curve did not move


def test_without_two_distinct_delays_there_is_no_curve_to_take_out():
    group = np.array([0, 0, 1, 1])
    score = np.array([9.0, 0.0, 3.0, 3.0])
    residual = delay_quality(score, np.full(4, 60.0), group, np.ones(4, dtype=bool))
    assert residual == pytest.approx([np.log(17) / 2, -np.log(17) / 2, 0.0, 0.0])  # log(8.5) - log(0.5)
