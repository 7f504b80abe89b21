import json
import shutil

import pandas as pd
import pytest
from conftest import QUICK_EVALUATE, model_params, run_ahf


def metrics_of(project) -> dict:
    return json.loads((project / "reports/metrics.json").read_text())


def samples_of(project) -> list[dict]:
    return [json.loads(line) for line in (project / "reports/samples.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_evaluate_compares_the_policy_with_sft_on_the_test_prompts(evaluated_project):
    metrics = metrics_of(evaluated_project)
    stories = pd.read_parquet(evaluated_project / "data/processed/stories.parquet")
    test = stories[stories["split"] == "test"]
    assert metrics["evaluate/prompts"] == QUICK_EVALUATE["prompts"]
    assert metrics["evaluate/reference_stories"] == len(test)
    assert metrics["evaluate/rl_diverged"] == 0
    for model in ("sft", "policy"):
        for name in (
            "reward",
            "gold",
            "perplexity",
            "distinct_1",
            "distinct_2",
            "repeated_4gram",
            "mean_words",
            "greedy_reward",
            "greedy_gold",
        ):
            assert isinstance(metrics[f"evaluate/{model}/{name}"], float), (model, name)
        assert metrics[f"evaluate/{model}/perplexity"] > 1.0
    assert metrics["evaluate/policy/kl"] >= 0.0 and "evaluate/sft/kl" not in metrics
    for name in ("win_rate_reward", "win_rate_gold", "greedy_win_rate_reward", "greedy_win_rate_gold"):
        assert 0.0 <= metrics[f"evaluate/{name}"] <= 1.0

    rows = samples_of(evaluated_project)
    prompts = sorted(test["prompt"].unique())[: QUICK_EVALUATE["prompts"]]
    sampled = [row for row in rows if row["decoding"] == "sample"]
    assert [row["prompt"] for row in sampled] == [
        p for p in prompts for _ in range(QUICK_EVALUATE["samples_per_prompt"])
    ]
    assert [row["prompt"] for row in rows if row["decoding"] == "greedy"] == prompts
    assert metrics["evaluate/policy/reward"] == pytest.approx(
        sum(row["policy_reward"] for row in sampled) / len(sampled)
    )
    assert metrics["evaluate/sft/gold"] == pytest.approx(sum(row["sft_gold"] for row in sampled) / len(sampled))
    assert all(
        {"sft_story", "policy_story", "sft_reward", "policy_reward", "sft_gold", "policy_gold"} <= set(row)
        for row in rows
    )


@pytest.mark.slow
def test_a_policy_equal_to_sft_ties_it_on_every_draw(evaluate_project):
    """Identical decoding: the same seed for both models, so the same weights write the same stories."""
    shutil.rmtree(evaluate_project / "models/policy")
    shutil.copytree(evaluate_project / "models/sft", evaluate_project / "models/policy")
    result = run_ahf(evaluate_project, "evaluate")
    assert result.returncode == 0, result.stderr
    assert all(row["sft_story"] == row["policy_story"] for row in samples_of(evaluate_project))
    metrics = metrics_of(evaluate_project)
    assert metrics["evaluate/win_rate_reward"] == 0.5 and metrics["evaluate/win_rate_gold"] == 0.5
    assert metrics["evaluate/reward_gain"] == 0.0 and metrics["evaluate/policy/kl"] == pytest.approx(0.0, abs=1e-5)
    assert metrics["evaluate/policy/perplexity"] == pytest.approx(metrics["evaluate/sft/perplexity"])


@pytest.mark.slow
def test_the_yardstick_does_not_move_with_rl_sampling_params(evaluated_project, evaluate_project):
    model_params(evaluate_project, rl={"temperature": 0.5, "top_k": 5, "max_new_tokens": 4})
    result = run_ahf(evaluate_project, "evaluate")
    assert result.returncode == 0, result.stderr
    assert samples_of(evaluate_project) == samples_of(evaluated_project)


@pytest.mark.slow
def test_a_diverged_rl_run_is_evaluated_and_said_so(evaluate_project):
    rl_metrics = json.loads((evaluate_project / "reports/rl.json").read_text()) | {
        "rl/diverged": 1,
        "rl/diverged_step": 3,
    }
    (evaluate_project / "reports/rl.json").write_text(json.dumps(rl_metrics))
    result = run_ahf(evaluate_project, "evaluate")
    assert result.returncode == 0, result.stderr
    assert "rl diverged at step 3: this is its last good policy" in result.stdout
    metrics = metrics_of(evaluate_project)
    assert metrics["evaluate/rl_diverged"] == 1 and metrics["evaluate/rl_diverged_step"] == 3
    assert isinstance(metrics["evaluate/policy/reward"], float)


@pytest.mark.slow
def test_evaluate_without_a_policy_says_which_stage_to_run_and_keeps_its_outputs(evaluate_project):
    before = (evaluate_project / "reports/metrics.json").read_text()
    shutil.rmtree(evaluate_project / "models/policy")
    result = run_ahf(evaluate_project, "evaluate")
    assert (
        result.returncode == 2
        and result.stderr.strip() == "ahf evaluate: error: models/policy not found: run `ahf rl` first"
    )
    assert (evaluate_project / "reports/metrics.json").read_text() == before


@pytest.mark.slow
def test_a_bad_evaluate_param_is_one_line_naming_the_key(evaluate_project):
    model_params(evaluate_project, evaluate={"samples_per_prompt": 0})
    result = run_ahf(evaluate_project, "evaluate")
    assert result.returncode == 2 and "evaluate.samples_per_prompt" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
