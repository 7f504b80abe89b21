"""The simulated subreddit: prompts, stories and votes with a known ground truth.

Writers of varying skill write stories whose true quality gold() reads from the
text. Votes then confound that quality the way Reddit does: a popular prompt lifts
all its stories, and a story posted late is seen by fewer readers. The rank stage
must undo both confounds, and because gold is known here we can measure how well.

Also emits what real scrapes hold: an AutoModerator sticky on every prompt, nested
replies, [deleted]/[removed] bodies, one-story prompts and duplicate ids from a
second scrape. Everything flows from one seeded generator, so the same config gives
byte-identical frames.
"""

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from stages.common.config import SimulateConfig
from stages.common.contracts import COMMENT_COLUMNS, SUBMISSION_COLUMNS
from stages.sources.gold_batch import batch_gold
from stages.sources.privacy import author_hash
from stages.common.progress import progress_bar
from stages.sources.prompt_tags import prompt_tag
from stages.sources.replayed_draws import ReplayedDraws
from stages.sources.story_writer import write_prompt, write_story
from stages.sources.vocabulary import THEMES

AUTHOR_SALT = "simulated"
AUTOMOD_BODY = (
    "**Welcome to the Prompt!** All top-level comments must be a story or poem. "
    "Reply here for other comments. Reminder: stories must be original."
)
REPLIES = ("Great story!", "This gave me chills.", "Part two please!", "I did not see that ending coming.")
SECONDS_PER_PROMPT = 3600
SECOND_SCRAPE_DELAY_S = 86_400


def base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    text = ""
    while True:
        number, remainder = divmod(number, 36)
        text = digits[remainder] + text
        if number == 0:
            return text


def expected_votes(
    config: SimulateConfig, popularity: np.ndarray, gold_z: np.ndarray, delay_s: np.ndarray
) -> np.ndarray:
    """Readers who see a story (popularity, decaying with delay) times its appeal (gold)."""
    exposure = config.base_votes * popularity * np.exp(-delay_s / 3600.0 / config.attention_tau_h)
    return exposure * np.exp(config.quality_weight * gold_z)


STICKY, STORY, REPLY = 0, 1, 2


@dataclass
class SimulatedRows:
    """What the draws decide, one entry per submission and per comment, in the order written."""

    titles: list[str] = field(default_factory=list)
    created: list[int] = field(default_factory=list)
    popularity: list[float] = field(default_factory=list)
    submission_scores: list[int] = field(default_factory=list)
    prompters: list[str] = field(default_factory=list)
    kind: list[int] = field(default_factory=list)  # STICKY, STORY or REPLY
    prompt_of: list[int] = field(default_factory=list)  # the submission's index
    body: list[str] = field(default_factory=list)
    comment_created: list[int] = field(default_factory=list)
    author: list[str] = field(default_factory=list)
    delay_s: list[float] = field(default_factory=list)  # stories only


def draw_rows(config: SimulateConfig, draws: ReplayedDraws, skills: np.ndarray) -> SimulatedRows:
    """Prompts, their stories and replies, drawn in one pass and in a fixed order: that
    order is the random stream, and the stream is what makes the frames byte-identical."""
    rows = SimulatedRows()
    delay_mean = math.log(config.delay_median_h * 3600.0)
    for index in progress_bar(iterable=range(config.n_prompts), desc="simulate prompts", unit="prompt"):
        theme = draws.pick(THEMES)
        created = config.start_utc + index * SECONDS_PER_PROMPT + draws.integers(SECONDS_PER_PROMPT)
        popularity = draws.lognormal(0.0, config.popularity_sigma)
        rows.titles.append(write_prompt(draws, theme))
        rows.created.append(created)
        rows.popularity.append(popularity)
        # Popular prompts collect more votes themselves, not only for their stories.
        rows.submission_scores.append(1 + draws.poisson(3.0 * config.base_votes * popularity))
        rows.prompters.append(f"prompter_{draws.integers(config.n_writers)}")
        add_comment(rows, STICKY, index, AUTOMOD_BODY, created + 1, "AutoModerator")

        one_story = draws.random() < config.one_story_share
        n_stories = 1 if one_story else 2 + draws.poisson(config.stories_per_prompt - 2.0)
        for _ in range(n_stories):
            writer = draws.integers(config.n_writers)
            skill = min(max(float(skills[writer] + draws.normal(0.0, 0.1)), 0.0), 1.0)
            delay_s = draws.lognormal(delay_mean, config.delay_sigma)
            story_created = created + int(delay_s)
            add_comment(rows, STORY, index, write_story(draws, theme, skill), story_created, f"writer_{writer}")
            rows.delay_s.append(delay_s)
            if draws.random() < config.reply_share:
                body = draws.pick(REPLIES)
                add_comment(rows, REPLY, index, body, story_created + draws.integers(60, 7200), f"reader_{draws.integers(10**6)}")
    return rows


def add_comment(rows: SimulatedRows, kind: int, prompt: int, body: str, created: int, author: str) -> None:
    rows.kind.append(kind)
    rows.prompt_of.append(prompt)
    rows.body.append(body)
    rows.comment_created.append(created)
    rows.author.append(author)


def simulate_subreddit(config: SimulateConfig, subreddit: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return (submissions, comments) in the raw data contract's columns."""
    rng = np.random.default_rng(config.seed)
    skills = rng.beta(2.0, 2.0, size=config.n_writers)
    draws = ReplayedDraws(rng)
    rows = draw_rows(config, draws, skills)
    rng = draws.hand_back()

    scraped_utc = config.start_utc + (config.n_prompts + 24 * 7) * SECONDS_PER_PROMPT
    submission_ids = [base36(36**5 + index * 7) for index in range(config.n_prompts)]
    comment_ids = [base36(36**6 + index * 13) for index in range(len(rows.kind))]
    kind, prompt_of = np.array(rows.kind), np.array(rows.prompt_of)
    stories, replies = np.flatnonzero(kind == STORY), np.flatnonzero(kind == REPLY)

    titles = np.array(rows.titles, dtype=object)
    golds = batch_gold(titles[prompt_of[stories]], [rows.body[row] for row in stories])
    gold_z = (golds - golds.mean()) / max(golds.std(), 1e-9)
    votes = expected_votes(config, np.array(rows.popularity)[prompt_of[stories]], gold_z, np.array(rows.delay_s))
    votes *= np.exp(rng.normal(0.0, config.vote_noise, size=len(votes)))
    scores = np.ones(len(kind), dtype=np.int64)
    scores[stories] = 1 + rng.poisson(votes)
    scores[replies] = 1 + rng.poisson(2.0, size=len(replies))

    # A reply's parent is the story just before it (a story has at most one reply).
    parent_ids = [f"t3_{submission_ids[prompt]}" for prompt in rows.prompt_of]
    for reply in replies.tolist():
        parent_ids[reply] = f"t1_{comment_ids[reply - 1]}"
    comment_frame = pd.DataFrame({
        "id": comment_ids, "submission_id": [submission_ids[prompt] for prompt in rows.prompt_of],
        "parent_id": parent_ids, "body": rows.body, "score": scores, "created_utc": rows.comment_created,
        "author": rows.author, "stickied": kind == STICKY,
        "distinguished": np.where(kind == STICKY, "moderator", None).tolist(),
    })
    comment_frame = remove_some_bodies(rng, comment_frame, config.deleted_share, config.removed_share)
    hash_of = {name: author_hash(name, AUTHOR_SALT) for name in comment_frame["author"].unique()}
    comment_frame["author_hash"] = [hash_of[name] for name in comment_frame.pop("author")]
    comment_frame["scraped_utc"] = scraped_utc
    comment_frame = with_second_scrape(rng, comment_frame, config.duplicate_share)

    submission_frame = pd.DataFrame({
        "id": submission_ids, "subreddit": subreddit, "title": rows.titles,
        "tag": [prompt_tag(title) for title in rows.titles], "selftext": "",
        "score": rows.submission_scores, "created_utc": rows.created,
        "author_hash": [author_hash(name, AUTHOR_SALT) for name in rows.prompters],
        "permalink": [f"/r/{subreddit}/comments/{sid}/" for sid in submission_ids],
    })
    counts = comment_frame.drop_duplicates("id")["submission_id"].value_counts()
    submission_frame["num_comments"] = submission_frame["id"].map(counts).fillna(0).astype("int64")
    submission_frame["scraped_utc"] = scraped_utc
    return (
        submission_frame[list(SUBMISSION_COLUMNS)],
        comment_frame[list(COMMENT_COLUMNS)],
    )


def remove_some_bodies(
    rng: np.random.Generator, comments: pd.DataFrame, deleted_share: float, removed_share: float
) -> pd.DataFrame:
    """Authors delete stories and moderators remove them; Reddit keeps the row and its score."""
    comments = comments.copy()
    draw = rng.random(len(comments))
    ordinary = ~comments["stickied"].to_numpy()
    deleted = ordinary & (draw < deleted_share)
    removed = ordinary & (draw >= deleted_share) & (draw < deleted_share + removed_share)
    comments.loc[deleted, ["body", "author"]] = ["[deleted]", "[deleted]"]
    comments.loc[removed, "body"] = "[removed]"
    return comments


def with_second_scrape(rng: np.random.Generator, comments: pd.DataFrame, share: float) -> pd.DataFrame:
    """A second scrape a day later saw some comments again, with a newer score snapshot."""
    again = comments[rng.random(len(comments)) < share].copy()
    again["scraped_utc"] = again["scraped_utc"] + SECOND_SCRAPE_DELAY_S
    again["score"] = again["score"] + rng.poisson(1.0, size=len(again))
    return pd.concat([comments, again], ignore_index=True)
