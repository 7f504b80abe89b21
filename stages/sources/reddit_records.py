"""Reddit's JSON for a submission or a comment -> a row of the raw data contract.

The API (through PRAW) and the Pushshift / Arctic Shift dumps, which are copies of
what the API served, name their fields alike, so both sources map through here and
write identical rows. Dumps are older and looser (numbers as strings, fields that
were added later), hence the coercion and the defaults.
"""

from collections.abc import Mapping

from stages.sources.privacy import author_hash
from stages.sources.prompt_tags import prompt_tag

SUBMISSION_FIELDS = (
    "id",
    "subreddit",
    "title",
    "selftext",
    "score",
    "num_comments",
    "created_utc",
    "author",
    "permalink",
    "stickied",
)
COMMENT_FIELDS = ("id", "link_id", "parent_id", "body", "score", "created_utc", "author", "stickied", "distinguished")


def whole_number(value: object) -> int:
    """Reddit sends created_utc as 1609459200.0, some dumps as "1609459200"."""
    return int(float(value))  # type: ignore[arg-type]


def submission_record(fields: Mapping, salt: str, scraped_utc: int) -> dict:
    """Raises KeyError or ValueError when a field the contract needs is missing or malformed."""
    submission_id, subreddit = str(fields["id"]), str(fields["subreddit"])
    title = str(fields["title"])
    return {
        "id": submission_id,
        "subreddit": subreddit,
        "title": title,
        "tag": prompt_tag(title),
        "selftext": str(fields.get("selftext") or ""),
        "score": whole_number(fields["score"]),
        "num_comments": whole_number(fields.get("num_comments") or 0),
        "created_utc": whole_number(fields["created_utc"]),
        "author_hash": author_hash(fields.get("author"), salt),
        "permalink": str(fields.get("permalink") or f"/r/{subreddit}/comments/{submission_id}/"),
        "scraped_utc": scraped_utc,
    }


def comment_record(fields: Mapping, salt: str, scraped_utc: int) -> dict:
    """Raises KeyError or ValueError when a field the contract needs is missing or malformed."""
    link_id, parent_id = str(fields["link_id"]), str(fields["parent_id"])
    if not link_id.startswith("t3_") or not parent_id.startswith(("t1_", "t3_")):
        raise ValueError(f"not a comment's link_id/parent_id: {link_id!r}, {parent_id!r}")
    return {
        "id": str(fields["id"]),
        "submission_id": link_id.removeprefix("t3_"),
        "parent_id": parent_id,
        "body": str(fields["body"]),
        "score": whole_number(fields["score"]),
        "created_utc": whole_number(fields["created_utc"]),
        "author_hash": author_hash(fields.get("author"), salt),
        "stickied": bool(fields.get("stickied") or False),
        "distinguished": fields.get("distinguished") or None,
        "scraped_utc": scraped_utc,
    }


def is_top_level(comment: Mapping) -> bool:
    """Stories are the direct replies to the prompt; replies to stories are not."""
    return str(comment["parent_id"]).startswith("t3_")
