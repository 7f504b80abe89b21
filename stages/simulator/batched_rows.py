"""A block's rows drawn as arrays: the layout of blocks k >= 1 (prompt_blocks.py).

simulated_rows.draw_rows draws a prompt's values one after another, interleaved with
its stories' words, because block 0 must repeat the single stream the simulator always
drew (the default, 1,000 prompts, is block 0 and stays the same to the byte). A block of
its own stream owes no such order, so here the same model is drawn in the order that
costs least: every prompt's values as arrays, then every story's values as arrays,
then all the stories' words, one story after another (story_kernel.stories_bytes).
A block's rows take a tenth of the CPU of drawing them in order (0.27 s against 2.5 s
for 5,000 prompts), whose Python steps per draw made a million comments take minutes.

The model is simulated_rows' and story_writer's (tests/sources/test_batched_rows.py
compares the two layouts' statistics); only which random number goes where differs.
"""

import math

import numpy as np

from stages.common.config import SimulateConfig
from stages.simulator.simulated_rows import (
    AUTOMOD_BODY,
    REPLIES,
    REPLY,
    SECONDS_PER_PROMPT,
    STICKY,
    STORY,
    SimulatedRows,
)
from stages.simulator.story_kernel import AT, stories_bytes
from stages.simulator.story_writer import CLAUSES_AT_MOST, MAX_STORY_RAWS, STORY_RAWS, prompt_title, style_shares
from stages.simulator.vocabulary import THEMES

RAWS_PER_CHUNK = 2**20  # the words' raws are drawn this many at a time (8 MiB)
STORY_BYTES_PER_CHUNK = 2**24  # and written into buffers of this size (16 MiB)


def batched_rows(config: SimulateConfig, rng: np.random.Generator, skills: np.ndarray, prompts: range) -> SimulatedRows:
    """The rows of these prompts, in simulated_rows.draw_rows' order of rows."""
    n = len(prompts)
    index = np.arange(prompts.start, prompts.stop, dtype=np.int64)
    theme = rng.integers(len(THEMES), size=n)
    created = config.start_utc + index * SECONDS_PER_PROMPT + rng.integers(SECONDS_PER_PROMPT, size=n)
    popularity = rng.lognormal(0.0, config.popularity_sigma, size=n)
    titles = prompt_titles(rng, theme)
    # Popular prompts collect more votes themselves, not only for their stories.
    submission_scores = 1 + rng.poisson(3.0 * config.base_votes * popularity)
    prompters = rng.integers(config.n_writers, size=n)
    one_story = rng.random(n) < config.one_story_share
    n_stories = np.where(one_story, 1, 2 + rng.poisson(config.stories_per_prompt - 2.0, size=n))

    story_prompt = np.repeat(np.arange(n), n_stories)  # each story's prompt, 0 .. n - 1
    m = len(story_prompt)
    writer = rng.integers(config.n_writers, size=m)
    form = rng.normal(0.0, 0.1, size=m)
    delay_s = rng.lognormal(math.log(config.delay_median_h * 3600.0), config.delay_sigma, size=m)
    skill = np.clip(skills[writer] + form, 0.0, 1.0)  # the writer's form on the day
    # Weak writers sometimes ignore the prompt and write about something else.
    off_topic = rng.random(m) < 0.3 * (1.0 - skill)
    story_theme = np.where(off_topic, rng.integers(len(THEMES), size=m), theme[story_prompt])
    # Skilled writers land near a sensible length; weak ones write stubs or rambles.
    n_sentences = np.clip(np.rint(7 * np.exp(rng.normal(0.0, 1.2 * (1.0 - skill)))), 1, 30).astype(np.int64)
    replied = rng.random(m) < config.reply_share
    reply_body, reply_after_s, reader = (
        rng.integers(len(REPLIES), size=m),
        rng.integers(60, 7200, size=m),
        rng.integers(10**6, size=m),
    )
    bodies = story_texts(rng, story_theme, skill, n_sentences)

    # Rows: each prompt's sticky, then each of its stories, followed by its reply if any.
    rows_before_story = np.cumsum(1 + replied) - (1 + replied)  # story and reply rows of the earlier stories
    first_story = np.cumsum(n_stories) - n_stories
    story_row = story_prompt + 1 + rows_before_story
    sticky_row = np.arange(n) + rows_before_story[first_story]
    reply_row = (story_row + 1)[replied]
    n_rows = n + m + int(replied.sum())
    story_created = created[story_prompt] + delay_s.astype(np.int64)

    kind, prompt_of = np.empty(n_rows, dtype=np.int64), np.empty(n_rows, dtype=np.int64)
    body, author = np.empty(n_rows, dtype=object), np.empty(n_rows, dtype=object)
    comment_created = np.empty(n_rows, dtype=np.int64)
    kind[sticky_row], kind[story_row], kind[reply_row] = STICKY, STORY, REPLY
    prompt_of[sticky_row], prompt_of[story_row], prompt_of[reply_row] = (
        index,
        index[story_prompt],
        index[story_prompt][replied],
    )
    body[sticky_row], body[story_row] = AUTOMOD_BODY, bodies
    body[reply_row] = np.array(REPLIES, dtype=object)[reply_body[replied]]
    author[sticky_row] = "AutoModerator"
    author[story_row] = [f"writer_{number}" for number in writer.tolist()]
    author[reply_row] = [f"reader_{number}" for number in reader[replied].tolist()]
    comment_created[sticky_row], comment_created[story_row] = created + 1, story_created
    comment_created[reply_row] = (story_created + reply_after_s)[replied]
    return SimulatedRows(
        titles=titles,
        created=created.tolist(),
        popularity=popularity.tolist(),
        submission_scores=submission_scores.tolist(),
        prompters=[f"prompter_{number}" for number in prompters.tolist()],
        kind=kind.tolist(),
        prompt_of=prompt_of.tolist(),
        body=body.tolist(),
        comment_created=comment_created.tolist(),
        author=author.tolist(),
        delay_s=delay_s.tolist(),
    )


def prompt_titles(rng: np.random.Generator, theme: np.ndarray) -> list[str]:
    """story_writer.write_prompt's titles: a template of the theme, filled with one of its
    nouns and adjectives (every theme has as many of each)."""
    n = len(theme)
    template = rng.integers(len(THEMES[0].prompt_templates), size=n)
    noun, adjective = rng.integers(len(THEMES[0].nouns), size=n), rng.integers(len(THEMES[0].adjectives), size=n)
    return [
        prompt_title(THEMES[t].prompt_templates[p], THEMES[t].nouns[o], THEMES[t].adjectives[a])
        for t, p, o, a in zip(theme.tolist(), template.tolist(), noun.tolist(), adjective.tolist(), strict=True)
    ]


def clause_chances(clause_chance: np.ndarray) -> np.ndarray:
    """binomial(2, p)'s chances of 0, 1, 2 successes at min(p, 1 - p) (numpy's inversion,
    as replayed_draws.inversion_chances makes them), a row per story."""
    p = np.minimum(clause_chance, 1.0 - clause_chance)
    q = 1.0 - p
    with np.errstate(divide="ignore"):
        none = np.exp(CLAUSES_AT_MOST * np.log(q))
    one = (CLAUSES_AT_MOST * p * none) / q
    two = ((CLAUSES_AT_MOST - 1) * p * one) / (2 * q)
    return np.stack([none, one, two], axis=1)


def story_texts(rng: np.random.Generator, theme: np.ndarray, skill: np.ndarray, n_sentences: np.ndarray) -> list[str]:
    """Each story's words, drawn from rng's raws one story after another."""
    shares = style_shares(skill)
    chances = clause_chances(shares.clause_chance)
    chance_counts = np.where(shares.clause_chance > 0, CLAUSES_AT_MOST + 1, 0)
    count_failures = shares.clause_chance > 0.5
    m = len(theme)
    state, resume = np.zeros(3, dtype=np.uint64), np.zeros(4, dtype=np.uint64)
    raws = np.zeros(0, dtype=np.uint64)
    out, ends = np.empty(STORY_BYTES_PER_CHUNK, dtype=np.uint8), np.empty(m, dtype=np.int64)
    texts: list[str] = []
    story, margin = 0, STORY_RAWS
    while story < m:
        if len(raws) - int(state[AT]) < margin:
            raws = np.concatenate([raws[int(state[AT]) :], rng.bit_generator.random_raw(max(RAWS_PER_CHUNK, margin))])
            state[AT] = 0
        first = story
        try:
            story = stories_bytes(
                raws,
                state,
                resume,
                first,
                theme,
                shares.theme_share,
                shares.vivid_share,
                chances,
                chance_counts,
                count_failures,
                shares.short_sentence_chance,
                shares.repeat_chance,
                n_sentences,
                margin,
                out,
                ends,
            )
        except IndexError:  # a story ran past `margin` raws: write it again with more
            story, state[:] = int(resume[0]), resume[1:]
            margin *= 2
            if margin > MAX_STORY_RAWS:
                raise RuntimeError(f"a story drew more than {MAX_STORY_RAWS} raws: a bug in the story writer") from None
        written = out[: ends[story - 1]].tobytes().decode("ascii") if story > first else ""
        starts = np.concatenate([[0], ends[first : story - 1]]).tolist()
        texts += [written[start:end] for start, end in zip(starts, ends[first:story].tolist(), strict=False)]
    return texts
