import numpy as np
import pandas as pd
import pytest

from stages.common.config import RankConfig
from stages.ranking.feedback_signals import combined_signal, feedback_signals, standardised, within_zscore
from stages.ranking.reply_signal import story_reply_statistics


def test_standardised_uses_only_the_fitted_finite_values():
    values = np.array([1.0, 3.0, 100.0, np.nan])
    out = standardised(values, np.array([True, True, False, True]))
    assert out[:3] == pytest.approx([-1.0, 1.0, 98.0]) and np.isnan(out[3])


def test_within_zscore_ignores_missing_values_and_zeroes_a_flat_group():
    group = np.array([0, 0, 0, 1, 1, 2])
    values = np.array([1.0, 3.0, np.nan, 5.0, 5.0, 7.0])
    out = within_zscore(values, group)
    assert out[[0, 1, 3, 4, 5]] == pytest.approx([-1.0, 1.0, 0.0, 0.0, 0.0]) and np.isnan(out[2])


def test_both_weighs_the_two_z_scores_and_falls_back_to_votes_alone():
    group = np.array([0, 0, 0])
    votes = np.array([1.0, 2.0, 3.0])  # z: -1.2247, 0, 1.2247
    replies = np.array([0.5, -0.5, np.nan])  # z among the two with replies: 1, -1
    z = np.sqrt(1.5)
    assert combined_signal(votes, replies, group, 0.25) == pytest.approx([0.75 * -z + 0.25, -0.25, z])


def test_every_signal_comes_out_and_adjusted_follows_the_params():
    stories = pd.DataFrame(
        {
            "score": [40, 10, 20, 5, 9, 3],
            "delay_s": [600.0, 7200.0, 3600.0, 900.0, 1800.0, 5400.0],
            "z_rank": [-1.0, 1.0, 0.0, -1.0, 0.0, 1.0],
            "z_delay": [-1.0, 1.0, 0.0, -1.0, 0.0, 1.0],
        }
    )
    group = np.array([0, 0, 0, 1, 1, 1])
    replies = story_reply_statistics(np.array([0, 0, 2, 3]), np.array([0.9, 0.7, -0.5, 0.1]), 6)
    config = RankConfig(w_rank=1.0, w_time=0.5, reply_weight=0.5)
    zscore = np.array([0.5, -0.5, 0.0, 0.5, 0.0, -0.5])
    signals, k = feedback_signals(stories, zscore, group, np.ones(6, dtype=bool), replies, config)
    assert set(signals) == {"zscore", "model", "replies", "both"}
    assert signals["zscore"] is zscore
    assert np.isnan(signals["replies"][[1, 4, 5]]).all() and np.isfinite(signals["both"]).all()
    for name in ("model", "replies", "both"):  # standardised over the fitted stories
        finite = signals[name][np.isfinite(signals[name])]
        assert finite.mean() == pytest.approx(0.0, abs=1e-12) and finite.std() == pytest.approx(1.0)
    assert signals["replies"][0] > signals["replies"][2]  # praised over panned, in one prompt
    assert k > 0
