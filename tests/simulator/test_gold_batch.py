import math
import random

import numpy as np
import pyarrow as pa
import pytest

from stages.simulator import gold_batch
from stages.simulator.gold import VARIETY_SATURATION, fluency_part, gold, variety_part, words_of
from stages.simulator.gold_batch import batch_gold, words
from stages.simulator.grammar import WORD_CLASSES, sentence_forms
from stages.simulator.story_writer import prompt_titles, write_stories, writing_styles
from stages.simulator.vocabulary import THEMES

EDGE_CASES = [
    ("", ""),
    ("no theme at all", "!!! ??? ..."),
    ("[WP] dragon", "A b c d a b c d. A b c d a b c d!"),
    ("[WP] the astronaut", "It's   the astronaut's  moon... 'quoted' words' and don't."),
    ("[WP] castle", "...Starts with an end. Two  spaces.Then none!?Done"),
    ("[WP] ghost", "one"),
    ("[WP] ghost", " ".join(["word"] * 40) + "."),
    ("[WP] ghost", " ".join(["word"] * 151)),
    ("UPPER DRAGON KNIGHT", "THE DRAGON SCORCHED THE CASTLE. The Knight Slew It."),
    ("dragon castle", "Ünïcödé story, with a dragon and a knight."),  # not ASCII: gold() itself
    ("İt is the dragon", "İt was the dragon. The Kelvin sign \u212a is not k."),
    ("[WP] robots", "digits 123 and-hyphens tab\tnew\nline under_score"),
]


def simulated_pairs(n: int, seed: int = 0) -> tuple[list[str], list[str]]:
    """Prompts of every theme, and stories by writers of every skill, on and off topic."""
    rng = np.random.default_rng(seed)
    theme = np.arange(n) % len(THEMES)
    prompts = prompt_titles(rng, theme)
    return prompts, write_stories(rng, writing_styles(rng, theme, rng.random(n)))


def test_batch_gold_equals_gold_story_by_story_to_the_last_bit():
    prompts, stories = simulated_pairs(1500)
    prompts += [prompt for prompt, _ in EDGE_CASES]
    stories += [story for _, story in EDGE_CASES]
    expected = np.array([gold(prompt, story) for prompt, story in zip(prompts, stories, strict=True)])
    np.testing.assert_array_equal(batch_gold(prompts, stories), expected)
    assert expected.std() > 0.5  # the stories differ: equality is not trivial


def grammar_texts(n: int, seed: int = 0) -> list[str]:
    """Texts of grammar words, some in the grammar's order and some not, with every kind
    of ending: end marks, runs of them, none (unfinished), spaces after the last."""
    rng = random.Random(seed)
    forms = sentence_forms()
    texts = []
    for _ in range(n):
        sentences = []
        for _ in range(rng.randint(0, 6)):
            slots = list(rng.choice(forms))
            if rng.random() < 0.1:
                rng.shuffle(slots)
            if rng.random() < 0.1 and len(slots) > 1:
                del slots[rng.randrange(len(slots))]
            words = " ".join(rng.choice(WORD_CLASSES[slot]) for slot in slots)
            sentences.append(words + rng.choice([".", ".", ".", "!", "?", "...", ""]))
        texts.append(" ".join(sentences) + rng.choice(["", " ", ".", "\n"]))
    return texts


def test_fluency_in_batches_is_golds_to_the_last_bit():
    stories = grammar_texts(1500)
    prompts = ["[WP] An astronaut wakes up alone on a lunar station."] * len(stories)
    expected = np.array([gold(prompt, story) for prompt, story in zip(prompts, stories, strict=True)])
    np.testing.assert_array_equal(batch_gold(prompts, stories), expected)
    fluencies = [fluency_part(story)[0] for story in stories]
    assert 0.2 < np.mean(np.array(fluencies) == 1.0) < 0.8  # both fluent and broken texts are tested
    assert any(not fluency_part(story)[1] for story in stories)  # and unfinished ones


def sentence_lengths_where_squaring_matters(n: int) -> list[list[int]]:
    """Sentence lengths whose spread differs, in the last bit, between squaring with ** (libm's
    pow, as gold does) and with x * x, and stays below saturation so that the difference shows."""
    rng, found = random.Random(0), []
    while len(found) < n:
        lengths = [rng.randint(20, 60) for _ in range(rng.randint(2, 30))]
        mean = sum(lengths) / len(lengths)
        by_pow = math.sqrt(sum((length - mean) ** 2 for length in lengths) / len(lengths))
        by_product = math.sqrt(sum((length - mean) * (length - mean) for length in lengths) / len(lengths))
        if by_pow != by_product and by_pow / mean < VARIETY_SATURATION:
            found.append(lengths)
    return found


def test_variety_squares_as_gold_does():
    stories = [
        " ".join(" ".join(["word"] * length) + "." for length in lengths)
        for lengths in sentence_lengths_where_squaring_matters(5)
    ]
    found = words(pa.array(stories, pa.large_string()))
    np.testing.assert_array_equal(gold_batch.variety_parts(found), [variety_part(story) for story in stories])


def test_batches_and_renumbered_ngram_keys_change_nothing(monkeypatch):
    prompts, stories = simulated_pairs(200, seed=1)
    expected = batch_gold(prompts, stories)
    monkeypatch.setattr(gold_batch, "STORIES_PER_BATCH", 7)
    monkeypatch.setattr(gold_batch, "LARGEST_KEY", 1000)  # every widening renumbers first
    np.testing.assert_array_equal(batch_gold(prompts, stories), expected)


def test_words_are_gold_words_of_each_text():
    texts = [story for _, story in EDGE_CASES if story.isascii()] + simulated_pairs(50)[1]
    found = words(pa.array(texts, pa.large_string())[2:])  # an offset into the buffers, as slices have
    by_text = [[] for _ in texts[2:]]
    for text, code in zip(found.text, found.code, strict=True):
        by_text[text].append(found.vocabulary[code])
    assert by_text == [words_of(text) for text in texts[2:]]


def test_an_empty_batch_scores_nothing():
    assert batch_gold([], []).tolist() == []


@pytest.mark.parametrize("story", ["", "One sentence only", "A. B."])
def test_stories_without_variety_or_ngrams_score_like_gold(story):
    assert batch_gold(["[WP] dragon"], [story]).tolist() == [gold("[WP] dragon", story)]
