import json
import re

import pandas as pd
import pytest
import torch
from conftest import default_alpha, model_params, run_ahf
from transformers import AutoModelForCausalLM

from stages.common.config import check_stage_params
from stages.common.errors import StageError


@pytest.mark.slow
def test_the_rl_stage_writes_a_policy_metrics_samples_and_curves(rl_project):
    result = run_ahf(rl_project, "rl")
    assert result.returncode == 0, result.stderr
    assert f"rl (rloo, alpha {default_alpha()}): 4 steps" in result.stdout
    metrics = json.loads((rl_project / "reports/rl.json").read_text())
    assert metrics["rl/diverged"] == 0 and metrics["rl/diverged_step"] is None and metrics["rl/steps"] == 4
    for side in ("sft", "policy"):
        for name in ("reward", "gold", "kl", "distinct_2", "perplexity"):
            assert isinstance(metrics[f"rl/{side}/{name}"], float), (side, name)
    assert metrics["rl/sft/kl"] == pytest.approx(0.0, abs=1e-6)  # SFT against itself
    for phase in ("generate", "score", "reference", "update"):
        assert metrics[f"rl/seconds_{phase}"] > 0

    policy = AutoModelForCausalLM.from_pretrained(rl_project / "models/policy")
    sft = AutoModelForCausalLM.from_pretrained(rl_project / "models/sft")
    assert any(
        not torch.equal(a, b) for a, b in zip(policy.state_dict().values(), sft.state_dict().values(), strict=True)
    )

    samples = [json.loads(line) for line in (rl_project / "reports/rl_samples.jsonl").read_text().splitlines()]
    assert sorted({row["step"] for row in samples}) == [0, 2, 4]
    assert all({"prompt", "story", "reward", "gold"} <= set(row) for row in samples)
    curves = rl_project / "reports/rl_live/plots/metrics/rl"
    for name in ("reward_mean", "kl", "ref_nll", "entropy", "grad_norm", "generate_share", "alpha", "kl_coef"):
        assert len(pd.read_csv(curves / f"{name}.tsv", sep="\t")) == 4, name
    gold_curve = pd.read_csv(curves / "eval/gold.tsv", sep="\t")
    assert gold_curve["step"].tolist() == [0, 2, 4]


@pytest.mark.slow
def test_a_blow_up_is_an_outcome_keeping_the_last_good_policy(rl_project):
    # An lr this large wrecks the policy in one step; the next step's check catches it.
    model_params(rl_project, rl={"lr": 1.0, "max_ref_nll_ratio": 1.05, "steps": 6})
    result = run_ahf(rl_project, "rl")
    assert result.returncode == 0, result.stderr
    assert "diverged at step 2" in result.stdout
    metrics = json.loads((rl_project / "reports/rl.json").read_text())
    assert metrics["rl/diverged"] == 1 and metrics["rl/diverged_step"] == 2 and metrics["rl/steps"] == 1
    # The weights that passed the last check are SFT's own: step 1 checked them, then broke them.
    policy = AutoModelForCausalLM.from_pretrained(rl_project / "models/policy")
    sft = AutoModelForCausalLM.from_pretrained(rl_project / "models/sft")
    assert all(torch.equal(a, b) for a, b in zip(policy.state_dict().values(), sft.state_dict().values(), strict=True))


BAD_RL_PARAMS = [
    ({"rl": {"algo": "ppo2"}}, "rl.algo"),
    ({"rl": {"kl_estimator": "k7"}}, "rl.kl_estimator"),
    ({"rl": {"samples_per_prompt": 1}}, "rl: Value error, rloo compares"),
    ({"alpha": "high"}, "alpha"),
]


def params_with(folder, overrides: dict):
    if "alpha" in overrides:
        path = model_params(folder)
        path.write_text(re.sub(r"^alpha: .*$", f"alpha: {overrides['alpha']}", path.read_text(), flags=re.M))
        return path
    return model_params(folder, **overrides)


@pytest.mark.parametrize(("overrides", "key"), BAD_RL_PARAMS)
def test_a_bad_rl_param_is_refused_naming_the_key(tmp_path, overrides, key):
    """In-process: the check `ahf rl` makes before it loads anything."""
    with pytest.raises(StageError, match=re.escape(key)):
        check_stage_params("rl", params_with(tmp_path, overrides))


@pytest.mark.slow
def test_a_bad_rl_param_is_one_line_from_the_cli_and_writes_nothing(rl_project):
    overrides, key = BAD_RL_PARAMS[0]
    params_with(rl_project, overrides)
    result = run_ahf(rl_project, "rl")
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and key in result.stderr, result.stderr
    assert not (rl_project / "models/policy").exists()


@pytest.mark.slow
def test_rl_without_the_reward_model_says_which_stage_to_run(rl_project):
    import shutil

    shutil.rmtree(rl_project / "models/reward")
    result = run_ahf(rl_project, "rl")
    assert result.returncode == 2 and "run `ahf reward` first" in result.stderr
