import io
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
import zstandard

from stages.common.contracts import COMMENT_COLUMNS, SUBMISSION_COLUMNS, raw_frame
from stages.common.errors import StageError
from stages.sources.dumps import DumpCounts, dump_chunks, dump_files, dump_objects
from stages.sources.privacy import author_hash


@dataclass
class DumpRead:
    submissions: pd.DataFrame
    comments: pd.DataFrame
    replies: pd.DataFrame  # the candidates, before raw_store keeps those whose parent is a story
    skipped: Counter
    problems: Counter


def read_dumps(
    submissions: list[str], comments: list[str], subreddit: str, salt: str, rows_per_chunk: int = 2
) -> DumpRead:
    """Every chunk of an import, joined: what it kept, and what it counted."""
    counts = DumpCounts()
    frames = {
        "submissions": [raw_frame([], SUBMISSION_COLUMNS)],
        "comments": [raw_frame([], COMMENT_COLUMNS)],
        "replies": [raw_frame([], COMMENT_COLUMNS)],
    }
    for kind, frame in dump_chunks(dump_files(submissions, comments), subreddit, salt, counts, rows_per_chunk):
        assert 0 < len(frame) <= rows_per_chunk
        frames[kind].append(frame)
    joined = {kind: pd.concat(parts, ignore_index=True) for kind, parts in frames.items()}
    kept = {kind: len(frame) for kind, frame in joined.items() if len(frame) and kind != "replies"}
    assert counts.rows == Counter(kept)
    return DumpRead(joined["submissions"], joined["comments"], joined["replies"], counts.skipped, counts.problems)


def compressed(data: bytes, window_log: int = 20) -> bytes:
    """One zstd frame that declares its window, as a streaming `zstd --long` writes it."""
    params = zstandard.ZstdCompressionParameters.from_level(3, window_log=window_log)
    out = io.BytesIO()
    with zstandard.ZstdCompressor(compression_params=params).stream_writer(out, closefd=False) as writer:
        writer.write(data)
    return out.getvalue()


def ndjson(*things: dict) -> bytes:
    return b"".join(json.dumps(thing).encode() + b"\n" for thing in things)


def dump_file(path: Path, *frames: bytes) -> str:
    path.write_bytes(b"".join(frames))
    return str(path)


def pushshift_submission(submission_id: str, subreddit: str = "WritingPrompts", **fields) -> dict:
    return {
        "id": submission_id,
        "subreddit": subreddit,
        "title": f"[WP] prompt {submission_id}",
        "selftext": "",
        "score": 10,
        "num_comments": 2,
        "created_utc": 1609459200,
        "author": "alice",
        "permalink": f"/r/{subreddit}/comments/{submission_id}/p/",
        "retrieved_on": 1609500000,
    } | fields


def pushshift_comment(comment_id: str, submission_id: str, parent: str | None = None, **fields) -> dict:
    return {
        "id": comment_id,
        "link_id": f"t3_{submission_id}",
        "parent_id": parent or f"t3_{submission_id}",
        "body": f"story {comment_id}",
        "score": 3,
        "created_utc": "1609460000",
        "author": "bob",
        "subreddit": "writingprompts",
        "stickied": False,
        "distinguished": None,
        "retrieved_utc": 1609600000,
    } | fields


def test_records_of_the_subreddit_map_to_the_contract(tmp_path):
    submissions = dump_file(
        tmp_path / "RS.zst",
        compressed(
            ndjson(
                pushshift_submission("s1"),
                pushshift_submission("s2", subreddit="Poetry"),
                pushshift_submission("s3", retrieved_on=None),
            )
        ),
    )
    comments = dump_file(
        tmp_path / "RC.zst",
        compressed(
            ndjson(
                pushshift_comment("c1", "s1"),
                pushshift_comment("c2", "s1", parent="t1_c1"),
                pushshift_comment("c3", "s1", author="[deleted]", body="[deleted]"),
                pushshift_comment("c4", "s1", parent="t1_c1", author="AutoModerator"),
            )
        ),
    )
    dump = read_dumps([submissions], [comments], "WritingPrompts", "salt")
    assert dump.submissions["id"].tolist() == ["s1", "s3"]
    s1 = dump.submissions.iloc[0]
    assert s1["tag"] == "WP" and s1["scraped_utc"] == 1609500000 and s1["author_hash"] == author_hash("alice", "salt")
    assert dump.submissions.iloc[1]["scraped_utc"] == 1609459200  # no retrieved_*: the posting time
    assert dump.comments["id"].tolist() == ["c1", "c3"]  # c2 is a reply, not a story
    assert dump.replies["id"].tolist() == ["c2"] and dump.replies.iloc[0]["author_hash"] == author_hash("bob", "salt")
    c1 = dump.comments.iloc[0]
    assert c1["submission_id"] == "s1" and c1["created_utc"] == 1609460000 and c1["scraped_utc"] == 1609600000
    assert dump.comments.iloc[1]["body"] == "[deleted]" and pd.isna(dump.comments.iloc[1]["author_hash"])
    assert +dump.skipped == Counter({"other_subreddit": 1, "reply_bot": 1})
    assert sum(dump.problems.values()) == 0


def test_damaged_lines_are_counted_and_skipped(tmp_path):
    lines = (
        ndjson(pushshift_comment("c1", "s1"))
        + b'{"id": "c2", "body": "cut off\n'  # broken JSON
        + b"\xff\xfe not utf-8\n"
        + b"[1, 2, 3]\n"  # JSON, but not a record
        + b"\n"  # blank lines are not damage
        + ndjson(pushshift_comment("c3", "s1", score="many"))  # malformed field
        + ndjson({key: value for key, value in pushshift_comment("c4", "s1").items() if key != "link_id"})
        + ndjson(pushshift_comment("c5", "s1"))
    )
    dump = read_dumps([], [dump_file(tmp_path / "RC.zst", compressed(lines))], "WritingPrompts", "salt")
    assert dump.comments["id"].tolist() == ["c1", "c5"]
    assert dump.problems == Counter({"corrupt_lines": 3, "missing_fields": 2, "truncated_files": 0})


def test_a_truncated_final_frame_keeps_what_came_before(tmp_path):
    first = compressed(ndjson(*(pushshift_comment(f"a{i}", "s1") for i in range(50))))
    second = compressed(ndjson(*(pushshift_comment(f"b{i}", "s1") for i in range(50))))
    path = dump_file(tmp_path / "RC.zst", first, second[: len(second) // 2])
    dump = read_dumps([], [path], "WritingPrompts", "salt")
    assert dump.problems["truncated_files"] == 1
    assert set(dump.comments["id"]) >= {f"a{i}" for i in range(50)}
    assert len(dump.comments) < 100


def test_frames_are_read_in_turn_and_a_long_window_is_allowed(tmp_path):
    frames = [compressed(ndjson(pushshift_comment(f"c{i}", "s1")), window_log=28) for i in range(3)]
    problems = Counter()
    things = list(dump_objects(Path(dump_file(tmp_path / "RC.zst", *frames)), problems))
    assert [thing["id"] for thing in things] == ["c0", "c1", "c2"]
    assert sum(problems.values()) == 0


def test_a_file_that_is_not_zstandard_or_is_missing_is_an_error(tmp_path):
    with pytest.raises(StageError, match="cannot be decompressed"):
        read_dumps(
            [dump_file(tmp_path / "plain.json", ndjson(pushshift_submission("s1")))], [], "WritingPrompts", "salt"
        )
    with pytest.raises(StageError, match=r"data\.dump\.comments: .*absent\.zst not found"):
        read_dumps([], [str(tmp_path / "absent.zst")], "WritingPrompts", "salt")
    with pytest.raises(StageError, match="list the dump files"):
        read_dumps([], [], "WritingPrompts", "salt")
