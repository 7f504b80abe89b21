import math

import pytest

from stages.evaluation.comparison import Decoded, decoding_summary, head_to_head, paired_gain, text_summary, win_rate


def test_win_rate_counts_wins_and_half_of_the_ties():
    assert win_rate([2.0, 1.0, 0.0, 5.0], [1.0, 1.0, 3.0, 4.0]) == (1 + 0.5 + 0 + 1) / 4
    assert win_rate([1.0], [1.0]) == 0.5
    assert math.isnan(win_rate([], []))


def test_win_rate_refuses_unpaired_scores():
    with pytest.raises(ValueError, match="2 candidate scores against 1"):
        win_rate([1.0, 2.0], [1.0])


def test_paired_gain_is_the_mean_difference_with_its_standard_error():
    gain, se = paired_gain([3.0, 5.0, 4.0], [1.0, 2.0, 3.0])  # differences 2, 3, 1
    assert gain == pytest.approx(2.0)
    assert se == pytest.approx(1.0 / math.sqrt(3))  # sample SD of (2, 3, 1) is 1
    assert math.isnan(paired_gain([1.0], [0.0])[1])


def test_text_summary_measures_diversity_repetition_and_length():
    summary = text_summary(["the dog ran far the dog ran far", "a cat sat"])
    assert summary["repeated_4gram"] == pytest.approx(1 / 5)  # one repeat among 5 four-grams; "a cat sat" has none
    assert summary["mean_words"] == pytest.approx(5.5)
    assert summary["distinct_1"] == pytest.approx(7 / 11)
    assert summary["distinct_2"] == pytest.approx(6 / 9)  # (the dog) (dog ran) (ran far) repeat


def decoded(rewards, gold=None, kl=None, stories=None) -> Decoded:
    prompts = ["p1", "p1", "p2", "p2"][: len(rewards)]
    return Decoded(prompts, stories or ["one two three"] * len(rewards), rewards, gold, kl)


def test_decoding_summary_names_every_figure_under_its_prefix():
    summary = decoding_summary(decoded([1.0, 3.0], gold=[0.5, 1.5], kl=[0.2, 0.4]), "evaluate/policy", "greedy_")
    assert summary["evaluate/policy/greedy_reward"] == 2.0
    assert summary["evaluate/policy/greedy_gold"] == 1.0 and summary["evaluate/policy/greedy_gold_std"] == 0.5
    assert summary["evaluate/policy/greedy_kl"] == pytest.approx(0.3)
    assert {"evaluate/policy/greedy_distinct_2", "evaluate/policy/greedy_repeated_4gram"} <= set(summary)


def test_decoding_summary_leaves_out_what_was_not_measured():
    summary = decoding_summary(decoded([1.0]), "evaluate/sft")
    assert not any(name.endswith(("/gold", "/kl")) for name in summary)


def test_head_to_head_compares_the_same_draws():
    policy, sft = (
        decoded([2.0, 0.0, 1.0, 1.0], gold=[1.0, 1.0, 0.0, 2.0]),
        decoded([1.0, 1.0, 1.0, 0.0], gold=[0.0, 1.0, 1.0, 1.0]),
    )
    metrics = head_to_head(policy, sft, "evaluate")
    assert metrics["evaluate/win_rate_reward"] == (1 + 0 + 0.5 + 1) / 4
    assert metrics["evaluate/win_rate_gold"] == (1 + 0.5 + 0 + 1) / 4
    assert metrics["evaluate/reward_gain"] == pytest.approx(0.25)
    assert metrics["evaluate/gold_gain"] == pytest.approx(0.25)


def test_head_to_head_refuses_stories_of_different_prompts():
    policy = Decoded(["p1"], ["s"], [1.0], None, None)
    with pytest.raises(ValueError, match="different prompts"):
        head_to_head(policy, Decoded(["p2"], ["s"], [1.0], None, None), "evaluate")
