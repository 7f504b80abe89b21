"""The simulated subreddit: prompts, stories and votes with a known ground truth.

Writers of varying skill write stories whose true quality gold() reads from the
text. Votes then confound that quality the way Reddit does: a popular prompt lifts
all its stories, and a story posted late is seen by fewer readers. The rank stage
must undo both confounds, and because gold is known here we can measure how well.

Also emits what real scrapes hold: an AutoModerator sticky on every prompt, replies,
[deleted]/[removed] bodies, one-story prompts and duplicate ids from a second scrape.
Everything flows from one seed, so the same config and code give byte-identical
frames: the root stream (seed) draws the writers' skills, then what follows the rows
(scores, removals, the second scrape); the prompts' rows come from the streams of
their blocks (prompt_blocks.py), whatever the number of processes that draw them.
"""

import numpy as np
import pandas as pd

from stages.common.config import SimulateConfig
from stages.common.contracts import COMMENT_COLUMNS, SUBMISSION_COLUMNS
from stages.simulator.prompt_blocks import PROMPTS_PER_BLOCK, drawn_blocks
from stages.simulator.simulated_rows import REPLY, SECONDS_PER_PROMPT, STICKY, STORY

SECOND_SCRAPE_DELAY_S = 86_400
BASE36_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"


def base36(number: int) -> str:
    text = ""
    while True:
        number, remainder = divmod(number, 36)
        text = BASE36_DIGITS[remainder] + text
        if number == 0:
            return text


def base36_ids(first: int, step: int, n: int) -> list[str]:
    """base36(first + index * step) for index < n, digit by digit over all of them at once."""
    numbers = first + step * np.arange(n, dtype=np.int64)
    if n == 0:
        return []
    width = len(base36(int(numbers[-1])))
    digits = np.empty((n, width), dtype=np.uint8)
    rest = numbers
    for column in range(width - 1, -1, -1):
        rest, remainder = np.divmod(rest, 36)
        digits[:, column] = np.frombuffer(BASE36_DIGITS.encode(), dtype=np.uint8)[remainder]
    texts = digits.view(f"S{width}").ravel().astype(str)
    # base36 writes no leading zeros: numbers with fewer digits than the last are cut.
    short = np.flatnonzero(numbers < 36 ** (width - 1)) if width > 1 else np.zeros(0, dtype=np.int64)
    ids = texts.tolist()
    for index in short.tolist():
        ids[index] = base36(int(numbers[index]))
    return ids


def expected_votes(
    config: SimulateConfig, popularity: np.ndarray, gold_z: np.ndarray, delay_s: np.ndarray
) -> np.ndarray:
    """Readers who see a story (popularity, decaying with delay) times its appeal (gold)."""
    exposure = config.base_votes * popularity * np.exp(-delay_s / 3600.0 / config.attention_tau_h)
    return exposure * np.exp(config.quality_weight * gold_z)


def simulate_subreddit(
    config: SimulateConfig,
    subreddit: str,
    prompts_per_block: int = PROMPTS_PER_BLOCK,
    workers: int | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return (submissions, comments) in the raw data contract's columns. The prompts are
    drawn in blocks (prompt_blocks.py), in `workers` processes at most:
    the frames are the same for any number."""
    rng = np.random.default_rng(config.seed)
    skills = rng.beta(2.0, 2.0, size=config.n_writers)
    rows = drawn_blocks(config, skills, prompts_per_block, workers)

    scraped_utc = config.start_utc + (config.n_prompts + 24 * 7) * SECONDS_PER_PROMPT
    submission_ids = base36_ids(36**5, 7, config.n_prompts)
    comment_ids = base36_ids(36**6, 13, len(rows.kind))
    kind, prompt_of = rows.kind, rows.prompt_of
    stories, replies = np.flatnonzero(kind == STORY), np.flatnonzero(kind == REPLY)

    gold_z = (rows.gold - rows.gold.mean()) / max(rows.gold.std(), 1e-9)
    votes = expected_votes(config, rows.popularity[prompt_of[stories]], gold_z, rows.delay_s)
    votes *= np.exp(rng.normal(0.0, config.vote_noise, size=len(votes)))
    scores = np.ones(len(kind), dtype=np.int64)
    scores[stories] = 1 + rng.poisson(votes)
    scores[replies] = 1 + rng.poisson(2.0, size=len(replies))

    # A reply's parent is the last story before it.
    comment_submission = np.array(submission_ids, dtype=object)[prompt_of]
    parent_ids = np.array([f"t3_{sid}" for sid in submission_ids], dtype=object)[prompt_of]
    last_story = np.maximum.accumulate(np.where(kind == STORY, np.arange(len(kind)), 0))
    parent_ids[replies] = [f"t1_{comment_ids[story]}" for story in last_story[replies].tolist()]
    bodies, author_hashes = remove_some_bodies(
        rng, rows.body, rows.author_hashes, kind != STICKY, config.deleted_share, config.removed_share
    )
    comment_frame = pd.DataFrame(
        {
            "id": comment_ids,
            "submission_id": comment_submission.tolist(),
            "parent_id": parent_ids.tolist(),
            "body": bodies,
            "score": scores,
            "created_utc": rows.comment_created,
            "author_hash": author_hashes,
            "stickied": kind == STICKY,
            "distinguished": np.where(kind == STICKY, "moderator", None).tolist(),
            "scraped_utc": scraped_utc,
        }
    )
    comment_frame = with_second_scrape(rng, comment_frame, config.duplicate_share)

    submission_frame = pd.DataFrame(
        {
            "id": submission_ids,
            "subreddit": subreddit,
            "title": rows.titles,
            "tag": rows.tags,
            "selftext": "",
            "score": rows.submission_scores,
            "created_utc": rows.created,
            "author_hash": rows.prompter_hashes,
            "permalink": [f"/r/{subreddit}/comments/{sid}/" for sid in submission_ids],
        }
    )
    # The second scrape only saw comments again: each prompt's own are counted once.
    submission_frame["num_comments"] = np.bincount(prompt_of, minlength=config.n_prompts).astype("int64")
    submission_frame["scraped_utc"] = scraped_utc
    return (
        submission_frame[list(SUBMISSION_COLUMNS)],
        comment_frame[list(COMMENT_COLUMNS)],
    )


def remove_some_bodies(
    rng: np.random.Generator,
    bodies: list[str],
    author_hashes: list[str | None],
    ordinary: np.ndarray,
    deleted_share: float,
    removed_share: float,
) -> tuple[list[str], list[str | None]]:
    """Authors delete stories and moderators remove them; Reddit keeps the row and its
    score. Returns the bodies and author hashes after (ordinary: not a moderator's sticky)."""
    draw = rng.random(len(bodies))
    deleted = ordinary & (draw < deleted_share)
    removed = ordinary & (draw >= deleted_share) & (draw < deleted_share + removed_share)
    bodies, author_hashes = list(bodies), list(author_hashes)
    for row in np.flatnonzero(deleted).tolist():
        # A deleted account is no author: its hash is None, as author_hash("[deleted]") is.
        bodies[row], author_hashes[row] = "[deleted]", None
    for row in np.flatnonzero(removed).tolist():
        bodies[row] = "[removed]"
    return bodies, author_hashes


def with_second_scrape(rng: np.random.Generator, comments: pd.DataFrame, share: float) -> pd.DataFrame:
    """A second scrape a day later saw some comments again, with a newer score snapshot."""
    again = comments[rng.random(len(comments)) < share].copy()
    again["scraped_utc"] = again["scraped_utc"] + SECOND_SCRAPE_DELAY_S
    again["score"] = again["score"] + rng.poisson(1.0, size=len(again))
    return pd.concat([comments, again], ignore_index=True)
