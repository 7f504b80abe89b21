"""The sweep table against exp_show.json: `dvc exp show --json` (dvc 3.67.1) captured on a
tiny pipeline after `dvc exp run --queue -S alpha=20,100 -S rl.seed=0,1`, one blow-up
(`-S alpha=5 -S rl.lr=1.0 -S rl.max_ref_nll_ratio=1.05`) and one experiment left queued;
trimmed to the params and metrics the sweep reads, executor paths removed."""

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import run_ahf

from stages.common.errors import StageError
from stages.reporting.sweep import (
    DEFAULT_COLUMNS,
    Column,
    parse_exp_show,
    render_sweep,
    runs_from_exp_show,
    sweep_panels,
    sweep_rows,
)

FIXTURE = Path(__file__).with_name("exp_show.json")


@pytest.fixture
def entries() -> list[dict]:
    return json.loads(FIXTURE.read_text())


def experiments(entries: list[dict]) -> list[dict]:
    """The fixture's experiment revs with metrics, read without the code under test."""
    return [rev for group in entries[1]["experiments"] for rev in group["revs"] if rev["data"]["metrics"]]


def table_row(table: str, first_cell: str) -> list[str]:
    line = next(line for line in table.splitlines() if line.startswith(f"| {first_cell} |"))
    return [cell.strip() for cell in line.strip("|").split("|")]


def test_runs_are_the_finished_experiments_and_their_commit(entries):
    runs = runs_from_exp_show(entries)
    finished = experiments(entries)
    assert [run.name for run in runs] == [rev["name"] for rev in finished] + ["master"]
    assert len(finished) == 5 and len(entries[1]["experiments"]) == 6  # the queued one has no metrics
    assert runs[-1].params["rl.seed"] == 0 and runs[-1].params["alpha"] == 50


def test_a_run_listed_twice_counts_once(entries):
    before = runs_from_exp_show(entries)
    entries[1]["experiments"].append(json.loads(json.dumps(entries[1]["experiments"][0])))
    assert runs_from_exp_show(entries) == before


def test_an_experiment_with_the_commits_params_replaces_the_commit(entries):
    rerun = entries[1]["experiments"][0]["revs"][0]
    rerun["data"]["params"] = json.loads(json.dumps(entries[1]["data"]["params"]))
    names = [run.name for run in runs_from_exp_show(entries)]
    assert rerun["name"] in names and "master" not in names


def test_a_row_per_alpha_with_one_value_per_seed_in_seed_order(entries):
    rows = sweep_rows(runs_from_exp_show(entries), ["alpha"], "rl.seed")
    assert [row.values for row in rows] == [(5,), (20,), (50,), (100,)]
    assert all(
        [run.params["rl.seed"] for run in row.runs] == sorted(run.params["rl.seed"] for run in row.runs) for row in rows
    )
    table = render_sweep(rows, ["alpha"], list(DEFAULT_COLUMNS), "rl.seed")
    for alpha in (20, 100):
        revs = sorted(
            (rev for rev in experiments(entries) if rev["data"]["params"]["params.yaml"]["data"]["alpha"] == alpha),
            key=lambda rev: rev["data"]["params"]["params.yaml"]["data"]["rl"]["seed"],
        )
        rewards = [rev["data"]["metrics"]["reports/metrics.json"]["data"]["evaluate/policy/reward"] for rev in revs]
        cells = table_row(table, str(alpha))
        assert cells[1] == "0/2"
        assert cells[2] == ", ".join(f"{reward:.3f}" for reward in rewards)
        assert cells[3] == f"{np.mean(rewards):.3f} ± {np.std(rewards, ddof=1):.3f}"


def test_a_blown_up_run_is_a_dash_and_the_baseline_row_is_sft(entries):
    runs = runs_from_exp_show(entries)
    table = render_sweep(sweep_rows(runs, ["alpha"], "rl.seed"), ["alpha"], list(DEFAULT_COLUMNS), "rl.seed")
    assert table_row(table, "5") == ["5", "1/1", "-", "-", "-", "-", "-", "-"]
    sft = experiments(entries)[0]["data"]["metrics"]["reports/metrics.json"]["data"]
    baseline = table_row(table, "Baseline (SFT)")
    assert baseline[2] == f"{sft['evaluate/sft/reward']:.3f}" and baseline[6] == f"{sft['evaluate/sft/gold']:.3f}"
    assert (
        table.splitlines()[0]
        == "| alpha | blew up | avg-reward | mean ± sd | perplexity | mean ± sd | gold | mean ± sd |"
    )


def test_what_a_blow_up_does_not_touch_keeps_its_value(entries):
    """SFT's figures do not depend on the policy: a blown-up run still has them."""
    runs = runs_from_exp_show(entries)
    table = render_sweep(
        sweep_rows(runs, ["alpha"], "rl.seed"), ["alpha"], [Column("evaluate/sft/reward", "sft")], "rl.seed"
    )
    blown = next(run for run in runs if run.diverged)
    assert table_row(table, "5")[2] == f"{blown.metrics['evaluate/sft/reward']:.3f}"


def test_several_params_make_a_row_per_combination(entries):
    rows = sweep_rows(runs_from_exp_show(entries), ["alpha", "rl.seed"], "rl.seed")
    assert [row.values for row in rows] == [(5, 0), (20, 0), (20, 1), (50, 0), (100, 0), (100, 1)]
    assert "| alpha | rl.seed | blew up |" in render_sweep(rows, ["alpha", "rl.seed"], list(DEFAULT_COLUMNS), "rl.seed")


def test_an_unknown_param_is_named(entries):
    with pytest.raises(StageError, match=r"no experiment has the param rl\.alfa"):
        sweep_rows(runs_from_exp_show(entries), ["rl.alfa"], "rl.seed")


def test_not_json_is_a_clear_error():
    with pytest.raises(StageError, match="gave no JSON"):
        parse_exp_show("ERROR: not a dvc repository")


def test_the_figure_puts_alpha_on_a_log_axis_and_counts_blow_ups(entries):
    rows = sweep_rows(runs_from_exp_show(entries), ["alpha"], "rl.seed")
    reward, _perplexity, _gold = sweep_panels(rows, ["alpha"], list(DEFAULT_COLUMNS))
    assert reward.log_x and reward.x_ticks == [(5.0, "5"), (20.0, "20"), (50.0, "50"), (100.0, "100")]
    assert reward.notes == [(5.0, "1 blew up")]
    runs, mean, baseline = reward.series
    assert sorted(set(runs.x)) == [20.0, 50.0, 100.0] and len(runs.y) == 5  # the blown-up run is not drawn
    assert mean.x == [20.0, 50.0, 100.0] and baseline.label == "SFT baseline"
    (categorical,) = sweep_panels(
        sweep_rows(runs_from_exp_show(entries), ["rl.algo"], "rl.seed"), ["rl.algo"], [DEFAULT_COLUMNS[0]]
    )
    assert categorical.x_ticks == [(0, "rloo")] and not categorical.log_x


@pytest.mark.slow
def test_ahf_sweep_prints_and_writes_the_table(tmp_path):
    result = run_ahf(tmp_path, "sweep", "alpha", "--from-json", str(FIXTURE))
    assert result.returncode == 0, result.stderr
    written = (tmp_path / "reports/sweep.md").read_text()
    assert written.startswith("# Sweep of alpha\n")
    assert "| 5 | 1/1 | - |" in result.stdout and "| 5 | 1/1 | - |" in written
    assert (tmp_path / "reports/sweep.png").read_bytes().startswith(b"\x89PNG")
    assert "6 runs -> reports/sweep.md" in result.stdout


@pytest.mark.slow
def test_ahf_sweep_of_an_unknown_param_is_one_line(tmp_path):
    result = run_ahf(tmp_path, "sweep", "alfa", "--from-json", str(FIXTURE))
    assert result.returncode == 2 and result.stderr.strip().startswith(
        "ahf sweep: error: no experiment has the param alfa"
    )
    assert not (tmp_path / "reports").exists()
