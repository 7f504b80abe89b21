import json
import re

import pytest
from conftest import default_alpha, run_ahf


def report_of(project) -> tuple[str, str]:
    return (project / "reports/report.md").read_text(), (project / "reports/report.html").read_text()


@pytest.mark.slow
def test_the_report_leads_with_the_verdict_and_the_baseline_table(evaluate_project):
    result = run_ahf(evaluate_project, "report")
    assert result.returncode == 0, result.stderr
    markdown, page = report_of(evaluate_project)
    metrics = json.loads((evaluate_project / "reports/metrics.json").read_text())
    headings = re.findall(r"^## (.+)$", markdown, flags=re.M)
    assert headings[:3] == ["The data", "Does the adjusted ranking work?", "SFT: behavior cloning"]
    assert headings[-1] == "Samples: SFT | policy"
    # The verdict and the table come before the first section.
    head = markdown.split("\n## ")[0]
    assert re.search(r"^> \*\*(OK|NOTE|WARNING): ", head, flags=re.M)
    baseline = next(line for line in head.splitlines() if line.startswith("| Baseline (SFT)"))
    assert (
        f"{metrics['evaluate/sft/reward']:.3f}" in baseline and f"{metrics['evaluate/sft/perplexity']:.2f}" in baseline
    )
    finetuned = next(
        line for line in head.splitlines() if line.startswith(f"| Finetuned (rloo, alpha {default_alpha()}, seed 0)")
    )
    assert f"{metrics['evaluate/policy/gold']:.3f}" in finetuned and f"{metrics['evaluate/policy/kl']:.3f}" in finetuned

    figures = sorted(path.name for path in (evaluate_project / "reports/figures").iterdir())
    assert figures == ["overoptimisation.png", "reward_training.png", "rl_curves.png", "sft_training.png"]
    for name in figures:
        assert f"](figures/{name})" in markdown
    assert len(re.findall(r'<img [^>]*src="data:image/png;base64,', page)) == len(figures)
    assert 'src="http' not in page and "<link" not in page
    first_prompt = json.loads((evaluate_project / "reports/samples.jsonl").read_text().splitlines()[0])["prompt"]
    assert first_prompt in markdown


@pytest.mark.slow
def test_the_report_warns_of_a_blow_up_and_of_reward_hacking(evaluate_project):
    reports = evaluate_project / "reports"
    rl = json.loads((reports / "rl.json").read_text()) | {"rl/diverged": 1, "rl/diverged_step": 3}
    (reports / "rl.json").write_text(json.dumps(rl))
    metrics = json.loads((reports / "metrics.json").read_text()) | {
        "evaluate/rl_diverged": 1,
        "evaluate/rl_diverged_step": 3,
        "evaluate/reward_gain": 1.0,
        "evaluate/reward_gain_se": 0.1,
        "evaluate/gold_gain": -0.5,
        "evaluate/gold_gain_se": 0.1,
    }
    (reports / "metrics.json").write_text(json.dumps(metrics))
    result = run_ahf(evaluate_project, "report")
    assert result.returncode == 0, result.stderr
    assert "warnings: RL blew up; Reward hacking" in result.stdout
    markdown, page = report_of(evaluate_project)
    assert "> **WARNING: RL blew up.** Training diverged at step 3" in markdown
    assert "> **WARNING: Reward hacking.**" in markdown and "gold fell by 0.500" in markdown
    assert '<div class="callout warning"><strong>RL blew up.</strong>' in page
    assert "blew up at step 3: its last good policy" in markdown


@pytest.mark.slow
def test_the_report_without_evaluate_says_which_stage_to_run(evaluate_project):
    (evaluate_project / "reports/metrics.json").unlink()
    result = run_ahf(evaluate_project, "report")
    assert result.returncode == 2
    assert result.stderr.strip() == "ahf report: error: reports/metrics.json not found: run `ahf evaluate` first"
    assert not (evaluate_project / "reports/report.html").exists()
