"""The columns each data file promises (DESIGN.md, Data contracts).

Every source writes the raw contract and every later stage reads through it, so a
scrape from Reddit, a dump or the simulator is interchangeable downstream.
"""

import pandas as pd

from stages.errors import StageError

SUBMISSION_COLUMNS = (
    "id", "subreddit", "title", "selftext", "score", "num_comments",
    "created_utc", "author_hash", "permalink", "scraped_utc",
)
COMMENT_COLUMNS = (
    "id", "submission_id", "parent_id", "body", "score", "created_utc",
    "author_hash", "stickied", "distinguished", "scraped_utc",
)
STORY_COLUMNS = (
    "submission_id", "comment_id", "prompt", "story", "score", "rank", "n_stories",
    "delay_s", "z_rank", "z_delay", "adjusted", "tier", "split",
)
PAIR_COLUMNS = ("submission_id", "prompt", "chosen", "rejected", "margin", "split")

TIERS = ("bad", "ok", "good")
SPLITS = ("train", "val", "test")


def require_columns(frame: pd.DataFrame, columns: tuple[str, ...], what: str) -> pd.DataFrame:
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise StageError(f"{what} lacks the contract's columns: {', '.join(missing)}")
    return frame
