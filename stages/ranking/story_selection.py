"""Which comments are stories: the filters of the rank stage, each counted by reason.

A story is a top-level reply to the prompt that a person wrote and that still
exists; AutoModerator's sticky, moderator notes and deleted or removed bodies are not
stories, and a prompt with too few stories cannot be ranked. Comments below top level
are not stories either: they are handed on as reply candidates (ranking/replies.py).
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd

from stages.sources.raw_store import latest_positions, latest_snapshots

DROP_REASONS = (
    "duplicate",
    "orphan",
    "stickied",
    "distinguished",
    "deleted",
    "removed",
    "too_short",
    "few_stories",
)


def prompt_text(title: str, selftext: str | None) -> str:
    selftext = (selftext or "").strip()
    return f"{title}\n\n{selftext}" if selftext else title


# Not a story, nor dropped: a comment below top level, for the replies' own selection.
REPLY = "reply"


def drop_reason(comments: pd.DataFrame, known_submissions: pd.Index, min_chars: int) -> pd.Series:
    """The first reason (in DROP_REASONS order) each comment is not a story, REPLY for a
    comment below top level, or None."""
    body = comments["body"].fillna("")
    checks = [
        ("orphan", ~comments["submission_id"].isin(known_submissions)),
        (REPLY, comments["parent_id"] != "t3_" + comments["submission_id"]),
        ("stickied", comments["stickied"].fillna(False).astype(bool)),
        ("distinguished", comments["distinguished"].notna() & (comments["distinguished"] != "")),
        ("deleted", body == "[deleted]"),
        ("removed", body == "[removed]"),
        ("too_short", body.str.strip().str.len() < min_chars),
    ]
    reason = pd.Series(None, index=comments.index, dtype=object)
    for name, failed in reversed(checks):
        reason = reason.mask(failed, name)
    return reason


@dataclass(frozen=True)
class Selection:
    stories: pd.DataFrame  # one row each, with prompt, delay and author_hash
    dropped: dict[str, int]  # comments by reason (DROP_REASONS)
    reply_rows: np.ndarray  # positions in the comments of the latest snapshots below top level


def select_stories(submissions: pd.DataFrame, comments: pd.DataFrame, min_chars: int, min_stories: int) -> Selection:
    """The stories, the comments dropped per reason, and the reply candidates."""
    dropped = dict.fromkeys(DROP_REASONS, 0)
    # Positions of the latest snapshots, not a copy of them: a comment's reason is its own,
    # so it is found on every row and read at those positions.
    latest = latest_positions(comments)
    dropped["duplicate"] = len(comments) - len(latest)
    prompts = latest_snapshots(submissions).set_index("id")

    reason = drop_reason(comments, prompts.index, min_chars).iloc[latest]
    for name, count in reason[reason != REPLY].value_counts().items():
        dropped[name] = int(count)
    story_rows = latest[reason.isna().to_numpy()]
    submission_ids = comments["submission_id"].iloc[story_rows]
    sizes = submission_ids.groupby(submission_ids).transform("size").to_numpy()
    dropped["few_stories"] = int((sizes < min_stories).sum())

    # Only the columns a story needs, copied once, already in the stories' order.
    kept = comments[["submission_id", "id", "body", "score", "created_utc", "author_hash"]]
    kept = kept.iloc[story_rows[sizes >= min_stories]]
    kept = kept.sort_values(["submission_id", "id"], ignore_index=True)
    texts = pd.Series(
        [prompt_text(t, s) for t, s in zip(prompts["title"], prompts["selftext"], strict=True)], index=prompts.index
    )
    stories = pd.DataFrame(
        {
            "submission_id": kept["submission_id"],
            "comment_id": kept["id"],
            "prompt": texts.loc[kept["submission_id"]].reset_index(drop=True),
            "story": kept["body"].str.strip(),
            "score": kept["score"],
            "created_utc": kept["created_utc"],
            "delay_s": (
                kept["created_utc"].to_numpy() - prompts["created_utc"].loc[kept["submission_id"]].to_numpy()
            ).clip(min=0),
            "author_hash": kept["author_hash"],
        }
    )
    return Selection(stories, dropped, latest[(reason == REPLY).to_numpy()])
