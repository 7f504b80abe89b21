"""Which comments are readers' replies to a ranked story: the filters, each counted by reason.

A reply carries feedback only when a reader wrote it, to a story that is ranked, in
words a sentiment scorer can read. The scrape already leaves out bots, deeper replies
and the story's author where it can (sources/reply_threads.py); rank checks again,
since data/raw may come from anywhere (the simulator writes the author's thanks too).
"""

import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

REPLY_DROP_REASONS = (
    "reply_orphan",  # its parent is no comment in data/raw
    "reply_to_non_story",  # its parent is a comment but no ranked story (a reply, a sticky, a dropped story)
    "reply_moderator",  # stickied or distinguished
    "reply_deleted",
    "reply_removed",
    "reply_by_author",  # the story's author: thanks, edits, part two
    "reply_empty",
    "reply_no_words",  # no letter at all: an emoji, "!!!", "10/10"
    "reply_other_language",
)

LETTER = re.compile(r"[^\W\d_]")
WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")
# The words that make up most of any English text, and the ones readers use in a
# subreddit; with a sentiment lexicon's words they tell an English reply from another.
COMMON_ENGLISH = frozenset(
    [
        "a",
        "about",
        "after",
        "again",
        "all",
        "also",
        "am",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "back",
        "be",
        "because",
        "been",
        "before",
        "being",
        "best",
        "but",
        "by",
        "can",
        "chapter",
        "could",
        "did",
        "do",
        "does",
        "done",
        "don't",
        "end",
        "ending",
        "even",
        "ever",
        "every",
        "for",
        "from",
        "get",
        "got",
        "had",
        "has",
        "have",
        "he",
        "her",
        "here",
        "him",
        "his",
        "how",
        "i",
        "i'd",
        "i'll",
        "i'm",
        "i've",
        "if",
        "in",
        "into",
        "is",
        "it",
        "it's",
        "its",
        "just",
        "know",
        "last",
        "like",
        "made",
        "make",
        "many",
        "me",
        "more",
        "most",
        "much",
        "my",
        "need",
        "never",
        "next",
        "no",
        "not",
        "now",
        "of",
        "off",
        "oh",
        "on",
        "one",
        "only",
        "or",
        "other",
        "our",
        "out",
        "over",
        "part",
        "please",
        "post",
        "read",
        "reading",
        "really",
        "same",
        "say",
        "see",
        "she",
        "should",
        "so",
        "some",
        "still",
        "story",
        "such",
        "take",
        "than",
        "that",
        "that's",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "thing",
        "think",
        "this",
        "those",
        "time",
        "to",
        "too",
        "twist",
        "up",
        "upvote",
        "upvoted",
        "us",
        "very",
        "want",
        "was",
        "way",
        "we",
        "well",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "why",
        "will",
        "with",
        "would",
        "write",
        "writing",
        "wrote",
        "yes",
        "yet",
        "you",
        "you're",
        "your",
    ]
)
# A reply of this many words or more is judged by them; shorter ones ("Bravo!") pass.
MIN_WORDS_TO_JUDGE = 3
MIN_ENGLISH_SHARE = 0.3
MIN_LATIN_SHARE = 0.5


def text_problem(text: str, known_words: frozenset[str]) -> str | None:
    """Why a reply's text cannot be scored ("reply_empty", "reply_no_words",
    "reply_other_language"), or None. The language test is a heuristic: mostly letters
    outside the Latin script, or, from MIN_WORDS_TO_JUDGE words on, too few of them
    English (COMMON_ENGLISH or `known_words`, a sentiment lexicon's)."""
    if not text.strip():
        return "reply_empty"
    letters = LETTER.findall(text)
    if not letters:
        return "reply_no_words"
    if sum(letter.isascii() for letter in letters) < MIN_LATIN_SHARE * len(letters):
        return "reply_other_language"
    words = [word.lower() for word in WORD.findall(text)]
    if len(words) >= MIN_WORDS_TO_JUDGE:
        english = sum(word in COMMON_ENGLISH or word in known_words for word in words)
        if english < MIN_ENGLISH_SHARE * len(words):
            return "reply_other_language"
    return None


def arrow_strings(series: pd.Series) -> pa.Array:
    return pa.array(series, from_pandas=True).cast(pa.large_string())


def is_in(values: pd.Series, known: pd.Series) -> np.ndarray:
    """values.isin(known), for a few values among many known: the values are hashed and
    the known probed (pandas' isin of Arrow strings builds its set in Python, 30 s for a
    million comments' ids; Arrow's of the million, 0.4 s; this, 0.01 s)."""
    values = arrow_strings(values)
    present = arrow_strings(known).filter(pc.is_in(arrow_strings(known), value_set=values))
    return pc.is_in(values, value_set=present).to_numpy(zero_copy_only=False)


def orphan_checked(parent: pd.Series, is_story: np.ndarray, comment_ids: pd.Series) -> np.ndarray:
    """Whether each parent that is no story is a comment at all (True for the stories)."""
    known = is_story.copy()
    known[~is_story] = is_in(parent[~is_story], comment_ids)
    return known


def positions_in(values: pd.Series, known: pd.Series) -> np.ndarray:
    """The position of each value in `known` (unique), -1 where it is not there; as is_in,
    the fewer distinct values are hashed and the many known probed."""
    values = arrow_strings(values)
    distinct = pc.unique(values)
    position_of_distinct = np.full(len(distinct), -1, dtype=np.intp)
    slot = pc.index_in(arrow_strings(known), value_set=distinct).fill_null(-1).to_numpy(zero_copy_only=False)
    position_of_distinct[slot[slot >= 0]] = np.flatnonzero(slot >= 0)
    return position_of_distinct[pc.index_in(values, value_set=distinct).to_numpy(zero_copy_only=False)]


def select_replies(
    candidates: pd.DataFrame, comment_ids: pd.Series, stories: pd.DataFrame, known_words: frozenset[str]
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Replies to ranked stories, and the count dropped per reason (REPLY_DROP_REASONS).

    candidates: the latest snapshots of comments whose parent is a comment (id,
    parent_id, body, author_hash, stickied, distinguished); comment_ids: every comment's
    id; stories: the ranked stories (comment_id, author_hash). Returns (story, body), where
    story is the position of the reply's story in `stories`."""
    parent = candidates["parent_id"].str.removeprefix("t1_")
    story = positions_in(parent, stories["comment_id"])
    is_story = story >= 0
    story_author = np.full(len(candidates), None, dtype=object)
    story_author[is_story] = stories["author_hash"].to_numpy()[story[is_story]]
    author = candidates["author_hash"]
    body = candidates["body"].fillna("")
    checks = [
        ("reply_orphan", ~is_story & ~orphan_checked(parent, is_story, comment_ids)),
        ("reply_to_non_story", ~is_story),
        (
            "reply_moderator",
            (candidates["stickied"].fillna(False).astype(bool) | candidates["distinguished"].fillna("").ne("")),
        ),
        ("reply_deleted", body == "[deleted]"),
        ("reply_removed", body == "[removed]"),
        ("reply_by_author", author.notna().to_numpy() & (author.to_numpy() == story_author)),
    ]
    reason = pd.Series(None, index=candidates.index, dtype=object)
    for name, failed in reversed(checks):
        reason = reason.mask(np.asarray(failed, dtype=bool), name)
    # Each distinct text is judged once: replies repeat ("lol", "Part 2 please!").
    unchecked = reason.isna().to_numpy()
    codes, texts = pd.factorize(body[unchecked])
    problems = np.array([text_problem(text, known_words) for text in texts], dtype=object)
    if len(codes):
        reason.iloc[np.flatnonzero(unchecked)] = problems[codes]
    dropped = dict.fromkeys(REPLY_DROP_REASONS, 0) | {
        str(name): int(count) for name, count in reason.value_counts().items()
    }
    kept = reason.isna().to_numpy()
    replies = pd.DataFrame({"story": story[kept], "body": body[kept].to_numpy(dtype=object)})
    return replies, dropped
