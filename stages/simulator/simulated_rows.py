"""The rows of a block of simulated prompts, drawn as arrays from the block's own stream.

A prompt has a theme, a time within its hour, a log-normal popularity, a title from a
template of its theme, a score of its own (popular prompts collect more votes) and a
prompter; it holds one story (one_story_share) or 2 + Poisson(stories_per_prompt - 2).
A story has a writer, whose form on the day is their skill plus N(0, 0.1) within
[0, 1], a log-normal delay after its prompt, and a text in the writer's style
(story_writer.py); some stories get a reader's reply (canned_replies). The block
draws, in this order, its prompts' values, its stories' values, their texts and the
replies; then it scores its stories' gold and hashes its authors, so that the parent
only joins the blocks (prompt_blocks.py).
"""

import math
from dataclasses import dataclass

import numpy as np

from stages.common.config import SimulateConfig
from stages.simulator.gold_batch import batch_gold
from stages.simulator.story_writer import prompt_titles, write_stories, writing_styles
from stages.simulator.vocabulary import THEMES
from stages.sources.privacy import author_hash
from stages.sources.prompt_tags import prompt_tag

AUTHOR_SALT = "simulated"  # the salt of the simulated authors' hashes
AUTOMOD_BODY = (
    "**Welcome to the Prompt!** All top-level comments must be a story or poem. "
    "Reply here for other comments. Reminder: stories must be original."
)
REPLIES = ("Great story!", "This gave me chills.", "Part two please!", "I did not see that ending coming.")
SECONDS_PER_PROMPT = 3600

STICKY, STORY, REPLY = 0, 1, 2


@dataclass
class BlockRows:
    """A block's rows as the frames need them: per prompt, then per comment in the order
    written (each prompt's sticky, then each story followed by its replies)."""

    titles: list[str]
    tags: list[str]
    created: np.ndarray
    popularity: np.ndarray
    submission_scores: np.ndarray
    prompter_hashes: list[str | None]
    kind: np.ndarray  # STICKY, STORY or REPLY
    prompt_of: np.ndarray  # the submission's index, over all blocks
    body: list[str]
    comment_created: np.ndarray
    author_hashes: list[str | None]
    delay_s: np.ndarray  # stories only
    gold: np.ndarray  # stories only


@dataclass(frozen=True)
class Replies:
    story: np.ndarray  # the story each reply answers, ascending
    body: np.ndarray  # of str
    created: np.ndarray
    author: list[str]


def canned_replies(rng: np.random.Generator, reply_share: float, story_created: np.ndarray) -> Replies:
    """A reader's canned reply under reply_share of the stories, a minute to two hours later."""
    story = np.flatnonzero(rng.random(len(story_created)) < reply_share)
    return Replies(
        story=story,
        body=np.array(REPLIES, dtype=object)[rng.integers(len(REPLIES), size=len(story))],
        created=story_created[story] + rng.integers(60, 7200, size=len(story)),
        author=[f"reader_{number}" for number in rng.integers(10**6, size=len(story)).tolist()],
    )


def block_rows(config: SimulateConfig, rng: np.random.Generator, skills: np.ndarray, prompts: range) -> BlockRows:
    n = len(prompts)
    index = np.arange(prompts.start, prompts.stop, dtype=np.int64)
    theme = rng.integers(len(THEMES), size=n)
    created = config.start_utc + index * SECONDS_PER_PROMPT + rng.integers(SECONDS_PER_PROMPT, size=n)
    popularity = rng.lognormal(0.0, config.popularity_sigma, size=n)
    titles = prompt_titles(rng, theme)
    submission_scores = 1 + rng.poisson(3.0 * config.base_votes * popularity)
    prompters = [f"prompter_{number}" for number in rng.integers(config.n_writers, size=n).tolist()]
    one_story = rng.random(n) < config.one_story_share
    n_stories = np.where(one_story, 1, 2 + rng.poisson(config.stories_per_prompt - 2.0, size=n))

    story_prompt = np.repeat(np.arange(n), n_stories)
    m = len(story_prompt)
    writer = rng.integers(config.n_writers, size=m)
    skill = np.clip(skills[writer] + rng.normal(0.0, 0.1, size=m), 0.0, 1.0)  # the writer's form on the day
    delay_s = rng.lognormal(math.log(config.delay_median_h * 3600.0), config.delay_sigma, size=m)
    bodies = write_stories(rng, writing_styles(rng, theme[story_prompt], skill))
    story_created = created[story_prompt] + delay_s.astype(np.int64)
    replies = canned_replies(rng, config.reply_share, story_created)

    # The order written: a prompt's sticky just before its first story, a reply just after its story.
    first_story = np.cumsum(n_stories) - n_stories
    order = np.argsort(np.concatenate([3 * first_story, 3 * np.arange(m) + 1, 3 * replies.story + 2]), kind="stable")
    kind = np.repeat([STICKY, STORY, REPLY], [n, m, len(replies.story)])[order]
    prompt_of = np.concatenate([index, index[story_prompt], index[story_prompt][replies.story]])[order]
    body = np.concatenate([np.full(n, AUTOMOD_BODY, dtype=object), np.array(bodies, dtype=object), replies.body])
    comment_created = np.concatenate([created + 1, story_created, replies.created])[order]
    authors = ["AutoModerator"] * n + [f"writer_{number}" for number in writer.tolist()] + replies.author
    titles_of_stories = np.array(titles, dtype=object)[story_prompt]
    return BlockRows(
        titles=titles,
        tags=[prompt_tag(title) for title in titles],
        created=created,
        popularity=popularity,
        submission_scores=submission_scores,
        prompter_hashes=hashes(prompters),
        kind=kind,
        prompt_of=prompt_of,
        body=body[order].tolist(),
        comment_created=comment_created,
        author_hashes=hashes([authors[row] for row in order.tolist()]),
        delay_s=delay_s,
        gold=batch_gold(titles_of_stories, bodies),
    )


def hashes(names: list[str]) -> list[str | None]:
    hash_of = {name: author_hash(name, AUTHOR_SALT) for name in set(names)}
    return [hash_of[name] for name in names]
