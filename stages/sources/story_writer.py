"""Prompts and stories of the simulated subreddit, written word by word from a replayed
random stream.

A story is a writer's style (theme, how vivid, how long) and then sentences of a
fixed grammar: a subject and a verb, or a subject, verb, adjective and noun with up to
two clauses and a place. Each word is a draw, and which pool the next word comes from
depends on the last draw, so the ~100 draws of a story are made one after another.

They are the simulator's main cost (a million comments hold 90 million draws), so
story_sentences reads the stream's raws itself (ReplayedDraws.window) instead of
calling a method per draw, with ReplayedDraws' recipes written out inline: the same
draws in the same order, so the same text to the byte, in about four fifths of the
time (CPython spends the rest on the draws' arithmetic, not on calls).
tests/sources/test_story_writer.py checks it against the grammar written with a call
per draw.
"""

import math
from dataclasses import dataclass

from stages.sources.replayed_draws import LOW_32, ReplayedDraws, inversion_binomial, inversion_chances, unbiased_32
from stages.sources.vocabulary import (
    BLAND_ADJECTIVES, BLAND_VERBS, CONNECTORS, NEUTRAL_NOUNS, PLACES, SUBJECTS, THEMES,
    VIVID_ADJECTIVES, VIVID_VERBS, Theme,
)

# Raws a story is sure to find in its window: far more than the ~30 a sentence of 30 words
# uses. A story that still runs past them is written again from a larger window.
STORY_RAWS = 2**12
MAX_STORY_RAWS = 2**20
CLAUSES_AT_MOST = 2


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


def writing_style(draws: ReplayedDraws, prompt_theme: Theme, skill: float) -> WritingStyle:
    # Weak writers sometimes ignore the prompt and write about something else.
    off_topic = draws.random() < 0.3 * (1.0 - skill)
    theme = draws.pick(THEMES) if off_topic else prompt_theme
    # Skilled writers land near a sensible length; weak ones write stubs or rambles.
    n_sentences = min(max(round(7 * math.exp(draws.normal(0.0, 1.2 * (1.0 - skill)))), 1), 30)
    return WritingStyle(
        theme=theme,
        theme_share=0.05 + 0.35 * skill,
        vivid_share=0.1 + 0.9 * skill,
        clause_chance=0.6 * skill,
        short_sentence_chance=0.25 * skill,
        repeat_chance=0.5 * (1.0 - skill) ** 2,
        n_sentences=n_sentences,
    )


def write_story(draws: ReplayedDraws, prompt_theme: Theme, skill: float) -> str:
    style = writing_style(draws, prompt_theme, skill)
    raws = STORY_RAWS
    while raws <= MAX_STORY_RAWS:
        try:
            return " ".join(story_sentences(draws, style, raws))
        except IndexError:  # the window ran out; nothing was taken from it
            raws *= 2
    raise RuntimeError(f"a story drew more than {MAX_STORY_RAWS} raws: a bug in the story writer")


def sized(pool: tuple[str, ...]) -> tuple[tuple[str, ...], int]:
    return pool, len(pool)


# A sentence starts with its subject, capitalised.
FIRST_SUBJECTS = sized(tuple(subject[0].upper() + subject[1:] for subject in SUBJECTS))
POOLS = {name: sized(pool) for name, pool in [
    ("subjects", SUBJECTS), ("connectors", CONNECTORS), ("places", PLACES), ("neutral_nouns", NEUTRAL_NOUNS),
    ("vivid_verbs", VIVID_VERBS), ("bland_verbs", BLAND_VERBS), ("vivid_adjectives", VIVID_ADJECTIVES),
    ("bland_adjectives", BLAND_ADJECTIVES),
]}


def story_sentences(draws: ReplayedDraws, style: WritingStyle, raws: int) -> list[str]:
    """The story's sentences, drawn from a window of at least `raws` raws, which the draws
    move past only once the whole story is written.

    Draw by draw this is the grammar of the module docstring: a long sentence draws its
    adjective first (written after "the"), then its subject, verb and noun, then
    binomial(2, clause_chance) clauses of a connector, subject, verb and noun, then
    whether it ends in a place. A verb or adjective is the theme's, or else vivid or
    bland; a noun the theme's, or else neutral. Each `doubles[at]` is a random(), each
    block marked `pick` ReplayedDraws.pick() of (pool, span), inline; pools come sized,
    since len() is a call."""
    doubles, low, high, at, has_half, half = draws.window(raws)
    low_32 = LOW_32
    theme, theme_share, vivid_share = style.theme, style.theme_share, style.vivid_share
    short_chance, repeat_chance, clause_chance = style.short_sentence_chance, style.repeat_chance, style.clause_chance
    theme_verbs, theme_adjectives, theme_nouns = sized(theme.verbs), sized(theme.adjectives), sized(theme.nouns)
    first_subjects, subjects, connectors, places = FIRST_SUBJECTS, POOLS["subjects"], POOLS["connectors"], POOLS["places"]
    vivid_verbs, bland_verbs, neutral_nouns = POOLS["vivid_verbs"], POOLS["bland_verbs"], POOLS["neutral_nouns"]
    vivid_adjectives, bland_adjectives = POOLS["vivid_adjectives"], POOLS["bland_adjectives"]
    # binomial(2, p) draws nothing at p = 0, and above p = 0.5 counts failures at 1 - p.
    # Its bound is 2, so at most three chances to pass; past them it draws again.
    clause_chances = inversion_chances(CLAUSES_AT_MOST, min(clause_chance, 1.0 - clause_chance)) if clause_chance else ()
    none, one, two = clause_chances or (1.0, 0.0, 0.0)
    count_failures = clause_chance > 0.5

    sentences: list[str] = []
    for _ in range(style.n_sentences):
        if sentences:
            uniform, at = doubles[at], at + 1
            if uniform < repeat_chance:
                span = len(sentences)
                if span == 1:  # pick() draws nothing from one item
                    sentences.append(sentences[0])
                    continue
                if has_half:  # pick
                    has_half, product = False, half * span
                else:
                    product, half, has_half, at = low[at] * span, high[at], True, at + 1
                if (product & low_32) < span:
                    product, at, has_half, half = unbiased_32(product, span, low, high, at, has_half, half)
                sentences.append(sentences[product >> 32])
                continue
        uniform, at = doubles[at], at + 1
        short = uniform < short_chance
        if not short:
            uniform, at = doubles[at], at + 1
            if uniform < theme_share:
                pool, span = theme_adjectives
            else:
                uniform, at = doubles[at], at + 1
                pool, span = vivid_adjectives if uniform < vivid_share else bland_adjectives
            if has_half:  # pick
                has_half, product = False, half * span
            else:
                product, half, has_half, at = low[at] * span, high[at], True, at + 1
            if (product & low_32) < span:
                product, at, has_half, half = unbiased_32(product, span, low, high, at, has_half, half)
            adjective = pool[product >> 32]
        pool, span = first_subjects
        if has_half:  # pick
            has_half, product = False, half * span
        else:
            product, half, has_half, at = low[at] * span, high[at], True, at + 1
        if (product & low_32) < span:
            product, at, has_half, half = unbiased_32(product, span, low, high, at, has_half, half)
        subject = pool[product >> 32]
        uniform, at = doubles[at], at + 1
        if uniform < theme_share:
            pool, span = theme_verbs
        else:
            uniform, at = doubles[at], at + 1
            pool, span = vivid_verbs if uniform < vivid_share else bland_verbs
        if has_half:  # pick
            has_half, product = False, half * span
        else:
            product, half, has_half, at = low[at] * span, high[at], True, at + 1
        if (product & low_32) < span:
            product, at, has_half, half = unbiased_32(product, span, low, high, at, has_half, half)
        verb = pool[product >> 32]
        if short:
            sentences.append(f"{subject} {verb}.")
            continue
        uniform, at = doubles[at], at + 1
        pool, span = theme_nouns if uniform < theme_share else neutral_nouns
        if has_half:  # pick
            has_half, product = False, half * span
        else:
            product, half, has_half, at = low[at] * span, high[at], True, at + 1
        if (product & low_32) < span:
            product, at, has_half, half = unbiased_32(product, span, low, high, at, has_half, half)
        sentence = f"{subject} {verb} the {adjective} {pool[product >> 32]}"
        clauses = 0
        if clause_chances:  # inversion_binomial, inline
            uniform, at = doubles[at], at + 1
            if uniform <= none:
                clauses = 0
            elif uniform - none <= one:
                clauses = 1
            elif uniform - none - one <= two:
                clauses = 2
            else:
                clauses, at = inversion_binomial(doubles, at - 1, clause_chances)
            if count_failures:
                clauses = CLAUSES_AT_MOST - clauses
        for _ in range(clauses):
            pool, span = connectors
            if has_half:  # pick
                has_half, product = False, half * span
            else:
                product, half, has_half, at = low[at] * span, high[at], True, at + 1
            if (product & low_32) < span:
                product, at, has_half, half = unbiased_32(product, span, low, high, at, has_half, half)
            connector = pool[product >> 32]
            pool, span = subjects
            if has_half:  # pick
                has_half, product = False, half * span
            else:
                product, half, has_half, at = low[at] * span, high[at], True, at + 1
            if (product & low_32) < span:
                product, at, has_half, half = unbiased_32(product, span, low, high, at, has_half, half)
            subject = pool[product >> 32]
            uniform, at = doubles[at], at + 1
            if uniform < theme_share:
                pool, span = theme_verbs
            else:
                uniform, at = doubles[at], at + 1
                pool, span = vivid_verbs if uniform < vivid_share else bland_verbs
            if has_half:  # pick
                has_half, product = False, half * span
            else:
                product, half, has_half, at = low[at] * span, high[at], True, at + 1
            if (product & low_32) < span:
                product, at, has_half, half = unbiased_32(product, span, low, high, at, has_half, half)
            verb = pool[product >> 32]
            uniform, at = doubles[at], at + 1
            pool, span = theme_nouns if uniform < theme_share else neutral_nouns
            if has_half:  # pick
                has_half, product = False, half * span
            else:
                product, half, has_half, at = low[at] * span, high[at], True, at + 1
            if (product & low_32) < span:
                product, at, has_half, half = unbiased_32(product, span, low, high, at, has_half, half)
            sentence = f"{sentence} {connector} {subject} {verb} the {pool[product >> 32]}"
        uniform, at = doubles[at], at + 1
        if uniform < 0.5:  # half the long sentences end in a place
            pool, span = places
            if has_half:  # pick
                has_half, product = False, half * span
            else:
                product, half, has_half, at = low[at] * span, high[at], True, at + 1
            if (product & low_32) < span:
                product, at, has_half, half = unbiased_32(product, span, low, high, at, has_half, half)
            sentence = f"{sentence} {pool[product >> 32]}"
        sentences.append(sentence + ".")
    draws.moved_to(at, has_half, half)
    return sentences


def write_prompt(draws: ReplayedDraws, theme: Theme) -> str:
    template = draws.pick(theme.prompt_templates)
    return "[WP] " + template.format(n=draws.pick(theme.nouns), a=draws.pick(theme.adjectives))
