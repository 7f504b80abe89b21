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
from dataclasses import dataclass

import numpy as np
import pandas as pd

from stages.common.config import SimulateConfig
from stages.common.contracts import COMMENT_COLUMNS, SUBMISSION_COLUMNS
from stages.sources.gold import gold
from stages.sources.privacy import author_hash
from stages.common.progress import progress_bar
from stages.sources.prompt_tags import prompt_tag
from stages.sources.vocabulary import (
    BLAND_ADJECTIVES, BLAND_VERBS, CONNECTORS, NEUTRAL_NOUNS, PLACES, SUBJECTS, THEMES,
    VIVID_ADJECTIVES, VIVID_VERBS, Theme,
)

AUTHOR_SALT = "simulated"
AUTOMOD_BODY = (
    "**Welcome to the Prompt!** All top-level comments must be a story or poem. "
    "Reply here for other comments. Reminder: stories must be original."
)
REPLIES = ("Great story!", "This gave me chills.", "Part two please!", "I did not see that ending coming.")
SECONDS_PER_PROMPT = 3600
SECOND_SCRAPE_DELAY_S = 86_400


@dataclass(frozen=True)
class WritingStyle:
    """How one story is written; every share rises with the writer's skill."""

    theme: Theme
    theme_share: float
    vivid_share: float
    clause_chance: float
    short_sentence_chance: float
    repeat_chance: float
    n_sentences: int


def writing_style(rng: np.random.Generator, prompt_theme: Theme, skill: float) -> WritingStyle:
    # Weak writers sometimes ignore the prompt and write about something else.
    off_topic = rng.random() < 0.3 * (1.0 - skill)
    theme = THEMES[rng.integers(len(THEMES))] if off_topic else prompt_theme
    # Skilled writers land near a sensible length; weak ones write stubs or rambles.
    n_sentences = int(np.clip(round(7 * math.exp(rng.normal(0.0, 1.2 * (1.0 - skill)))), 1, 30))
    return WritingStyle(
        theme=theme,
        theme_share=0.05 + 0.35 * skill,
        vivid_share=0.1 + 0.9 * skill,
        clause_chance=0.6 * skill,
        short_sentence_chance=0.25 * skill,
        repeat_chance=0.5 * (1.0 - skill) ** 2,
        n_sentences=n_sentences,
    )


def pick(rng: np.random.Generator, words: tuple[str, ...]) -> str:
    return words[rng.integers(len(words))]


def write_sentence(rng: np.random.Generator, style: WritingStyle) -> str:
    def word(theme_words: tuple[str, ...], vivid: tuple[str, ...], bland: tuple[str, ...]) -> str:
        if rng.random() < style.theme_share:
            return pick(rng, theme_words)
        return pick(rng, vivid if rng.random() < style.vivid_share else bland)

    def verb() -> str:
        return word(style.theme.verbs, VIVID_VERBS, BLAND_VERBS)

    def noun() -> str:
        return pick(rng, style.theme.nouns) if rng.random() < style.theme_share else pick(rng, NEUTRAL_NOUNS)

    if rng.random() < style.short_sentence_chance:
        words = [pick(rng, SUBJECTS), verb()]
    else:
        adjective = word(style.theme.adjectives, VIVID_ADJECTIVES, BLAND_ADJECTIVES)
        words = [pick(rng, SUBJECTS), verb(), "the", adjective, noun()]
        for _ in range(rng.binomial(2, style.clause_chance)):
            words += [pick(rng, CONNECTORS), pick(rng, SUBJECTS), verb(), "the", noun()]
        if rng.random() < 0.5:
            words.append(pick(rng, PLACES))
    sentence = " ".join(words)
    return sentence[0].upper() + sentence[1:] + "."


def write_story(rng: np.random.Generator, prompt_theme: Theme, skill: float) -> str:
    style = writing_style(rng, prompt_theme, skill)
    sentences: list[str] = []
    for _ in range(style.n_sentences):
        if sentences and rng.random() < style.repeat_chance:
            sentences.append(sentences[rng.integers(len(sentences))])
        else:
            sentences.append(write_sentence(rng, style))
    return " ".join(sentences)


def write_prompt(rng: np.random.Generator, theme: Theme) -> str:
    template = pick(rng, theme.prompt_templates)
    return "[WP] " + template.format(n=pick(rng, theme.nouns), a=pick(rng, theme.adjectives))


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


def comment_record(
    comment_id: str, submission_id: str, parent_id: str, body: str, created_utc: int, author: str
) -> dict:
    return {
        "id": comment_id, "submission_id": submission_id, "parent_id": parent_id, "body": body,
        "score": 1, "created_utc": created_utc, "author": author, "stickied": False,
        "distinguished": None,
    }


def simulate_subreddit(config: SimulateConfig, subreddit: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return (submissions, comments) in the raw data contract's columns."""
    rng = np.random.default_rng(config.seed)
    skills = rng.beta(2.0, 2.0, size=config.n_writers)
    scraped_utc = config.start_utc + (config.n_prompts + 24 * 7) * SECONDS_PER_PROMPT
    comment_ids = (base36(36**6 + index * 13) for index in range(10**9))

    submissions, comments = [], []
    story_rows, story_prompts, story_popularity, story_delay_s = [], [], [], []
    for index in progress_bar(iterable=range(config.n_prompts), desc="simulate prompts", unit="prompt"):
        theme = THEMES[rng.integers(len(THEMES))]
        submission_id = base36(36**5 + index * 7)
        created = config.start_utc + index * SECONDS_PER_PROMPT + int(rng.integers(SECONDS_PER_PROMPT))
        popularity = float(rng.lognormal(0.0, config.popularity_sigma))
        title = write_prompt(rng, theme)
        submissions.append({
            "id": submission_id, "subreddit": subreddit, "title": title, "tag": prompt_tag(title), "selftext": "",
            # Popular prompts collect more votes themselves, not only for their stories.
            "score": 1 + int(rng.poisson(3.0 * config.base_votes * popularity)),
            "created_utc": created,
            "author_hash": author_hash(f"prompter_{rng.integers(config.n_writers)}", AUTHOR_SALT),
            "permalink": f"/r/{subreddit}/comments/{submission_id}/",
        })
        sticky = comment_record(next(comment_ids), submission_id, f"t3_{submission_id}", AUTOMOD_BODY, created + 1, "AutoModerator")
        comments.append(sticky | {"stickied": True, "distinguished": "moderator"})

        one_story = rng.random() < config.one_story_share
        n_stories = 1 if one_story else 2 + int(rng.poisson(config.stories_per_prompt - 2.0))
        for _ in range(n_stories):
            writer = int(rng.integers(config.n_writers))
            skill = float(np.clip(skills[writer] + rng.normal(0.0, 0.1), 0.0, 1.0))
            delay_s = float(rng.lognormal(math.log(config.delay_median_h * 3600.0), config.delay_sigma))
            story = comment_record(
                next(comment_ids), submission_id, f"t3_{submission_id}", write_story(rng, theme, skill),
                created + int(delay_s), f"writer_{writer}",
            )
            story_rows.append(len(comments))
            story_prompts.append(title)
            story_popularity.append(popularity)
            story_delay_s.append(delay_s)
            comments.append(story)
            if rng.random() < config.reply_share:
                comments.append(comment_record(
                    next(comment_ids), submission_id, f"t1_{story['id']}", pick(rng, REPLIES),
                    story["created_utc"] + int(rng.integers(60, 7200)), f"reader_{rng.integers(10**6)}",
                ))

    golds = np.array([gold(prompt, comments[row]["body"]) for prompt, row in zip(story_prompts, story_rows)])
    gold_z = (golds - golds.mean()) / max(golds.std(), 1e-9)
    votes = expected_votes(config, np.array(story_popularity), gold_z, np.array(story_delay_s))
    votes *= np.exp(rng.normal(0.0, config.vote_noise, size=len(votes)))
    for row, score in zip(story_rows, 1 + rng.poisson(votes)):
        comments[row]["score"] = int(score)
    for comment in comments:
        if comment["parent_id"].startswith("t1_"):
            comment["score"] = 1 + int(rng.poisson(2.0))

    comment_frame = pd.DataFrame(comments)
    comment_frame = remove_some_bodies(rng, comment_frame, config.deleted_share, config.removed_share)
    comment_frame["author_hash"] = [author_hash(name, AUTHOR_SALT) for name in comment_frame.pop("author")]
    comment_frame["scraped_utc"] = scraped_utc
    comment_frame = with_second_scrape(rng, comment_frame, config.duplicate_share)

    submission_frame = pd.DataFrame(submissions)
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
