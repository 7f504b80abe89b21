import json

import pandas as pd
import pytest

from stages.common.atomic_io import retired_dir
from stages.common.contracts import COMMENT_COLUMNS, SUBMISSION_COLUMNS, raw_frame
from stages.common.errors import StageError
from stages.sources.raw_store import (
    COMMENTS,
    REAL,
    SIMULATED,
    STATE,
    SUBMISSIONS,
    Checkpoints,
    RawData,
    empty_raw,
    merge_chunks_into_raw,
    merge_snapshots,
    merged_raw,
    read_raw,
    real_data_to_extend,
    resumable_ids,
    write_raw,
)


def submission(submission_id: str, score: int, scraped_utc: int) -> dict:
    return {
        "id": submission_id,
        "subreddit": "WritingPrompts",
        "title": "[WP] t",
        "tag": "WP",
        "selftext": "",
        "score": score,
        "num_comments": 0,
        "created_utc": 1,
        "author_hash": None,
        "permalink": f"/r/WritingPrompts/comments/{submission_id}/",
        "scraped_utc": scraped_utc,
    }


def comment(comment_id: str, submission_id: str, body: str, scraped_utc: int) -> dict:
    return {
        "id": comment_id,
        "submission_id": submission_id,
        "parent_id": f"t3_{submission_id}",
        "body": body,
        "score": 1,
        "created_utc": 2,
        "author_hash": None,
        "stickied": False,
        "distinguished": None,
        "scraped_utc": scraped_utc,
    }


def submissions(*rows: dict):
    return raw_frame(list(rows), SUBMISSION_COLUMNS)


def real(subreddit: str = "WritingPrompts", **state) -> RawData:
    return RawData(
        submissions(submission("a", 5, 100)),
        raw_frame([comment("c1", "a", "story", 100)], COMMENT_COLUMNS),
        {"holds": REAL, "subreddit": subreddit, **state},
    )


def test_merge_keeps_one_row_per_id_with_the_newest_snapshot():
    held = submissions(submission("a", 5, 100), submission("b", 7, 100))
    new = submissions(submission("b", 9, 200), submission("c", 1, 200))
    merged = merge_snapshots(held, new).set_index("id")
    assert list(merged.index) == ["a", "b", "c"]
    assert merged.loc["b", "score"] == 9 and merged.loc["b", "scraped_utc"] == 200


def test_merge_prefers_an_older_snapshot_that_is_newer_than_the_new_one():
    merged = merge_snapshots(submissions(submission("a", 50, 300)), submissions(submission("a", 5, 200)))
    assert merged["score"].tolist() == [50]


def test_at_the_same_time_the_new_row_wins_and_a_deletion_is_respected():
    held = raw_frame([comment("c1", "a", "a story", 100)], COMMENT_COLUMNS)
    merged = merge_snapshots(held, raw_frame([comment("c1", "a", "[deleted]", 100)], COMMENT_COLUMNS))
    assert merged["body"].tolist() == ["[deleted]"]


def test_merging_with_nothing_keeps_the_contract_types():
    merged = merge_snapshots(empty_raw().submissions, empty_raw().submissions)
    assert merged.empty and merged["score"].dtype == "int64" and tuple(merged.columns) == SUBMISSION_COLUMNS


def test_written_data_reads_back_with_its_state(tmp_path):
    write_raw(tmp_path / "raw", real(**{"pass": {"key": {}, "done": ["a"]}}))
    back = read_raw(tmp_path / "raw")
    assert back.submissions["id"].tolist() == ["a"] and back.comments["body"].tolist() == ["story"]
    assert back.state == {"holds": REAL, "subreddit": "WritingPrompts", "pass": {"key": {}, "done": ["a"]}}


def test_reading_nothing_gives_empty_frames_and_old_data_counts_as_simulated(tmp_path):
    assert read_raw(tmp_path / "raw").submissions.empty
    write_raw(tmp_path / "raw", real())
    (tmp_path / "raw" / STATE).unlink()
    assert read_raw(tmp_path / "raw").state == {"holds": SIMULATED}


def test_reading_repairs_a_write_cut_between_its_renames(tmp_path):
    write_raw(tmp_path / "raw", real())
    (tmp_path / "raw").rename(retired_dir(tmp_path / "raw"))
    assert read_raw(tmp_path / "raw").submissions["id"].tolist() == ["a"]


def test_real_data_replaces_simulated_data_and_refuses_another_subreddit():
    simulated = RawData(real().submissions, real().comments, {"holds": SIMULATED, "subreddit": "WritingPrompts"})
    assert real_data_to_extend(simulated, "WritingPrompts").submissions.empty
    assert real_data_to_extend(real(), "writingprompts").submissions["id"].tolist() == ["a"]
    with pytest.raises(StageError, match=r"holds r/Poetry, not r/WritingPrompts.*rm -rf data/raw"):
        real_data_to_extend(real("Poetry"), "WritingPrompts")


def test_only_an_unfinished_pass_over_the_same_listing_resumes():
    key = {"listing": "top", "time_filter": "all", "limit": 1000}
    state = {"pass": {"key": key, "done": ["a", "b"]}}
    assert resumable_ids(state, key) == {"a", "b"}
    assert resumable_ids(state, key | {"listing": "new"}) == set()
    assert resumable_ids({"pass": None}, key) == set()


def test_checkpoints_land_every_n_submissions_with_what_they_have_done(tmp_path):
    raw_dir, key = tmp_path / "raw", {"listing": "top"}
    checkpoints = Checkpoints(raw_dir, real(), "WritingPrompts", key, done={"a"}, every=2)
    checkpoints.add(submission("b", 1, 300), [comment("c2", "b", "s", 300)])
    assert not raw_dir.exists()
    checkpoints.add(submission("c", 1, 300), [])
    state = json.loads((raw_dir / STATE).read_text())
    assert state["pass"] == {"key": key, "done": ["a", "b", "c"]}
    assert sorted(read_raw(raw_dir).submissions["id"]) == ["a", "b", "c"]
    assert checkpoints.unsaved == 0
    final = checkpoints.write(complete=True)
    assert final.state["pass"] is None and sorted(final.comments["id"]) == ["c1", "c2"]


def test_merging_chunks_on_disk_writes_what_merged_raw_writes(tmp_path):
    raw_dir = tmp_path / "raw"
    held = real(**{"pass": {"key": {"listing": "new"}, "done": ["a"]}})
    write_raw(raw_dir, held)
    new_submissions = [
        submissions(submission("b", 1, 200)),
        submissions(submission("a", 9, 200), submission("c", 2, 50)),
    ]
    new_comments = [raw_frame([comment("c1", "a", "[deleted]", 100), comment("c2", "b", "new", 200)], COMMENT_COLUMNS)]
    chunks = [("submissions", frame) for frame in new_submissions] + [("comments", frame) for frame in new_comments]
    ids_held, ids_written, replies = merge_chunks_into_raw(raw_dir, chunks, "WritingPrompts")
    expected = merged_raw(
        held, pd.concat(new_submissions, ignore_index=True), new_comments[0], "WritingPrompts", held.state["pass"]
    )
    written = read_raw(raw_dir)
    for got, want in ((written.submissions, expected.submissions), (written.comments, expected.comments)):
        assert got.astype(object).where(got.notna(), None).to_dict("records") == want.astype(object).where(
            want.notna(), None
        ).to_dict("records")
    assert written.state == expected.state
    assert ids_held.submissions["id"].tolist() == ["a"] and ids_written.submissions["id"].tolist() == ["a", "b", "c"]
    assert ids_written.comments["id"].tolist() == ["c1", "c2"] and replies == {}
    assert sorted(path.name for path in raw_dir.iterdir()) == sorted([COMMENTS, SUBMISSIONS, STATE])


def reply(comment_id: str, parent: str, author_hash: str | None = "reader", scraped_utc: int = 300) -> dict:
    return comment(comment_id, "a", f"reply {comment_id}", scraped_utc) | {
        "parent_id": f"t1_{parent}",
        "author_hash": author_hash,
    }


def test_merging_keeps_the_candidate_replies_whose_parent_is_a_story_held_or_new(tmp_path):
    raw_dir = tmp_path / "raw"
    write_raw(raw_dir, real())  # holds story c1 of submission a, by nobody known
    candidates = raw_frame(
        [
            reply("r1", "c1"),  # to the held story
            reply("r2", "s9"),  # to a story that arrives in a later chunk
            reply("r3", "r1"),  # to a reply: deeper than the second level
            reply("r4", "gone"),  # its parent is nowhere
            reply("r5", "st"),  # under the sticky
            reply("r6", "s9", author_hash="writer"),  # the story's author, thanking readers
            reply("r7", "s9", author_hash=None),  # an account deleted since: its words still count
        ],
        COMMENT_COLUMNS,
    )
    stories = raw_frame(
        [
            comment("s9", "a", "a story", 300) | {"author_hash": "writer"},
            comment("st", "a", "Reply here.", 300) | {"stickied": True},
        ],
        COMMENT_COLUMNS,
    )
    _, written, replies = merge_chunks_into_raw(
        raw_dir, [("replies", candidates), ("comments", stories)], "WritingPrompts"
    )
    assert written.comments["id"].tolist() == ["c1", "r1", "r2", "r7", "s9", "st"]
    assert replies == {"kept": 3, "reply_deep": 2, "reply_under_sticky": 1, "reply_by_author": 1}
    kept = read_raw(raw_dir).comments.set_index("id")
    assert kept.loc["r2", "parent_id"] == "t1_s9" and kept.loc["r1", "body"] == "reply r1"


def test_merging_chunks_replaces_simulated_data_and_refuses_another_subreddit(tmp_path):
    raw_dir = tmp_path / "raw"
    write_raw(raw_dir, RawData(real().submissions, real().comments, {"holds": SIMULATED}))
    held, _, _ = merge_chunks_into_raw(raw_dir, [("submissions", submissions(submission("z", 1, 1)))], "WritingPrompts")
    assert held.submissions.empty and read_raw(raw_dir).submissions["id"].tolist() == ["z"]
    assert read_raw(raw_dir).comments.empty
    with pytest.raises(StageError, match="not r/Poetry"):
        merge_chunks_into_raw(raw_dir, [], "Poetry")
    assert read_raw(raw_dir).submissions["id"].tolist() == ["z"]
