"""The story grammar compiled (numba): a story's words drawn from a window of raw
generator output and written as bytes, with no Python call per draw.

The simulator's stories are its main cost: a million comments hold ~90 million word
draws, each dependent on the last, so they cannot be drawn as arrays, and in CPython
even a draw written out inline costs about half a microsecond. Compiled, the same
recipes (ReplayedDraws': random() as the top 53 bits of a raw, Lemire's bounded
integers on 32-bit halves, binomial by inversion) run in a few nanoseconds a draw; the
same draws in the same order give the same text to the byte, which
tests/sources/test_story_writer.py checks against the grammar drawn call by call.

The words live in one byte string, WORD_BYTES; a pool is a run of consecutive words in
it (first word, count), so a pick is an index and writing a word a copy of its bytes.
Which pool a draw takes from is the grammar (story_writer.py's docstring). numba
compiles on first use and caches the machine code beside this file (cache=True).
"""

import numpy as np
from numba import njit

from stages.simulator.vocabulary import (
    BLAND_ADJECTIVES,
    BLAND_VERBS,
    CONNECTORS,
    NEUTRAL_NOUNS,
    PLACES,
    SUBJECTS,
    THEMES,
    VIVID_ADJECTIVES,
    VIVID_VERBS,
)

LOW_32 = np.uint64(0xFFFF_FFFF)
DOUBLE_UNIT = 1.0 / 2**53
# The room a story may take: 30 sentences of at most 512 bytes (the vocabulary's longest
# sentence has 174; tests/sources/test_story_kernel.py keeps the bound). numba does not
# check bounds, so a story longer than its buffer would write past it.
MAX_SENTENCES = 30
MAX_SENTENCE_BYTES = 512
MAX_STORY_BYTES = MAX_SENTENCES * MAX_SENTENCE_BYTES
# The draws' state, an array of three uint64 that the draws move: the next raw's
# position, whether a 32-bit half of the last raw is kept, and that half.
AT, HAS_HALF, HALF = 0, 1, 2


def first_upper(word: str) -> str:
    return word[0].upper() + word[1:]


def word_table() -> tuple[dict[str, tuple[int, int]], list[str]]:
    """Every pool's (first word, count) in one list of words, and that list."""
    pools = {
        "first_subjects": tuple(first_upper(subject) for subject in SUBJECTS),  # a sentence starts capitalised
        "subjects": SUBJECTS,
        "connectors": CONNECTORS,
        "places": PLACES,
        "neutral_nouns": NEUTRAL_NOUNS,
        "vivid_verbs": VIVID_VERBS,
        "bland_verbs": BLAND_VERBS,
        "vivid_adjectives": VIVID_ADJECTIVES,
        "bland_adjectives": BLAND_ADJECTIVES,
        "the": ("the",),
    }
    for index, theme in enumerate(THEMES):
        pools |= {f"verbs_{index}": theme.verbs, f"adjectives_{index}": theme.adjectives, f"nouns_{index}": theme.nouns}
    spans, words = {}, []
    for name, pool in pools.items():
        spans[name] = (len(words), len(pool))
        words.extend(pool)
    return spans, words


SPANS, WORDS = word_table()
_encoded = [word.encode("ascii") for word in WORDS]
WORD_BYTES = np.frombuffer(b"".join(_encoded), dtype=np.uint8)
WORD_STARTS = np.cumsum([0] + [len(word) for word in _encoded[:-1]]).astype(np.int64)
WORD_LENGTHS = np.array([len(word) for word in _encoded], dtype=np.int64)
# The fixed pools as arrays [first, count]; the themes' as [theme, verbs | adjectives | nouns, (first, count)].
(
    FIRST_SUBJECTS,
    SUBJECT_POOL,
    CONNECTOR_POOL,
    PLACE_POOL,
    NEUTRAL_NOUN_POOL,
    VIVID_VERB_POOL,
    BLAND_VERB_POOL,
    VIVID_ADJECTIVE_POOL,
    BLAND_ADJECTIVE_POOL,
    THE,
) = (
    np.array(SPANS[name], dtype=np.int64)
    for name in (
        "first_subjects",
        "subjects",
        "connectors",
        "places",
        "neutral_nouns",
        "vivid_verbs",
        "bland_verbs",
        "vivid_adjectives",
        "bland_adjectives",
        "the",
    )
)
THEME_POOLS = np.array(
    [[SPANS[f"{kind}_{index}"] for kind in ("verbs", "adjectives", "nouns")] for index in range(len(THEMES))],
    dtype=np.int64,
)
VERBS, ADJECTIVES, NOUNS = 0, 1, 2


@njit(cache=True)
def uniform(raws, state):
    """random(): the next raw as a double in [0, 1)."""
    at = state[AT]
    if at >= raws.shape[0]:
        raise IndexError()
    state[AT] = at + np.uint64(1)
    return float(raws[at] >> np.uint64(11)) * DOUBLE_UNIT


@njit(cache=True)
def pick(raws, state, first, count):
    """integers(count) on 32-bit halves (Lemire's, with rejection), as a word index from
    `first`. One word draws nothing."""
    if count == 1:
        return first
    span = np.uint64(count)
    # Lemire's: a low word below span may lie in the biased sliver, below (2**32 - span) % span.
    threshold = span
    while True:
        if state[HAS_HALF]:
            state[HAS_HALF] = 0
            product = state[HALF] * span
        else:
            at = state[AT]
            if at >= raws.shape[0]:
                raise IndexError()
            raw = raws[at]
            product = (raw & LOW_32) * span
            state[AT], state[HAS_HALF], state[HALF] = at + np.uint64(1), 1, raw >> np.uint64(32)
        if (product & LOW_32) >= threshold:
            return first + np.int64(product >> np.uint64(32))
        if threshold == span:
            threshold = (np.uint64(2**32) - span) % span
            if (product & LOW_32) >= threshold:
                return first + np.int64(product >> np.uint64(32))


@njit(cache=True)
def styled_pick(raws, state, theme_share, vivid_share, theme_pool, vivid_pool, bland_pool):
    """The theme's word, or else a vivid or a bland one (a verb or an adjective)."""
    if uniform(raws, state) < theme_share:
        return pick(raws, state, theme_pool[0], theme_pool[1])
    if uniform(raws, state) < vivid_share:
        return pick(raws, state, vivid_pool[0], vivid_pool[1])
    return pick(raws, state, bland_pool[0], bland_pool[1])


@njit(cache=True)
def clause_count(raws, state, chances, count_failures):
    """binomial(2, clause_chance) by inversion over `chances` (its chances of 0, 1, 2
    successes, at min(p, 1 - p)), drawing again past the bound as numpy does."""
    while True:
        chance = uniform(raws, state)
        for successes in range(chances.shape[0]):
            if chance <= chances[successes]:
                return 2 - successes if count_failures else successes
            chance -= chances[successes]


@njit(cache=True)
def written(out, end, word):
    """Copy word `word`'s bytes to out at `end`; the end after them."""
    start, length = WORD_STARTS[word], WORD_LENGTHS[word]
    out[end : end + length] = WORD_BYTES[start : start + length]
    return end + length


@njit(cache=True)
def spaced(out, end, word):
    out[end] = 32  # " "
    return written(out, end + 1, word)


@njit(cache=True)
def story_bytes(
    raws,
    state,
    theme,
    theme_share,
    vivid_share,
    clause_chances,
    count_failures,
    short_chance,
    repeat_chance,
    n_sentences,
    out,
):
    """One story's bytes into `out` (its length returned), drawn from raws from state:
    [position, has a kept half, the half] (uint64), which it moves past them. Raises
    IndexError if raws end before the story does (state is then partly moved).

    The draws, as story_writer's grammar makes them: a sentence after the first is a
    repeat of an earlier one with repeat_chance; else it is short (subject, verb) with
    short_chance, or long: its adjective first (written after "the"), then subject,
    verb and noun, binomial(2, clause_chance) clauses (connector, subject, verb, noun;
    clause_chances is empty at clause_chance 0, where numpy draws nothing), and with
    chance 1/2 a place."""
    verbs, adjectives, nouns = THEME_POOLS[theme, VERBS], THEME_POOLS[theme, ADJECTIVES], THEME_POOLS[theme, NOUNS]
    sentence_starts = np.empty(MAX_SENTENCES, dtype=np.int64)
    sentence_ends = np.empty(MAX_SENTENCES, dtype=np.int64)
    end = 0
    for sentence in range(n_sentences):
        if sentence > 0:
            out[end] = 32  # " "
            end += 1
        sentence_starts[sentence] = end
        if sentence > 0 and uniform(raws, state) < repeat_chance:
            earlier = pick(raws, state, 0, sentence)
            length = sentence_ends[earlier] - sentence_starts[earlier]
            out[end : end + length] = out[sentence_starts[earlier] : sentence_ends[earlier]]
            end += length
            sentence_ends[sentence] = end
            continue
        short = uniform(raws, state) < short_chance
        adjective = 0
        if not short:
            adjective = styled_pick(
                raws, state, theme_share, vivid_share, adjectives, VIVID_ADJECTIVE_POOL, BLAND_ADJECTIVE_POOL
            )
        subject = pick(raws, state, FIRST_SUBJECTS[0], FIRST_SUBJECTS[1])
        verb = styled_pick(raws, state, theme_share, vivid_share, verbs, VIVID_VERB_POOL, BLAND_VERB_POOL)
        end = spaced(out, written(out, end, subject), verb)
        if not short:
            noun = themed_noun(raws, state, theme_share, nouns)
            end = spaced(out, spaced(out, spaced(out, end, THE[0]), adjective), noun)
            clauses = clause_count(raws, state, clause_chances, count_failures) if clause_chances.shape[0] > 0 else 0
            for _ in range(clauses):
                connector = pick(raws, state, CONNECTOR_POOL[0], CONNECTOR_POOL[1])
                subject = pick(raws, state, SUBJECT_POOL[0], SUBJECT_POOL[1])
                verb = styled_pick(raws, state, theme_share, vivid_share, verbs, VIVID_VERB_POOL, BLAND_VERB_POOL)
                noun = themed_noun(raws, state, theme_share, nouns)
                end = spaced(out, spaced(out, spaced(out, spaced(out, end, connector), subject), verb), THE[0])
                end = spaced(out, end, noun)
            if uniform(raws, state) < 0.5:  # half the long sentences end in a place
                end = spaced(out, end, pick(raws, state, PLACE_POOL[0], PLACE_POOL[1]))
        out[end] = 46  # "."
        end += 1
        sentence_ends[sentence] = end
    return end


@njit(cache=True)
def themed_noun(raws, state, theme_share, nouns):
    """The theme's noun, or else a neutral one."""
    if uniform(raws, state) < theme_share:
        return pick(raws, state, nouns[0], nouns[1])
    return pick(raws, state, NEUTRAL_NOUN_POOL[0], NEUTRAL_NOUN_POOL[1])


@njit(cache=True)
def stories_bytes(
    raws,
    state,
    resume,
    first_story,
    themes,
    theme_shares,
    vivid_shares,
    clause_chances,
    chance_counts,
    count_failures,
    short_chances,
    repeat_chances,
    n_sentences,
    margin,
    out,
    ends,
):
    """Stories first_story, first_story + 1, ... written one after another into out, each
    ending at ends[story]; returns the next story to write. Stops before a story when
    fewer than `margin` raws are left or out has less than MAX_STORY_BYTES of room.
    Before each story, resume holds [story, state...], where to start again should a
    story run past the raws (IndexError) all the same."""
    end = 0
    story = first_story
    while story < themes.shape[0]:
        if raws.shape[0] - state[AT] < margin or out.shape[0] - end < MAX_STORY_BYTES:
            break
        resume[0], resume[1:] = story, state
        end += story_bytes(
            raws,
            state,
            themes[story],
            theme_shares[story],
            vivid_shares[story],
            clause_chances[story, : chance_counts[story]],
            count_failures[story],
            short_chances[story],
            repeat_chances[story],
            n_sentences[story],
            out[end:],
        )
        ends[story] = end
        story += 1
    return story
