"""Prompts and stories of the simulated subreddit, written word by word from a replayed
random stream.

A story is a writer's style (theme, how vivid, how long) and then sentences of a
fixed grammar: a subject and a verb, or a subject, verb, adjective and noun with up to
two clauses and a place. Each word is a draw, and which pool the next word comes from
depends on the last draw, so the ~100 draws of a story are made one after another.

They are the simulator's main cost (a million comments hold 90 million draws), so the
sentences are drawn by compiled code (story_kernel.py) from a window of the stream's
raws (ReplayedDraws.window), with ReplayedDraws' recipes: the same draws in the same
order, so the same text to the byte. The style's few draws, numpy's normal among
them, stay here. tests/sources/test_story_writer.py checks the stories against the
grammar written with a call per draw.
"""

import math
from dataclasses import asdict, dataclass

import numpy as np

from stages.simulator.replayed_draws import ReplayedDraws, inversion_chances
from stages.simulator.story_kernel import MAX_STORY_BYTES, story_bytes
from stages.simulator.vocabulary import THEMES, Theme

# Raws a story is sure to find in its window: far more than the ~30 a sentence of 30 words
# uses. A story that still runs past them is written again from a larger window.
STORY_RAWS = 2**12
MAX_STORY_RAWS = 2**20
CLAUSES_AT_MOST = 2
THEME_INDEX = {theme.name: index for index, theme in enumerate(THEMES)}


@dataclass(frozen=True)
class StyleShares:
    """The chances of a writer's style, each a float, or an array of them for an array of skills."""

    theme_share: float | np.ndarray
    vivid_share: float | np.ndarray
    clause_chance: float | np.ndarray
    short_sentence_chance: float | np.ndarray
    repeat_chance: float | np.ndarray


def style_shares(skill: float | np.ndarray) -> StyleShares:
    """Every share rises with the writer's skill."""
    return StyleShares(
        theme_share=0.05 + 0.35 * skill,
        vivid_share=0.1 + 0.9 * skill,
        clause_chance=0.6 * skill,
        short_sentence_chance=0.25 * skill,
        repeat_chance=0.5 * (1.0 - skill) ** 2,
    )


@dataclass(frozen=True)
class WritingStyle:
    """How one story is written."""

    theme: Theme
    theme_share: float
    vivid_share: float
    clause_chance: float
    short_sentence_chance: float
    repeat_chance: float
    n_sentences: int


def writing_style(draws: ReplayedDraws, prompt_theme: Theme, skill: float) -> WritingStyle:
    # Weak writers sometimes ignore the prompt and write about something else.
    off_topic = draws.random() < 0.3 * (1.0 - skill)
    theme = draws.pick(THEMES) if off_topic else prompt_theme
    # Skilled writers land near a sensible length; weak ones write stubs or rambles
    # (batched_rows.py draws the same for an array of writers, with numpy's exp).
    n_sentences = min(max(round(7 * math.exp(draws.normal(0.0, 1.2 * (1.0 - skill)))), 1), 30)
    return WritingStyle(theme=theme, n_sentences=n_sentences, **asdict(style_shares(skill)))


def write_story(draws: ReplayedDraws, prompt_theme: Theme, skill: float) -> str:
    style = writing_style(draws, prompt_theme, skill)
    # binomial(2, p) draws nothing at p = 0, and above p = 0.5 counts failures at 1 - p.
    clause_chance = style.clause_chance
    clause_chances = np.array(
        inversion_chances(CLAUSES_AT_MOST, min(clause_chance, 1.0 - clause_chance)) if clause_chance else (),
        dtype=np.float64,
    )
    out = np.empty(MAX_STORY_BYTES, dtype=np.uint8)
    raws = STORY_RAWS
    while raws <= MAX_STORY_RAWS:
        window, at, has_half, half = draws.window(raws)
        state = np.array([at, has_half, half], dtype=np.uint64)
        try:
            length = story_bytes(
                window,
                state,
                THEME_INDEX[style.theme.name],
                style.theme_share,
                style.vivid_share,
                clause_chances,
                clause_chance > 0.5,
                style.short_sentence_chance,
                style.repeat_chance,
                style.n_sentences,
                out,
            )
        except IndexError:  # the window ran out; the draws have not moved
            raws *= 2
            continue
        draws.moved_to(int(state[0]), bool(state[1]), int(state[2]))
        return out[:length].tobytes().decode("ascii")
    raise RuntimeError(f"a story drew more than {MAX_STORY_RAWS} raws: a bug in the story writer")


def write_prompt(draws: ReplayedDraws, theme: Theme) -> str:
    template = draws.pick(theme.prompt_templates)
    return prompt_title(template, draws.pick(theme.nouns), draws.pick(theme.adjectives))


def prompt_title(template: str, noun: str, adjective: str) -> str:
    """A prompt's title: its template filled with a noun and an adjective, tagged [WP]."""
    return "[WP] " + template.format(n=noun, a=adjective)
