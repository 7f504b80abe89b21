import json

import numpy as np
import pandas as pd
import pytest
from conftest import run_ahf, write_params

from stages.common.contracts import COMMENT_COLUMNS, PAIR_COLUMNS, STORY_COLUMNS, SUBMISSION_COLUMNS
from stages.rank import gold_metrics, gold_of_file, texts_file
from stages.ranking.adjusted_ranking import pair_positions
from stages.simulator.gold_batch import batch_gold


@pytest.fixture
def ranked(small_project):
    assert run_ahf(small_project, "scrape").returncode == 0
    result = run_ahf(small_project, "rank")
    assert result.returncode == 0, result.stderr
    return small_project


@pytest.mark.slow
def test_rank_writes_the_processed_contract(ranked):
    stories = pd.read_parquet(ranked / "data/processed/stories.parquet")
    pairs = pd.read_parquet(ranked / "data/processed/pairs.parquet")
    assert set(STORY_COLUMNS) <= set(stories.columns)
    assert set(PAIR_COLUMNS) <= set(pairs.columns)
    assert set(stories["tier"]) == {"good", "ok", "bad"}
    assert (stories["n_stories"] >= 2).all()
    assert (pairs["margin"] > 0.5).all()


@pytest.mark.slow
def test_no_prompt_is_in_two_splits(ranked):
    stories = pd.read_parquet(ranked / "data/processed/stories.parquet")
    pairs = pd.read_parquet(ranked / "data/processed/pairs.parquet")
    assert (stories.groupby("submission_id")["split"].nunique() == 1).all()
    assert set(stories["split"]) == {"train", "val", "test"}
    split_of = stories.drop_duplicates("submission_id").set_index("submission_id")["split"]
    assert (pairs["split"] == pairs["submission_id"].map(split_of)).all()


@pytest.mark.slow
def test_metrics_count_every_comment_and_adjusted_beats_raw_score(ranked):
    metrics = json.loads((ranked / "reports/rank.json").read_text())
    dropped = sum(value for key, value in metrics.items() if key.startswith("rank/dropped_"))
    assert metrics["rank/stories"] + dropped == metrics["rank/comments_in"]
    assert metrics["rank/spearman_gold_adjusted"] > metrics["rank/spearman_gold_score"]
    assert metrics["rank/pair_gold_agreement"] > 0.7
    shares = [metrics[f"rank/tier_share_{tier}"] for tier in ("good", "ok", "bad")]
    assert sum(shares) == pytest.approx(1.0)


@pytest.mark.slow
def test_gold_metrics_scored_by_the_workers_are_those_of_the_stories_written(ranked):
    """The workers score gold in shares, from a file of the selected stories: each gold
    must still meet its own story."""
    stories = pd.read_parquet(ranked / "data/processed/stories.parquet")
    metrics = json.loads((ranked / "reports/rank.json").read_text())
    chosen, rejected = pair_positions(stories, "adjusted", 0.5, 2.0)
    expected = gold_metrics(stories, batch_gold(stories["prompt"], stories["story"]), chosen, rejected)
    assert {key: metrics[key] for key in expected} == expected


def test_gold_of_a_texts_file_in_shares_equals_batch_gold(tmp_path):
    stories = pd.DataFrame(
        {
            "prompt": ["[WP] a dragon", "[WP] the moon", "[WP] a ghost"] * 5,
            "story": [f"The dragon slept {n} times. I saw the moon." * (n % 4 + 1) for n in range(15)],
        }
    )
    path = texts_file(stories, tmp_path)
    in_shares = np.concatenate([gold_of_file(path, 0, 7), gold_of_file(path, 7, 15)])
    np.testing.assert_array_equal(in_shares, batch_gold(stories["prompt"], stories["story"]))


@pytest.mark.slow
def test_shp_rule_pairs_a_later_story_with_the_earlier_one_it_outscored(small_project):
    write_params(small_project, simulate={"n_prompts": 80, "n_writers": 40}, rank={"pair_rule": "shp"})
    assert run_ahf(small_project, "scrape").returncode == 0
    assert run_ahf(small_project, "rank").returncode == 0
    stories = pd.read_parquet(small_project / "data/processed/stories.parquet").set_index("comment_id")
    pairs = pd.read_parquet(small_project / "data/processed/pairs.parquet")
    assert len(pairs) > 0
    chosen, rejected = stories.loc[pairs["chosen_id"]], stories.loc[pairs["rejected_id"]]
    assert (chosen["created_utc"].to_numpy() > rejected["created_utc"].to_numpy()).all()
    assert (chosen["score"].to_numpy() >= 2 * rejected["score"].to_numpy()).all()


@pytest.mark.slow
def test_rank_without_raw_data_is_one_clear_line(small_project):
    result = run_ahf(small_project, "rank")
    assert result.returncode == 2
    assert result.stderr.strip() == "ahf rank: error: data/raw/submissions.parquet not found: run `ahf scrape` first"
    assert not (small_project / "data/processed").exists()


@pytest.mark.slow
def test_rank_with_nothing_left_to_rank_fails_and_keeps_old_output(ranked):
    before = (ranked / "data/processed/stories.parquet").read_bytes()
    write_params(ranked, simulate={"n_prompts": 80, "n_writers": 40}, rank={"min_chars": 100_000})
    result = run_ahf(ranked, "rank")
    assert result.returncode == 2
    assert "no stories left to rank" in result.stderr and "too_short" in result.stderr
    assert (ranked / "data/processed/stories.parquet").read_bytes() == before


@pytest.mark.slow
def test_rank_of_an_empty_subreddit_is_a_clear_error(small_project):
    raw = small_project / "data/raw"
    raw.mkdir(parents=True)
    pd.DataFrame(columns=list(SUBMISSION_COLUMNS)).to_parquet(raw / "submissions.parquet")
    pd.DataFrame(columns=list(COMMENT_COLUMNS)).to_parquet(raw / "comments.parquet")
    result = run_ahf(small_project, "rank")
    assert result.returncode == 2
    assert "holds no submissions" in result.stderr


@pytest.mark.slow
def test_a_damaged_raw_file_is_a_clear_error(ranked):
    (ranked / "data/raw/comments.parquet").write_bytes(b"PAR1 not really parquet")
    result = run_ahf(ranked, "rank")
    assert result.returncode == 2
    assert "comments.parquet cannot be read as parquet" in result.stderr
    assert "Traceback" not in result.stderr
