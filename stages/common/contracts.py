"""The columns each data file promises (docs/pipeline.md, Data contracts).

Every source writes the raw contract and every later stage reads through it, so a
scrape from Reddit, a dump or the simulator is interchangeable downstream.
"""

import pandas as pd

from stages.common.errors import StageError

SUBMISSION_COLUMNS = (
    "id",
    "subreddit",
    "title",
    "tag",
    "selftext",
    "score",
    "num_comments",
    "created_utc",
    "author_hash",
    "permalink",
    "scraped_utc",
)
COMMENT_COLUMNS = (
    "id",
    "submission_id",
    "parent_id",
    "body",
    "score",
    "created_utc",
    "author_hash",
    "stickied",
    "distinguished",
    "scraped_utc",
)
STORY_COLUMNS = (
    "submission_id",
    "comment_id",
    "prompt",
    "story",
    "score",
    "rank",
    "n_stories",
    "delay_s",
    "z_rank",
    "z_delay",
    "n_replies",  # replies kept under the story (stages/ranking/replies.py)
    "votes_signal",  # its votes de-confounded (rank.deconfound), standardised; zscore: the seed's rule
    "reply_signal",  # its replies' shrunk mean sentiment, standardised; NaN without replies
    "adjusted",  # the signal rank.feedback names: what tiers and pairs come from
    "tier",
    "split",
)
PAIR_COLUMNS = ("submission_id", "prompt", "chosen", "rejected", "margin", "split")

# Columns a scraped record must carry as integers / booleans, whatever the source's JSON held.
RAW_INTEGER_COLUMNS = ("score", "num_comments", "created_utc", "scraped_utc")
RAW_BOOLEAN_COLUMNS = ("stickied",)

TIERS = ("bad", "ok", "good")
SPLITS = ("train", "val", "test")


def raw_frame(records: list[dict], columns: tuple[str, ...]) -> pd.DataFrame:
    """Scraped records as a frame of the contract's columns, typed even when empty."""
    frame = pd.DataFrame.from_records(records, columns=list(columns))
    for column in frame.columns.intersection(RAW_INTEGER_COLUMNS):
        frame[column] = frame[column].astype("int64")
    for column in frame.columns.intersection(RAW_BOOLEAN_COLUMNS):
        frame[column] = frame[column].astype(bool)
    return frame


def require_columns(frame: pd.DataFrame, columns: tuple[str, ...], what: str) -> pd.DataFrame:
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise StageError(f"{what} lacks the contract's columns: {', '.join(missing)}")
    return frame
