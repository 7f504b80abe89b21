import pandas as pd
import pytest

from stages.ranking.replies import REPLY_DROP_REASONS, select_replies, text_problem
from stages.ranking.reply_sentiment import vader_words


@pytest.fixture(scope="module")
def known_words():
    return vader_words()


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("This gave me chills.", None),
        ("lol", None),
        ("take my upvote", None),
        ("Bravo!", None),  # too short to judge its language
        ("meh, the ending fell flat", None),
        ("", "reply_empty"),
        ("   \n", "reply_empty"),
        ("😂😂😂", "reply_no_words"),
        ("10/10 !!!", "reply_no_words"),
        ("Это было прекрасно, спасибо", "reply_other_language"),
        ("素晴らしい物語でした", "reply_other_language"),
        ("Qué historia tan bonita, me encantó muchísimo", "reply_other_language"),
        ("Was für eine schöne Geschichte, vielen Dank", "reply_other_language"),
    ],
)
def test_text_problem(text, problem, known_words):
    assert text_problem(text, known_words) == problem


def reply(rid, parent, body="Loved this, great twist!", author="reader", **extra):
    return {
        "id": rid,
        "parent_id": parent,
        "body": body,
        "author_hash": author,
        "stickied": False,
        "distinguished": None,
    } | extra


def test_each_reason_drops_its_reply_and_is_counted(known_words):
    stories = pd.DataFrame({"comment_id": ["s1", "s2"], "author_hash": ["writer1", None]})
    candidates = pd.DataFrame(
        [
            reply("r1", "t1_s1"),
            reply("r2", "t1_s2", body="meh"),
            reply("r3", "t1_s2", body="meh"),  # the same text twice: scored once, kept twice
            reply("lost", "t1_nowhere"),
            reply("deep", "t1_r1"),
            reply("sticky", "t1_s1", stickied=True),
            reply("gone", "t1_s1", body="[deleted]"),
            reply("cut", "t1_s1", body="[removed]"),
            reply("thanks", "t1_s1", body="Thanks for reading!", author="writer1"),
            reply("anon", "t1_s2", author=None),  # neither the story's author nor anyone known: kept
            reply("blank", "t1_s1", body=" "),
            reply("emoji", "t1_s1", body="🔥"),
            reply("foreign", "t1_s1", body="Это было прекрасно"),
        ]
    )
    comment_ids = pd.Series(["s1", "s2", *candidates["id"]])
    replies, dropped = select_replies(candidates, comment_ids, stories, known_words)
    assert replies["story"].tolist() == [0, 1, 1, 1]
    assert replies["body"].tolist() == ["Loved this, great twist!", "meh", "meh", "Loved this, great twist!"]
    assert dropped == dict.fromkeys(REPLY_DROP_REASONS, 1)


def test_no_candidates_is_no_replies(known_words):
    stories = pd.DataFrame({"comment_id": ["s1"], "author_hash": ["w"]})
    empty = pd.DataFrame([reply("r", "t1_s1")]).iloc[0:0]
    replies, dropped = select_replies(empty, pd.Series(["s1"]), stories, known_words)
    assert replies.empty and sum(dropped.values()) == 0
