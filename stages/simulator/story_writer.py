"""How the simulated writers write: a style that follows their skill, and sentences of
the grammar (grammar.py) whose words come from the pools the style picks.

A story's style is its theme (weak writers sometimes ignore the prompt's), its length
in sentences (near 7 for skilled writers, stubs or rambles for weak ones) and the
chances of StyleShares, each following skill. Each sentence after the first repeats
an earlier one with repeat_chance; else it is short (SHORT_SENTENCE) with
short_sentence_chance, or long: LONG_SENTENCE, binomial(CLAUSES_AT_MOST,
clause_chance) CLAUSEs and, half the time, a place; and with slip_chance it loses a
word, so that it is no longer a sentence of the grammar. A verb or adjective slot takes one
of the theme's words with theme_share, else a vivid one with vivid_share, else a bland
one; a noun slot the theme's with theme_share, else a neutral one; any other slot any
phrase of its class.

A block's stories are drawn at once, as arrays: the sentences' forms, then every
slot's pool and phrase. The text is gathered from a table of each phrase as it may be
written (capitalised or not, followed by " ", "." or ". "), so the 50-odd million words
of a million comments take no Python step each; a story takes one, to cut its text.
"""

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from stages.simulator.grammar import (
    CLAUSE,
    CLAUSES_AT_MOST,
    LONG_SENTENCE,
    SHORT_SENTENCE,
    WORD_CLASSES,
    sentence_forms,
)
from stages.simulator.vocabulary import (
    BLAND_ADJECTIVES,
    BLAND_VERBS,
    NEUTRAL_NOUNS,
    THEMES,
    VIVID_ADJECTIVES,
    VIVID_VERBS,
)

PLACE_CHANCE = 0.5  # of a long sentence ending in a place
# Writers slip: a sentence written afresh loses one of its words (never its optional place),
# which no sentence of the grammar can survive. Readers notice, as gold's fluency does, so
# the votes, and the reward model learnt from them, carry what prose is.
SLIP_CHANCE_AT_SKILL_0 = 0.3


@dataclass(frozen=True)
class StyleShares:
    """The chances of a writer's style, each a float, or an array of them for an array of skills."""

    theme_share: float | np.ndarray
    vivid_share: float | np.ndarray
    clause_chance: float | np.ndarray
    short_sentence_chance: float | np.ndarray
    repeat_chance: float | np.ndarray
    slip_chance: float | np.ndarray


def style_shares(skill: float | np.ndarray) -> StyleShares:
    """Every share rises with the writer's skill; repeats and slips fall with it."""
    return StyleShares(
        theme_share=0.05 + 0.35 * skill,
        vivid_share=0.1 + 0.9 * skill,
        clause_chance=0.6 * skill,
        short_sentence_chance=0.25 * skill,
        repeat_chance=0.5 * (1.0 - skill) ** 2,
        slip_chance=SLIP_CHANCE_AT_SKILL_0 * (1.0 - skill),
    )


@dataclass(frozen=True)
class WritingStyles:
    """How each of a batch of stories is written."""

    theme: np.ndarray  # an index into THEMES
    n_sentences: np.ndarray
    shares: StyleShares  # of arrays


def writing_styles(rng: np.random.Generator, prompt_theme: np.ndarray, skill: np.ndarray) -> WritingStyles:
    """The styles of stories for prompts of these themes by writers of these skills."""
    n = len(skill)
    # Weak writers sometimes ignore the prompt and write about something else.
    off_topic = rng.random(n) < 0.3 * (1.0 - skill)
    theme = np.where(off_topic, rng.integers(len(THEMES), size=n), prompt_theme)
    # Skilled writers land near a sensible length; weak ones write stubs or rambles.
    n_sentences = np.clip(np.rint(7 * np.exp(rng.normal(0.0, 1.2 * (1.0 - skill)))), 1, 30).astype(np.int64)
    return WritingStyles(theme, n_sentences, style_shares(np.asarray(skill, dtype=np.float64)))


def class_pools(word_class: str, theme: int) -> tuple[tuple[str, ...], ...]:
    """The pools of a slot of this class in a story of this theme, by the style's choice:
    themed, vivid or bland."""
    words = THEMES[theme]
    if word_class == "verb":
        return words.verbs, VIVID_VERBS, BLAND_VERBS
    if word_class == "adjective":
        return words.adjectives, VIVID_ADJECTIVES, BLAND_ADJECTIVES
    if word_class == "noun":
        return words.nouns, NEUTRAL_NOUNS, NEUTRAL_NOUNS
    return (WORD_CLASSES[word_class],) * 3


def phrase_table() -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """Every pool's phrases end to end; each pool's first phrase and size; and the pool of
    each [class, theme, choice]."""
    phrases, first, size, index_of = [], [], [], {}
    pool_of = np.empty((len(WORD_CLASSES), len(THEMES), 3), dtype=np.int64)
    for c, word_class in enumerate(WORD_CLASSES):
        for theme in range(len(THEMES)):
            for choice, pool in enumerate(class_pools(word_class, theme)):
                if pool not in index_of:
                    index_of[pool] = len(first)
                    first.append(len(phrases))
                    size.append(len(pool))
                    phrases.extend(pool)
                pool_of[c, theme, choice] = index_of[pool]
    return phrases, np.array(first), np.array(size), pool_of


PHRASES, POOL_FIRST, POOL_SIZE, POOL_OF = phrase_table()
# The grammar's sentence forms, end to end as class indices: form f is FORM_CLASSES[FORM_START[f]:][:FORM_LENGTH[f]].
FORMS = sentence_forms()
FORM_CLASSES = np.array([list(WORD_CLASSES).index(word_class) for form in FORMS for word_class in form])
FORM_LENGTH = np.array([len(form) for form in FORMS])
FORM_START = np.cumsum(FORM_LENGTH) - FORM_LENGTH
SHORT_FORM = FORMS.index(SHORT_SENTENCE)
FORM_HAS_PLACE = np.array(["place" in form for form in FORMS], dtype=np.int64)  # a place always ends its form
LONG_FORMS = np.array(  # [clauses, place]
    [[FORMS.index(LONG_SENTENCE + CLAUSE * n + ("place",) * p) for p in (0, 1)] for n in range(CLAUSES_AT_MOST + 1)]
)
# A phrase as it may be written, a token: phrase * TOKENS_PER_PHRASE + capitalised * CAPITALISED + its end.
ENDS = (" ", ".", ". ")  # inside its sentence, ending its story, ending a sentence before another
STORY_END, SENTENCE_END = ENDS.index("."), ENDS.index(". ")
CAPITALISED, TOKENS_PER_PHRASE = len(ENDS), 2 * len(ENDS)
TOKENS = [
    (phrase[0].upper() + phrase[1:] if capitalised else phrase) + end
    for phrase in PHRASES
    for capitalised in (False, True)
    for end in ENDS
]
TOKEN_LENGTH = np.array([len(token) for token in TOKENS])
TOKEN_TEXTS = pa.array(TOKENS, pa.large_string())


def runs(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """starts[i], starts[i] + 1, ... (lengths[i] of them), run after run."""
    ends = np.cumsum(lengths)
    return np.arange(ends[-1] if len(ends) else 0) + np.repeat(starts - (ends - lengths), lengths)


def write_stories(rng: np.random.Generator, styles: WritingStyles) -> list[str]:
    """Each story's text: every sentence's form, then every slot's phrase, drawn as arrays."""
    shares = styles.shares
    story = np.repeat(np.arange(len(styles.theme)), styles.n_sentences)  # each sentence's story
    n = len(story)
    first_sentence = np.cumsum(styles.n_sentences) - styles.n_sentences
    position = np.arange(n) - first_sentence[story]
    # A repeat copies an earlier sentence of its story, which may be a copy itself.
    repeat = (position > 0) & (rng.random(n) < shares.repeat_chance[story])
    source = np.where(repeat, first_sentence[story] + rng.integers(np.maximum(position, 1)), np.arange(n))
    while (source[source] != source).any():
        source = source[source]
    short = rng.random(n) < shares.short_sentence_chance[story]
    clauses = rng.binomial(CLAUSES_AT_MOST, shares.clause_chance[story])
    place = rng.random(n) < PLACE_CHANCE
    form = np.where(short, SHORT_FORM, LONG_FORMS[clauses, place.astype(np.int64)])

    # The slots of the sentences written afresh: each one's pool, by the style's choice, and phrase.
    length = np.where(repeat, 0, FORM_LENGTH[form])
    slot_story = np.repeat(story, length)
    not_bland = shares.theme_share + shares.vivid_share * (1.0 - shares.theme_share)
    chance = rng.random(len(slot_story))
    choice = (chance >= shares.theme_share[slot_story]).astype(np.int64) + (chance >= not_bland[slot_story])
    pool = POOL_OF[FORM_CLASSES[runs(FORM_START[form], length)], styles.theme[slot_story], choice]
    phrase = POOL_FIRST[pool] + rng.integers(POOL_SIZE[pool])
    phrase, length = slipped(rng, phrase, length, form, ~repeat & (rng.random(n) < shares.slip_chance[story]))

    # Every sentence written out (a copy as its source) as tokens.
    written = length[source]
    last = np.cumsum(written) - 1  # each sentence's last token
    token = TOKENS_PER_PHRASE * phrase[runs((np.cumsum(length) - length)[source], written)]
    token[last - written + 1] += CAPITALISED
    token[last] += np.where(position == styles.n_sentences[story] - 1, STORY_END, SENTENCE_END)
    story_ends = np.cumsum(TOKEN_LENGTH[token])[last[first_sentence + styles.n_sentences - 1]]
    return story_texts(token, story_ends)


def slipped(
    rng: np.random.Generator, phrase: np.ndarray, length: np.ndarray, form: np.ndarray, slip: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The slots' phrases and the sentences' lengths after each slipping sentence drops one
    of its words other than a place."""
    droppable = length - FORM_HAS_PLACE[form]
    dropped = (np.cumsum(length) - length + rng.integers(np.maximum(droppable, 1)))[slip]
    keep = np.ones(len(phrase), dtype=bool)
    keep[dropped] = False
    return phrase[keep], length - slip


def story_texts(token: np.ndarray, story_ends: np.ndarray) -> list[str]:
    """The tokens' texts end to end (Arrow's take copies them, in C), cut into stories where each ends."""
    data = TOKEN_TEXTS.take(pa.array(token)).buffers()[2]
    text = data.to_pybytes().decode("ascii") if data is not None else ""
    ends = story_ends.tolist()
    return [text[start:end] for start, end in zip([0, *ends][:-1], ends, strict=True)]


TEMPLATES, NOUNS, ADJECTIVES = (
    np.array([len(getattr(theme, part)) for theme in THEMES]) for part in ("prompt_templates", "nouns", "adjectives")
)


def prompt_titles(rng: np.random.Generator, theme: np.ndarray) -> list[str]:
    """Each prompt's title: a template of its theme, filled with one of its nouns and
    adjectives, tagged [WP]."""
    template, noun, adjective = (rng.integers(counts[theme]) for counts in (TEMPLATES, NOUNS, ADJECTIVES))
    return [
        "[WP] " + THEMES[t].prompt_templates[p].format(n=THEMES[t].nouns[o], a=THEMES[t].adjectives[a])
        for t, p, o, a in zip(theme.tolist(), template.tolist(), noun.tolist(), adjective.tolist(), strict=True)
    ]
