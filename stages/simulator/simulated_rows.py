"""What the simulator's draws decide, prompt by prompt: titles, stories, replies, times.

Each prompt draws, in a fixed order, its theme, time, popularity, title, score and
prompter, then whether it has one story or several, and for each story its writer,
that writer's form on the day, its delay, its text and whether a reader replied. That
order is the random stream, and the stream is what makes the frames byte-identical.
It is the order of block 0, the root stream (prompt_blocks.py); blocks of their own
streams draw the same model as arrays (batched_rows.py).
"""

import math
from dataclasses import dataclass, field

import numpy as np

from stages.common.config import SimulateConfig
from stages.simulator.replayed_draws import ReplayedDraws
from stages.simulator.story_writer import write_prompt, write_story
from stages.simulator.vocabulary import THEMES

AUTHOR_SALT = "simulated"  # the salt of the simulated authors' hashes
AUTOMOD_BODY = (
    "**Welcome to the Prompt!** All top-level comments must be a story or poem. "
    "Reply here for other comments. Reminder: stories must be original."
)
REPLIES = ("Great story!", "This gave me chills.", "Part two please!", "I did not see that ending coming.")
SECONDS_PER_PROMPT = 3600

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


def draw_rows(config: SimulateConfig, draws: ReplayedDraws, skills: np.ndarray, prompts: range) -> SimulatedRows:
    """The rows of the prompts with these indices, drawn in one pass."""
    rows = SimulatedRows()
    delay_mean = math.log(config.delay_median_h * 3600.0)
    for index in prompts:
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
            form, delay_s = draws.numpy_draws(("normal", 0.0, 0.1), ("lognormal", delay_mean, config.delay_sigma))
            skill = min(max(float(skills[writer] + form), 0.0), 1.0)  # the writer's form on the day
            story_created = created + int(delay_s)
            add_comment(rows, STORY, index, write_story(draws, theme, skill), story_created, f"writer_{writer}")
            rows.delay_s.append(delay_s)
            if draws.random() < config.reply_share:
                body = draws.pick(REPLIES)
                add_comment(
                    rows,
                    REPLY,
                    index,
                    body,
                    story_created + draws.integers(60, 7200),
                    f"reader_{draws.integers(10**6)}",
                )
    return rows


def add_comment(rows: SimulatedRows, kind: int, prompt: int, body: str, created: int, author: str) -> None:
    rows.kind.append(kind)
    rows.prompt_of.append(prompt)
    rows.body.append(body)
    rows.comment_created.append(created)
    rows.author.append(author)
