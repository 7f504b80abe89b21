import json

import numpy as np
import pandas as pd
import pytest
from conftest import run_ahf, write_params

from stages.common.contracts import COMMENT_COLUMNS, PAIR_COLUMNS, STORY_COLUMNS, SUBMISSION_COLUMNS
from stages.rank import gold_metrics, pair_gold_agreement
from stages.ranking.adjusted_ranking import pair_positions
from stages.ranking.gold_workers import gold_of_file, texts_file
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
def test_metrics_count_every_comment_and_de_confounding_beats_raw_score(ranked):
    metrics = json.loads((ranked / "reports/rank.json").read_text())
    dropped = sum(value for key, value in metrics.items() if key.startswith("rank/dropped_"))
    assert metrics["rank/stories"] + metrics["rank/replies"] + dropped == metrics["rank/comments_in"]
    assert metrics["rank/replies"] > 0 and 0 < metrics["rank/reply_share"] < 1
    for signal in ("zscore", "model"):
        assert metrics[f"rank/spearman_gold_{signal}"] > metrics["rank/spearman_gold_score"]
        assert metrics[f"rank/within_spearman_gold_{signal}"] > metrics["rank/within_spearman_gold_score"]
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
    gold = batch_gold(stories["prompt"], stories["story"])
    signals = {"model": stories["votes_signal"].to_numpy(), "replies": stories["reply_signal"].to_numpy()}
    expected = gold_metrics(stories, signals, gold) | pair_gold_agreement(gold, chosen, rejected)
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


@pytest.mark.slow
@pytest.mark.parametrize("feedback", ["replies", "both"])
def test_rank_by_replies_or_both(small_project, feedback):
    write_params(small_project, simulate={"n_prompts": 80, "n_writers": 40}, rank={"feedback": feedback})
    assert run_ahf(small_project, "scrape").returncode == 0
    result = run_ahf(small_project, "rank")
    assert result.returncode == 0, result.stderr
    stories = pd.read_parquet(small_project / "data/processed/stories.parquet")
    metrics = json.loads((small_project / "reports/rank.json").read_text())
    if feedback == "replies":  # only the stories with replies are ranked, the others counted
        assert (stories["n_replies"] > 0).all() and metrics["rank/dropped_no_reply"] > 0
        np.testing.assert_array_equal(stories["adjusted"], stories["reply_signal"])
    else:
        assert (stories["n_replies"] == 0).any() and metrics["rank/dropped_no_reply"] == 0
    assert metrics["rank/stories"] == len(stories) and set(stories["tier"]) == {"good", "ok", "bad"}


@pytest.mark.slow
def test_bad_replies_are_counted_not_fatal(ranked):
    """A reply whose parent is missing, an empty one, one in another language, one that
    is only an emoji, and one by the story's author: each dropped by its reason."""
    comments = pd.read_parquet(ranked / "data/raw/comments.parquet")
    story = pd.read_parquet(ranked / "data/processed/stories.parquet").iloc[0]
    row = comments[comments["id"] == story["comment_id"]].iloc[0]
    bad = [
        ("orphan", "t1_nowhere", "Great story!", "reader"),
        ("empty", f"t1_{row['id']}", "", "reader"),
        ("other_language", f"t1_{row['id']}", "Это было прекрасно, спасибо", "reader"),
        ("no_words", f"t1_{row['id']}", "😂", "reader"),
        ("by_author", f"t1_{row['id']}", "Thanks for reading, everyone!", row["author_hash"]),
    ]
    extra = pd.DataFrame(
        [
            row.to_dict() | {"id": f"bad{reason}", "parent_id": parent, "body": body, "author_hash": author}
            for reason, parent, body, author in bad
        ]
    )
    before = json.loads((ranked / "reports/rank.json").read_text())
    pd.concat([comments, extra], ignore_index=True).to_parquet(ranked / "data/raw/comments.parquet")
    result = run_ahf(ranked, "rank")
    assert result.returncode == 0, result.stderr
    after = json.loads((ranked / "reports/rank.json").read_text())
    for reason, *_ in bad:
        key = f"rank/dropped_reply_{reason}"
        assert after[key] == before[key] + 1, key
    assert after["rank/replies"] == before["rank/replies"]


@pytest.mark.slow
def test_ranking_by_replies_where_there_are_none_is_one_clear_line(small_project):
    write_params(
        small_project, simulate={"n_prompts": 80, "n_writers": 40, "reply_share": 0.0}, rank={"feedback": "replies"}
    )
    assert run_ahf(small_project, "scrape").returncode == 0
    result = run_ahf(small_project, "rank")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "rank.feedback: replies: no story has a reply to rank it by" in result.stderr
    assert not (small_project / "data/processed").exists()
