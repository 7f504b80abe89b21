import numpy as np
import pandas as pd
import pytest

from stages.common.contracts import COMMENT_COLUMNS, raw_frame
from stages.sources import sorted_runs
from stages.sources.raw_store import merge_snapshots
from stages.sources.sorted_runs import SortedRuns


def comments(rng: np.random.Generator, n: int, ids: int) -> pd.DataFrame:
    """Comments whose ids repeat, within a chunk too, with snapshots that tie."""
    return raw_frame(
        [
            {
                "id": f"c{rng.integers(ids)}",
                "submission_id": "s1",
                "parent_id": "t3_s1",
                "body": f"body {rng.integers(10**6)}",
                "score": int(rng.integers(100)),
                "created_utc": 5,
                "author_hash": None if rng.random() < 0.3 else "h",
                "stickied": bool(rng.random() < 0.1),
                "distinguished": None if rng.random() < 0.9 else "moderator",
                "scraped_utc": int(rng.integers(3)),
            }
            for _ in range(n)
        ],
        COMMENT_COLUMNS,
    )


def records(frame: pd.DataFrame) -> list[dict]:
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


@pytest.fixture
def small_blocks(monkeypatch):
    monkeypatch.setattr(sorted_runs, "ROWS_PER_ROW_GROUP", 3)
    monkeypatch.setattr(sorted_runs, "ROWS_PER_BLOCK", 5)


def test_the_merge_on_disk_keeps_what_merge_snapshots_keeps(tmp_path, small_blocks):
    rng = np.random.default_rng(0)
    held = merge_snapshots(comments(rng, 0, 1), comments(rng, 40, 30))  # what data/raw holds: one row per id
    held.to_parquet(tmp_path / "held.parquet", index=False)
    chunks = [comments(rng, n, 30) for n in (7, 1, 12, 9)]
    runs = SortedRuns(tmp_path / "runs", COMMENT_COLUMNS)
    assert runs.add_file(tmp_path / "held.parquet").tolist() == held["id"].tolist()
    for chunk in chunks:
        runs.add(chunk)
    ids = runs.merge_into(tmp_path / "merged.parquet")
    expected = merge_snapshots(held, pd.concat(chunks, ignore_index=True))
    merged = pd.read_parquet(tmp_path / "merged.parquet")
    assert records(merged) == records(expected)
    assert ids.tolist() == expected["id"].tolist()
    assert (
        tuple(merged.columns) == COMMENT_COLUMNS
        and merged["score"].dtype == "int64"
        and merged["stickied"].dtype == bool
    )


def test_merging_nothing_writes_an_empty_file_of_the_contract(tmp_path):
    runs = SortedRuns(tmp_path / "runs", COMMENT_COLUMNS)
    assert runs.merge_into(tmp_path / "merged.parquet").empty
    merged = pd.read_parquet(tmp_path / "merged.parquet")
    assert merged.empty and tuple(merged.columns) == COMMENT_COLUMNS
