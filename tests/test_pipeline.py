"""End to end through the real dvc, in a temporary git repository holding a copy of the project."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import (
    FAST_REDDIT,
    PROJECT,
    QUICK_EVALUATE,
    QUICK_REWARD,
    QUICK_RL,
    QUICK_SFT,
    SMALL_SIMULATION,
    TINY_MODEL,
    default_alpha,
    praw_env,
    project_params,
    serve,
)

COPIED = ("dvc.yaml", "params.yaml", ".dvc/config", ".dvcignore", ".gitignore", "stages")


def run(folder: Path, *command: str, env: dict | None = None) -> subprocess.CompletedProcess:
    env = (env or os.environ) | {
        # dvc runs each stage's `ahf ...` command through the shell: find this venv's ahf.
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "DVC_NO_ANALYTICS": "1",
    }
    result = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture
def pipeline_repo(tmp_path: Path) -> Path:
    for name in COPIED:
        source, target = PROJECT / name, tmp_path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, target)
    small = project_params(
        simulate=SMALL_SIMULATION,
        model=TINY_MODEL,
        sft=QUICK_SFT,
        reward=QUICK_REWARD,
        rl=QUICK_RL,
        evaluate=QUICK_EVALUATE,
    )
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(small))
    run(tmp_path, "git", "init", "-q")
    run(tmp_path, "git", "add", "-A")
    run(tmp_path, "git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "project")
    return tmp_path


@pytest.mark.slow
def test_dvc_repro_rank_runs_then_reports_nothing_changed(pipeline_repo):
    first = run(pipeline_repo, "dvc", "repro", "rank")
    assert "Running stage 'scrape'" in first.stdout and "Running stage 'rank'" in first.stdout
    assert (pipeline_repo / "data/processed/stories.parquet").exists()
    assert (pipeline_repo / "dvc.lock").exists()

    second = run(pipeline_repo, "dvc", "repro", "rank")
    assert "Running stage" not in second.stdout
    assert "up to date" in second.stdout

    metrics = run(pipeline_repo, "dvc", "metrics", "show").stdout
    assert "rank/spearman_gold_model" in metrics and "scrape/submissions" in metrics


def stages_run(output: str) -> list[str]:
    return [line.split("'")[1] for line in output.splitlines() if line.startswith("Running stage '")]


def set_param(repo: Path, section: str | None, key: str, value: object) -> None:
    """params[section][key] = value; a top-level key (alpha) with section None."""
    params = yaml.safe_load((repo / "params.yaml").read_text())
    (params if section is None else params[section])[key] = value
    (repo / "params.yaml").write_text(yaml.safe_dump(params))


AFTER_RL = ["rl", "evaluate", "report"]


@pytest.mark.slow
def test_the_whole_pipeline_the_experiment_loop_and_only_what_a_param_change_affects(pipeline_repo):
    first = run(pipeline_repo, "dvc", "repro")
    assert stages_run(first.stdout) == ["scrape", "rank", "tokenizer", "sft", "reward", *AFTER_RL]
    for output in (
        "reports/metrics.json",
        "reports/samples.jsonl",
        "reports/report.md",
        "reports/report.html",
        "reports/figures/rl_curves.png",
    ):
        assert (pipeline_repo / output).exists(), output
    again = run(pipeline_repo, "dvc", "repro").stdout
    assert stages_run(again) == [] and "up to date" in again
    run(pipeline_repo, "git", "add", "-A")
    run(pipeline_repo, "git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "baseline run")

    # The experiment loop of the README: one experiment, its diff, then a queued sweep.
    assert stages_run(run(pipeline_repo, "dvc", "exp", "run", "-S", "alpha=20").stdout) == AFTER_RL
    diff = json.loads(run(pipeline_repo, "dvc", "metrics", "diff", "--json").stdout)
    assert set(diff) == {"reports/rl.json", "reports/metrics.json"}
    assert "evaluate/policy/reward" in diff["reports/metrics.json"] and "rl/policy/reward" in diff["reports/rl.json"]
    queued = run(pipeline_repo, "dvc", "exp", "run", "--queue", "-S", "alpha=100", "-S", "rl.seed=0,1").stdout
    assert queued.count("Queued experiment") == 2
    assert stages_run(run(pipeline_repo, "dvc", "exp", "run", "--run-all").stdout) == AFTER_RL * 2
    sweep = run(pipeline_repo, sys.executable, "-m", "stages", "sweep", "alpha").stdout
    rows = {line.split("|")[1].strip(): line for line in sweep.splitlines() if line.startswith("| ")}
    assert {"Baseline (SFT)", "20", default_alpha(), "100"} <= set(rows)  # the experiment, the commit, the queued pair
    assert rows["100"].split("|")[2].strip() == "0/2" and rows["100"].split("|")[3].count(",") == 1
    assert rows["100"] in (pipeline_repo / "reports/sweep.md").read_text()

    # Pairs change, stories do not: the tokenizer and SFT read only stories.
    set_param(pipeline_repo, "rank", "pair_margin", 0.8)
    assert stages_run(run(pipeline_repo, "dvc", "repro").stdout) == ["rank", "reward", *AFTER_RL]
    # Which stage reads which param, without training again: --dry lists the stages whose
    # own deps changed (what follows them reruns on their new outputs, as above).
    set_param(pipeline_repo, "reward", "lr", 1e-3)
    assert stages_run(run(pipeline_repo, "dvc", "repro", "--dry").stdout) == ["reward"]
    set_param(pipeline_repo, "sft", "lr", 1e-3)
    assert stages_run(run(pipeline_repo, "dvc", "repro", "--dry").stdout) == ["sft", "reward"]

    plots = json.loads(run(pipeline_repo, "dvc", "plots", "show", "--json").stdout)["data"]
    assert "reports/sft_live/plots/metrics/sft/val_perplexity.tsv" in plots
    assert "reports/reward_live/plots/metrics/reward/val_pairwise_accuracy.tsv" in plots
    assert plots["reports/figures/overoptimisation.png"][0]["type"] == "image"
    gold_vs_kl = plots["rl_gold_vs_kl"][0]["content"]["data"]["values"]
    assert [row["step"] for row in gold_vs_kl] == ["0", "2", "4"] and {"kl", "gold"} <= set(gold_vs_kl[0])


@pytest.mark.slow
def test_a_rank_param_reruns_rank_but_not_scrape(pipeline_repo):
    run(pipeline_repo, "dvc", "repro", "rank")
    params = yaml.safe_load((pipeline_repo / "params.yaml").read_text())
    params["rank"]["w_time"] = 0.25
    (pipeline_repo / "params.yaml").write_text(yaml.safe_dump(params))
    rerun = run(pipeline_repo, "dvc", "repro", "rank")
    assert "Running stage 'rank'" in rerun.stdout
    assert "Running stage 'scrape'" not in rerun.stdout


@pytest.mark.slow
def test_dvc_repro_scrapes_the_local_reddit_keeps_data_raw_and_starts_afresh_on_request(
    pipeline_repo, simulated_frames
):
    params = yaml.safe_load((pipeline_repo / "params.yaml").read_text())
    params["data"] |= {"source": "reddit", "reddit": params["data"]["reddit"] | FAST_REDDIT | {"praw_site": "fake"}}
    (pipeline_repo / "params.yaml").write_text(yaml.safe_dump(params))
    secret = "canary-secret-for-dvc-4c1b"

    def scraped_metrics() -> dict:
        return json.loads((pipeline_repo / "reports/scrape.json").read_text())

    with serve(simulated_frames, client_secret=secret) as server:
        env = praw_env(pipeline_repo, server)
        first = run(pipeline_repo, "dvc", "repro", "rank", env=env)
        assert "Running stage 'scrape'" in first.stdout and "Running stage 'rank'" in first.stdout
        assert scraped_metrics()["scrape/new_submissions"] == 130
        assert (pipeline_repo / "data/processed/stories.parquet").exists()
        assert secret not in (pipeline_repo / "dvc.lock").read_text() + first.stdout + first.stderr

        again = run(pipeline_repo, "dvc", "repro", "--force", "scrape", env=env)  # persist: merges
        assert "Running stage 'scrape'" in again.stdout
        assert scraped_metrics()["scrape/new_submissions"] == 0 and scraped_metrics()["scrape/submissions"] == 130

        shutil.rmtree(pipeline_repo / "data/raw")
        fresh = run(pipeline_repo, "dvc", "repro", "scrape", env=env)
        assert "Running stage 'scrape'" in fresh.stdout
        assert scraped_metrics()["scrape/new_submissions"] == 130
