import pytest

from stages.sources.privacy import author_hash
from stages.sources.reddit_records import comment_record, is_top_level, submission_record, whole_number

SUBMISSION = {
    "id": "s1",
    "subreddit": "WritingPrompts",
    "title": "[SP] Short",
    "score": "12",
    "created_utc": 1609459200.0,
}
COMMENT = {
    "id": "c1",
    "link_id": "t3_s1",
    "parent_id": "t3_s1",
    "body": "Once.",
    "score": 4,
    "created_utc": "1609459300",
}


def test_numbers_arrive_as_floats_or_strings_and_leave_as_ints():
    assert whole_number(1609459200.0) == whole_number("1609459200") == 1609459200
    with pytest.raises(ValueError, match="could not convert"):
        whole_number("many")


def test_a_submission_gets_defaults_for_fields_old_dumps_lack():
    row = submission_record(SUBMISSION | {"author": "alice"}, "salt", 99)
    assert row["tag"] == "SP" and row["score"] == 12 and row["selftext"] == "" and row["num_comments"] == 0
    assert row["permalink"] == "/r/WritingPrompts/comments/s1/" and row["scraped_utc"] == 99
    assert row["author_hash"] == author_hash("alice", "salt")


def test_a_comment_keeps_moderation_marks_and_loses_its_author_name():
    row = comment_record(
        COMMENT | {"author": "AutoModerator", "stickied": True, "distinguished": "moderator"}, "salt", 99
    )
    assert row["submission_id"] == "s1" and row["stickied"] and row["distinguished"] == "moderator"
    assert "AutoModerator" not in row.values()
    assert comment_record(COMMENT | {"author": "[deleted]", "distinguished": ""}, "salt", 99)["author_hash"] is None
    assert comment_record(COMMENT, "salt", 99)["distinguished"] is None
    assert is_top_level(COMMENT) and not is_top_level(COMMENT | {"parent_id": "t1_c0"})


def test_missing_or_malformed_fields_raise():
    with pytest.raises(KeyError):
        submission_record({key: value for key, value in SUBMISSION.items() if key != "title"}, "salt", 1)
    with pytest.raises(ValueError, match="not a comment's link_id"):
        comment_record(COMMENT | {"link_id": "s1"}, "salt", 1)
