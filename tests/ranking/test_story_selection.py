import pandas as pd

from stages.ranking.story_selection import latest_snapshots, prompt_text, select_stories

LONG = "A story long enough to keep, with plenty of words in it."


def comment(cid, body=LONG, parent="t3_s1", submission="s1", score=5, created=1_000, scraped=10, **extra):
    return {
        "id": cid,
        "submission_id": submission,
        "parent_id": parent,
        "body": body,
        "score": score,
        "created_utc": created,
        "author_hash": "h",
        "stickied": False,
        "distinguished": None,
        "scraped_utc": scraped,
        **extra,
    }


def submissions(*ids):
    return pd.DataFrame(
        [
            {"id": sid, "title": f"[WP] prompt {sid}", "selftext": "", "created_utc": 900, "scraped_utc": 10}
            for sid in ids
        ]
    )


def test_each_reason_drops_its_comment_and_is_counted():
    comments = pd.DataFrame(
        [
            comment("keep1"),
            comment("keep2", created=1_600),
            comment("sticky", stickied=True),
            comment("mod", distinguished="moderator"),
            comment("reply", parent="t1_keep1"),
            comment("gone", body="[deleted]"),
            comment("cut", body="[removed]"),
            comment("short", body="Too short."),
            comment("lost", submission="nowhere", parent="t3_nowhere"),
            comment("alone", submission="s2", parent="t3_s2"),
        ]
    )
    selection = select_stories(submissions("s1", "s2"), comments, min_chars=20, min_stories=2)
    stories, dropped = selection.stories, selection.dropped
    assert stories["comment_id"].tolist() == ["keep1", "keep2"]
    assert comments["id"].iloc[selection.reply_rows].tolist() == ["reply"]  # for the replies' own selection
    assert stories["delay_s"].tolist() == [100, 700]
    assert stories["prompt"].tolist() == ["[WP] prompt s1"] * 2
    assert dropped == {
        "duplicate": 0,
        "orphan": 1,
        "stickied": 1,
        "distinguished": 1,
        "deleted": 1,
        "removed": 1,
        "too_short": 1,
        "few_stories": 1,
    }


def test_duplicates_keep_the_newest_score_snapshot():
    comments = pd.DataFrame(
        [
            comment("a", score=3, scraped=10),
            comment("b"),
            comment("a", score=9, scraped=20),
        ]
    )
    assert latest_snapshots(comments).set_index("id").loc["a", "score"] == 9
    selection = select_stories(submissions("s1"), comments, min_chars=0, min_stories=1)
    stories, dropped = selection.stories, selection.dropped
    assert dropped["duplicate"] == 1
    assert stories.set_index("comment_id").loc["a", "score"] == 9


def test_prompt_text_appends_selftext_only_when_present():
    assert prompt_text("[WP] Title", "") == "[WP] Title"
    assert prompt_text("[WP] Title", None) == "[WP] Title"
    assert prompt_text("[WP] Title", "  Details.  ") == "[WP] Title\n\nDetails."
