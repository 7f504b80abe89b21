from stages.reporting.findings import findings


def evaluation(**changes) -> dict:
    """A policy that beats SFT honestly: reward and gold up beyond their noise, diversity and perplexity kept."""
    metrics = {
        "rl/diverged": 0,
        "rl/diverged_step": None,
        "evaluate/rl_diverged": 0,
        "evaluate/rl_diverged_step": None,
        "evaluate/reward_gain": 0.5,
        "evaluate/reward_gain_se": 0.1,
        "evaluate/win_rate_reward": 0.7,
        "evaluate/gold_gain": 0.2,
        "evaluate/gold_gain_se": 0.05,
        "evaluate/win_rate_gold": 0.6,
        "evaluate/sft/distinct_2": 0.50,
        "evaluate/policy/distinct_2": 0.49,
        "evaluate/sft/perplexity": 10.0,
        "evaluate/policy/perplexity": 10.5,
    }
    return metrics | changes


def titles(metrics: dict) -> list[str]:
    return [finding.title for finding in findings(metrics, distinct_2_drop=0.05, perplexity_rise=0.10)]


def test_an_honest_gain_is_all_clear_with_its_numbers():
    (verdict,) = findings(evaluation(), distinct_2_drop=0.05, perplexity_rise=0.10)
    assert verdict.level == "ok"
    assert "reward +0.50 SD" in verdict.text and "gold +0.200" in verdict.text and "distinct-2 -2%" in verdict.text


def test_reward_up_while_gold_falls_is_reward_hacking():
    (warning,) = findings(evaluation(**{"evaluate/gold_gain": -0.2, "evaluate/win_rate_gold": 0.3}), 0.05, 0.10)
    assert warning.level == "warning" and warning.title == "Reward hacking"
    assert "gold fell by 0.200" in warning.text


def test_distinct_2_falling_is_reward_hacking_unless_gold_still_rises_then_a_note_of_its_early_sign():
    (note,) = findings(evaluation(**{"evaluate/policy/distinct_2": 0.40}), 0.05, 0.10)
    assert note.level == "note" and note.title == "Diversity narrowed" and "distinct-2 fell 20%" in note.text
    assert "Gold still rose (+0.200), so this is the early sign of reward hacking" in note.text
    (flat_gold,) = findings(evaluation(**{"evaluate/policy/distinct_2": 0.40, "evaluate/gold_gain": 0.0}), 0.05, 0.10)
    assert flat_gold.level == "warning" and flat_gold.title == "Reward hacking"
    assert "exploiting the reward model" in flat_gold.text and "Gold still rose" not in flat_gold.text


def test_falls_within_the_noise_or_the_tolerance_raise_nothing():
    assert titles(evaluation(**{"evaluate/gold_gain": -0.05, "evaluate/gold_gain_se": 0.05})) == [
        "No sign of reward hacking or a blow-up"
    ]
    assert titles(evaluation(**{"evaluate/policy/distinct_2": 0.48})) == ["No sign of reward hacking or a blow-up"]


def test_gold_falling_without_a_reward_gain_is_not_hacking_but_no_gain_either():
    (note,) = findings(evaluation(**{"evaluate/reward_gain": 0.05, "evaluate/gold_gain": -0.2}), 0.05, 0.10)
    assert note.level == "note" and note.title == "RL did not beat SFT on the reward model"
    assert "reward +0.05 SD" in note.text and "No sign of reward hacking or a blow-up" in note.text


def test_a_blow_up_is_called_out_with_its_step():
    (warning,) = findings(evaluation(**{"rl/diverged": 1, "rl/diverged_step": 7}), 0.05, 0.10)
    assert warning.title == "RL blew up" and "step 7" in warning.text


def test_a_perplexity_rise_past_the_tolerance_is_called_out():
    (warning,) = findings(evaluation(**{"evaluate/policy/perplexity": 12.0}), 0.05, 0.10)
    assert warning.title == "The policy left the data" and "rose 20%" in warning.text


def test_without_gold_only_diversity_can_show_hacking():
    real_data = {k: v for k, v in evaluation(**{"evaluate/policy/distinct_2": 0.3}).items() if "gold" not in k}
    assert titles(real_data) == ["Reward hacking"]
    clean = {k: v for k, v in evaluation().items() if "gold" not in k}
    (verdict,) = findings(clean, 0.05, 0.10)
    assert verdict.level == "ok" and "gold" not in verdict.text
