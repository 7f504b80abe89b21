"""Which comments below a story are kept: the direct replies readers left under it.

The research notes' hypothesis is that the response to a story carries the feedback,
so a scrape keeps, besides the stories (top-level comments), the second level of each
thread: replies whose parent is a story. Deeper comments answer the replies, not the
story; replies under a sticky (AutoModerator's) answer the moderators; a bot's reply
and the story's own author thanking readers or posting an edit are no reader's verdict.
[deleted] and [removed] replies are kept, as stories are: a later scrape's deletion
must replace the text an earlier one stored; rank drops them (stages/ranking/replies.py).
"""

import re

import pandas as pd

# AutoModerator and the subreddits' helper bots (RemindMeBot, WritingPromptsRobot...);
# a name is checked before it is hashed, so this is the only place it can be.
BOT_NAME = re.compile(r"^automoderator$|bot$", re.IGNORECASE)
SKIP_REASONS = ("reply_bot", "reply_deep", "reply_under_sticky", "reply_by_author")


def is_bot(author: str | None) -> bool:
    return bool(author) and BOT_NAME.search(author) is not None


def reply_skip_reason(candidates: pd.DataFrame, comments: pd.DataFrame) -> pd.Series:
    """For each candidate (a comment of the raw contract whose parent is a comment, from a
    human), why it is not a direct reply to a story (SKIP_REASONS), or None when it is.
    `comments` holds the rows that may be its parent, with id, parent_id, author_hash and
    stickied: the stories are those whose parent is their submission."""
    stories = comments[comments["parent_id"].str.startswith("t3_")].drop_duplicates("id", keep="last")
    stories = stories.set_index("id")
    parent = candidates["parent_id"].str.removeprefix("t1_")
    known = parent.isin(stories.index)
    under_sticky = known & parent.map(stories["stickied"].astype(bool)).fillna(False).astype(bool)
    story_author = parent.map(stories["author_hash"])
    by_author = known & candidates["author_hash"].notna() & (candidates["author_hash"] == story_author)
    checks = [("reply_deep", ~known), ("reply_under_sticky", under_sticky), ("reply_by_author", by_author)]
    reason = pd.Series(None, index=candidates.index, dtype=object)
    for name, failed in reversed(checks):
        reason = reason.mask(failed.to_numpy(), name)
    return reason
