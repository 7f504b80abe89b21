"""gold() for many stories at once: the same values, to the last bit, with no Python
step per word.

rank scores every story with gold (700,000 at a million comments), and so does the
simulator; story by story, that was most of their time. Here the words of a batch of
texts are found at once, in the bytes of their Arrow buffers, and each part of gold.py
is computed over every story's words with numpy, by the same floating-point operations
in the same order, so that the totals are equal and not merely close. Two of them need
care, noted where they happen (squares, and sums in order).

A text that is not ASCII goes to gold() itself: str.lower() turns a few non-ASCII
letters into ASCII ones ("İ" becomes "i" and a combining dot), which the byte-wise
lower-casing here would not.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from stages.simulator.gold import (
    CONTENT_WEIGHTS,
    FORM_WEIGHT,
    REPETITION_WEIGHT,
    TOPIC_SATURATION,
    UNFINISHED_FORM,
    VARIETY_SATURATION,
    VIVID_SATURATION,
    gold,
    length_part,
    prompt_theme,
)
from stages.simulator.grammar import acceptor
from stages.simulator.vocabulary import BLAND_WORDS, THEMES, VIVID_WORDS

REPEAT_NGRAM = 4
NO_THEME = -1
STORIES_PER_BATCH = 2**15  # bounds the byte and word arrays of a batch (~15 MB of text)
LARGEST_KEY = 2**62

LOWER_CASE_BIT = np.uint8(0x20)


@dataclass(frozen=True)
class Words:
    """Every word of a batch of ASCII texts, in text order (gold.words_of of each)."""

    text: np.ndarray  # the text each word is in
    code: np.ndarray  # the word's index in vocabulary
    sentence: np.ndarray  # a key per sentence (gold's SENTENCE_END pieces), rising through the texts
    ended: np.ndarray  # whether an end mark follows the word in its text: its sentence is finished
    vocabulary: list[str]
    n_texts: int


def words(texts: pa.Array) -> Words:
    """Read straight from the Arrow buffers: pyarrow's regex kernels are no faster than re."""
    texts = pc.fill_null(texts.combine_chunks() if isinstance(texts, pa.ChunkedArray) else texts, "")
    offsets = np.frombuffer(texts.buffers()[1], dtype=np.int64)[texts.offset : texts.offset + len(texts) + 1]
    data = texts.buffers()[2]
    text_bytes = (
        np.frombuffer(data, dtype=np.uint8)[offsets[0] : offsets[-1]] if data is not None else np.zeros(0, np.uint8)
    )
    offsets = offsets - offsets[0]

    # ASCII letters are the bytes that OR 32 maps into a-z (it lower-cases them, and keeps "'").
    lowered = text_bytes | LOWER_CASE_BIT
    in_word = ((lowered >= ord("a")) & (lowered <= ord("z"))) | (text_bytes == ord("'"))
    starts, ends = run_bounds(in_word)
    # The texts lie end to end in the buffer: a word also ends where its text does.
    inner = np.unique(offsets[(offsets > 0) & (offsets < len(text_bytes))])
    joined = inner[in_word[inner] & in_word[inner - 1]]
    starts, ends = merged(starts, joined), merged(ends, joined)
    is_end = (text_bytes == ord(".")) | (text_bytes == ord("!")) | (text_bytes == ord("?"))
    # A sentence ends at each run of [.!?], and each text starts a new one.
    sentence_starts = merged(run_bounds(is_end)[0], offsets[:-1])

    word_offsets = np.concatenate([[0], np.cumsum(ends - starts)]).astype(np.int64)
    flat = pa.LargeStringArray.from_buffers(
        len(starts), pa.py_buffer(word_offsets), pa.py_buffer(lowered[in_word].tobytes())
    )
    encoded = pc.dictionary_encode(flat)
    text = index_of_span(offsets, starts)
    ends_before = np.concatenate([[0], np.cumsum(is_end)])  # end marks in text_bytes[:i]
    return Words(
        text=text,
        code=encoded.indices.to_numpy().astype(np.int64),
        sentence=index_of_span(sentence_starts, starts),
        ended=ends_before[offsets[text + 1]] > ends_before[ends],
        vocabulary=encoded.dictionary.to_pylist(),
        n_texts=len(texts),
    )


def run_bounds(flags: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where each run of True starts, and where it ends (exclusive)."""
    changes = np.flatnonzero(np.diff(flags, prepend=False, append=False))
    return changes[0::2], changes[1::2]


def merged(sorted_positions: np.ndarray, more: np.ndarray) -> np.ndarray:
    """Two sets of positions, the first sorted, as one sorted array (`more` is usually tiny)."""
    more = np.sort(more)
    return np.insert(sorted_positions, np.searchsorted(sorted_positions, more), more)


def index_of_span(span_starts: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """For sorted positions, the index of the last span start at or before each: the span
    (text, sentence) it is in. Counted span by span, since spans are the fewer."""
    per_span = np.diff(np.searchsorted(positions, span_starts), append=len(positions))
    return np.repeat(np.arange(len(span_starts)), per_span)


def batch_gold(prompts: Sequence[str], stories: Sequence[str]) -> np.ndarray:
    """gold(prompt, story) for each pair."""
    prompts, stories = arrow_texts(prompts), arrow_texts(stories)
    themes = story_themes(prompts.combine_chunks())
    golds = np.empty(len(stories))
    for start in range(0, len(stories), STORIES_PER_BATCH):
        batch = slice(start, start + STORIES_PER_BATCH)
        golds[batch] = ascii_gold(words(stories[batch]), themes[batch])
    for index in np.flatnonzero(~(is_ascii(prompts) & is_ascii(stories))):
        golds[index] = gold(prompts[index].as_py(), stories[index].as_py())
    return golds


def arrow_texts(texts: Sequence[str]) -> pa.ChunkedArray:
    """Texts as Arrow large strings; a pandas string column is wrapped, not copied."""
    array = pa.array(texts, pa.large_string())
    return array if isinstance(array, pa.ChunkedArray) else pa.chunked_array([array])


def is_ascii(texts: pa.Array) -> np.ndarray:
    return pc.fill_null(pc.string_is_ascii(texts), True).to_numpy(zero_copy_only=False)


def theme_membership(vocabulary: list[str]) -> np.ndarray:
    """(words, themes): whether each word is one of each theme's words."""
    return np.array([[word in theme.words for theme in THEMES] for word in vocabulary], dtype=bool).reshape(
        -1, len(THEMES)
    )


def story_themes(prompts: pa.Array) -> np.ndarray:
    """gold.prompt_theme of each story's prompt as an index into THEMES (NO_THEME for
    None), found once per distinct prompt."""
    encoded = pc.dictionary_encode(prompts)
    distinct = encoded.dictionary
    found = words(distinct)
    counts = np.zeros((len(distinct), len(THEMES)), dtype=np.int64)
    np.add.at(counts, found.text, theme_membership(found.vocabulary)[found.code])
    # argmax takes the first of equal counts, as counts.index(best) does.
    themes = np.where(counts.max(axis=1, initial=0) > 0, counts.argmax(axis=1), NO_THEME)
    index_of = {theme.name: index for index, theme in enumerate(THEMES)}
    for index in np.flatnonzero(~is_ascii(distinct)):
        name = prompt_theme(distinct[index].as_py())
        themes[index] = NO_THEME if name is None else index_of[name]
    return themes[encoded.indices.to_numpy()]


def ascii_gold(found: Words, themes: np.ndarray) -> np.ndarray:
    n = found.n_texts
    n_words = np.bincount(found.text, minlength=n)
    has_words = n_words > 0
    safe_words = np.maximum(n_words, 1)

    word_theme = themes[found.text]
    on_theme = theme_membership(found.vocabulary)[found.code, word_theme] & (word_theme != NO_THEME)
    topic_share = np.bincount(found.text, weights=on_theme, minlength=n) / safe_words
    topic = np.where(has_words & (themes != NO_THEME), np.minimum(1.0, topic_share / TOPIC_SATURATION), 0.0)

    def share(pool: frozenset[str]) -> np.ndarray:
        in_pool = np.array([word in pool for word in found.vocabulary], dtype=bool)
        return np.bincount(found.text, weights=in_pool[found.code], minlength=n) / safe_words

    vivid = np.minimum(1.0, share(VIVID_WORDS) / VIVID_SATURATION) - np.minimum(
        1.0, share(BLAND_WORDS) / VIVID_SATURATION
    )
    distinct_lengths, length_of = np.unique(n_words, return_inverse=True)
    parts = {
        "topic": topic,
        "vivid": np.where(has_words, vivid, 0.0),
        "variety": variety_parts(found),
    }
    length = np.array([length_part(int(length)) for length in distinct_lengths])[length_of]
    repetition = repetition_parts(found, n_words)
    fluent_words = np.bincount(found.text, weights=fluent(found), minlength=n)
    fluency = np.where(has_words, fluent_words / safe_words, 0.0)
    # A text is finished when an end mark follows its last word (or it has none).
    last_word = np.cumsum(n_words) - 1
    finished = ~has_words | found.ended[np.maximum(last_word, 0)] if len(found.text) else np.ones(n, dtype=bool)
    # gold multiplies and sums in this order, from zero: the same floats, bit for bit.
    form = fluency * length * np.where(finished, 1.0, UNFINISHED_FORM) * (1.0 - repetition)
    content = np.zeros(n)
    for part, weight in CONTENT_WEIGHTS.items():
        content = content + weight * parts[part]
    return form * (content + FORM_WEIGHT) + REPETITION_WEIGHT * repetition


def fluent(found: Words) -> np.ndarray:
    """Per word: whether it is in a finished sentence the grammar accepts (gold.fluency_part).
    The automaton reads every sentence at once, a word a step: at step p the sentences
    longer than p, which sorting by length puts first."""
    grammar = acceptor()
    column = np.array([grammar.word_ids.get(word, 0) for word in found.vocabulary], dtype=np.int64)
    columns = column[found.code] if len(found.code) else np.zeros(0, dtype=np.int64)
    first = np.flatnonzero(np.diff(found.sentence, prepend=-1) != 0)
    lengths = np.diff(first, append=len(found.sentence))
    longest_first = np.argsort(-lengths, kind="stable")
    starts, descending = first[longest_first], lengths[longest_first]
    state = np.ones(len(first), dtype=np.int64)
    for position in range(descending.max(initial=0)):
        live = np.searchsorted(-descending, -position, side="left")  # sentences longer than position
        state[:live] = grammar.transitions[state[:live], columns[starts[:live] + position]]
    accepted = np.empty(len(first), dtype=bool)
    accepted[longest_first] = grammar.accepting[state] & found.ended[starts]
    return np.repeat(accepted, lengths)


def variety_parts(found: Words) -> np.ndarray:
    """gold.variety_part: the coefficient of variation of sentence lengths, saturating."""
    n = found.n_texts
    first_words = np.flatnonzero(np.diff(found.sentence, prepend=-1) != 0)
    lengths = np.diff(first_words, append=len(found.sentence))
    text = found.text[first_words]
    count = np.bincount(text, minlength=n)
    mean = np.bincount(text, weights=lengths, minlength=n) / np.maximum(count, 1)
    # gold squares with Python's ** (libm's pow), which differs from x * x in the last bit
    # about once in two thousand; bincount then adds in order, as sum() does (before 3.12).
    squares = np.array([deviation**2 for deviation in (lengths - mean[text]).tolist()])
    std = np.sqrt(np.bincount(text, weights=squares, minlength=n) / np.maximum(count, 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(count >= 2, np.minimum(1.0, (std / mean) / VARIETY_SATURATION), 0.0)


def repetition_parts(found: Words, n_words: np.ndarray) -> np.ndarray:
    """gold.repetition_part: the share of word 4-grams that repeat an earlier one."""
    text, code = found.text, found.code
    starts = np.flatnonzero(text[: len(text) - REPEAT_NGRAM + 1] == text[REPEAT_NGRAM - 1 :])
    key, key_range = code[starts], max(len(found.vocabulary), 1)
    for offset in range(1, REPEAT_NGRAM):
        key, key_range = widened(key, key_range, code[starts + offset], len(found.vocabulary))
    key, _ = widened(key, key_range, text[starts], found.n_texts)
    key = np.sort(key)
    distinct_keys = key[np.concatenate([[True], key[1:] != key[:-1]])] if len(key) else key
    distinct = np.bincount(distinct_keys % max(found.n_texts, 1), minlength=found.n_texts)
    ngrams = np.maximum(n_words - REPEAT_NGRAM + 1, 0)
    return np.where(ngrams > 0, (ngrams - distinct) / np.maximum(ngrams, 1), 0.0)


def widened(high: np.ndarray, high_range: int, low: np.ndarray, low_range: int) -> tuple[np.ndarray, int]:
    """One int64 key for each pair (high, low), equal exactly when both are, and its range;
    when that would pass 2**62, high is first renumbered 0, 1, ... by distinct value."""
    if high_range * low_range > LARGEST_KEY:
        high, distinct = pd.factorize(high)
        high_range = max(len(distinct), 1)
    return high * low_range + low, high_range * low_range
