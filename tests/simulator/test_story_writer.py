import math
from dataclasses import asdict, replace
from statistics import NormalDist

import numpy as np
import pytest

from stages.simulator.gold import SENTENCE_END, words_of
from stages.simulator.gold_batch import batch_gold
from stages.simulator.grammar import WORD_CLASSES, acceptor
from stages.simulator.story_writer import (
    PHRASES,
    POOL_FIRST,
    POOL_OF,
    POOL_SIZE,
    StyleShares,
    WritingStyles,
    prompt_titles,
    style_shares,
    write_stories,
    writing_styles,
)
from stages.simulator.vocabulary import (
    BLAND_ADJECTIVES,
    BLAND_VERBS,
    CONNECTORS,
    PLACES,
    THEMES,
    VIVID_ADJECTIVES,
    VIVID_VERBS,
)

SPACE = THEMES[0]  # no word of its pools is a word of any other class


def within(count: float, n: int, p: float, sd: float | None = None) -> bool:
    """count / n is p up to 4 standard errors (of a binomial share, or of a mean with this sd)."""
    sd = math.sqrt(p * (1 - p)) if sd is None else sd
    return abs(count / n - p) < 4 * sd / math.sqrt(n)


def stories_by(skills: np.ndarray, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return write_stories(rng, writing_styles(rng, rng.integers(len(THEMES), size=len(skills)), skills))


def sentences(story: str) -> list[str]:
    return [piece.strip() for piece in SENTENCE_END.split(story) if words_of(piece)]


@pytest.mark.parametrize("skill", [0.0, 0.5, 1.0, None])
def test_every_sentence_written_without_a_slip_is_one_the_grammar_accepts(skill):
    rng = np.random.default_rng(1)
    skills = rng.random(1000) if skill is None else np.full(1000, skill)
    styles = writing_styles(rng, rng.integers(len(THEMES), size=len(skills)), skills)
    no_slips = WritingStyles(styles.theme, styles.n_sentences, replace(styles.shares, slip_chance=np.zeros(1000)))
    for story in write_stories(rng, no_slips):
        assert story.endswith(".") and not story.endswith(". ")
        for sentence in story[:-1].split(". "):
            assert sentence[0].isupper() and "." not in sentence, story
            assert acceptor().accepts(words_of(sentence)), sentence


def test_a_slip_drops_a_word_and_no_sentence_survives_it():
    stories = write_stories(np.random.default_rng(6), fixed_styles(500, slip_chance=0.3))
    written = [words_of(sentence) for story in stories for sentence in sentences(story)]
    rejected = [words for words in written if not acceptor().accepts(words)]
    assert within(len(rejected), len(written), 0.3)
    clean = write_stories(np.random.default_rng(6), fixed_styles(500))
    clean_lengths = [len(words_of(s)) for story in clean for s in sentences(story)]
    # The same draws but the slips: each slipped sentence is one word (or a phrase) shorter.
    assert sum(len(words) for words in written) < sum(clean_lengths)
    assert all(len(words) >= 1 for words in written)


def test_weak_writers_slip_more():
    assert style_shares(0.0).slip_chance > style_shares(0.5).slip_chance > style_shares(1.0).slip_chance == 0.0


def test_each_slot_draws_from_a_pool_inside_its_grammar_class():
    for index, word_class in enumerate(WORD_CLASSES):
        for pool in np.unique(POOL_OF[index]):
            assert set(PHRASES[POOL_FIRST[pool] : POOL_FIRST[pool] + POOL_SIZE[pool]]) <= set(WORD_CLASSES[word_class])


def test_style_shares_rise_with_skill_from_their_ends():
    assert asdict(style_shares(0.0)) == pytest.approx(asdict(StyleShares(0.05, 0.1, 0.0, 0.0, 0.5, 0.3)))
    assert asdict(style_shares(1.0)) == pytest.approx(asdict(StyleShares(0.4, 1.0, 0.6, 0.25, 0.0, 0.0)))


def fixed_styles(n: int, **shares: float) -> WritingStyles:
    """n stories of 7 sentences about space, every one with these shares."""
    chances = {"theme_share": 0.3, "vivid_share": 0.6, "clause_chance": 0.5, "short_sentence_chance": 0.2}
    chances |= {"repeat_chance": 0.0, "slip_chance": 0.0} | shares
    return WritingStyles(
        np.zeros(n, dtype=np.int64),
        np.full(n, 7),
        StyleShares(**{name: np.full(n, value) for name, value in chances.items()}),
    )


def counts(words: list[str], pool: tuple[str, ...]) -> int:
    members = set(pool)
    return sum(word in members for word in words)


def test_the_words_follow_the_style_shares():
    stories = write_stories(np.random.default_rng(2), fixed_styles(600))
    assert all(len(sentences(story)) == 7 for story in stories)
    written = [sentence for story in stories for sentence in sentences(story)]
    words = [words_of(sentence) for sentence in written]
    every_word = [word for sentence in words for word in sentence]
    # A long sentence has one adjective, a short one none.
    long = sum(counts(sentence, SPACE.adjectives + VIVID_ADJECTIVES + BLAND_ADJECTIVES) == 1 for sentence in words)
    assert within(len(written) - long, len(written), 0.2)
    # binomial(2, 0.5) clauses (a connector each) in a long sentence: mean 1, sd sqrt(0.5).
    clauses = counts(every_word, CONNECTORS)
    assert within(clauses, long, 1.0, sd=math.sqrt(0.5))
    assert within(sum(sentence.lower().endswith(PLACES) for sentence in written), long, 0.5)
    # A verb is the theme's with 0.3, else vivid with 0.6 of what is left, else bland.
    verbs = counts(every_word, SPACE.verbs + VIVID_VERBS + BLAND_VERBS)
    assert verbs == len(written) + clauses
    assert within(counts(every_word, SPACE.verbs), verbs, 0.3)
    assert within(counts(every_word, VIVID_VERBS), verbs, 0.7 * 0.6)
    adjectives = counts(every_word, SPACE.adjectives + VIVID_ADJECTIVES + BLAND_ADJECTIVES)
    assert within(counts(every_word, BLAND_ADJECTIVES), adjectives, 0.7 * 0.4)
    # A noun (one a long sentence, one a clause) is the theme's with 0.3, else neutral.
    assert within(counts(every_word, SPACE.nouns), long + clauses, 0.3)


def test_half_the_later_sentences_repeat_an_earlier_one_at_a_repeat_chance_of_one_half():
    stories = write_stories(np.random.default_rng(3), fixed_styles(400, repeat_chance=0.5, short_sentence_chance=0.0))
    repeats = later = 0
    for story in stories:
        written = sentences(story)
        later += len(written) - 1
        repeats += sum(sentence in written[:position] for position, sentence in enumerate(written) if position > 0)
    # Two long sentences drawn afresh are alike with a chance far below the tolerance.
    assert within(repeats, later, 0.5)


def test_lengths_and_topics_follow_skill():
    n = 4000
    rng = np.random.default_rng(4)
    prompt_theme = rng.integers(len(THEMES), size=n)
    skilled, weak = writing_styles(rng, prompt_theme, np.ones(n)), writing_styles(rng, prompt_theme, np.zeros(n))
    assert (skilled.n_sentences == 7).all() and (skilled.theme == prompt_theme).all()
    # At skill 0: 7 exp(N(0, 1.2^2)) sentences, rounded into [1, 30]: P(1) = P(7 e^z < 1.5), P(30) = P(7 e^z >= 29.5).
    z = NormalDist(0.0, 1.2)
    assert within((weak.n_sentences == 1).sum(), n, z.cdf(math.log(1.5 / 7)))
    assert within((weak.n_sentences == 30).sum(), n, 1 - z.cdf(math.log(29.5 / 7)))
    assert np.median(weak.n_sentences) == 7
    # 0.3 of the weakest writers pick a theme at random: 11 times in 12 not the prompt's.
    assert within((weak.theme != prompt_theme).sum(), n, 0.3 * 11 / 12)


def test_gold_rises_with_the_writers_skill():
    rng = np.random.default_rng(5)
    means, errors = [], []
    for skill in (0.0, 0.25, 0.5, 0.75, 1.0):
        theme = rng.integers(len(THEMES), size=1000)
        stories = write_stories(rng, writing_styles(rng, theme, np.full(1000, skill)))
        golds = batch_gold(prompt_titles(rng, theme), stories)
        means.append(golds.mean())
        errors.append(golds.std() / math.sqrt(len(golds)))
    for lower, higher, error_low, error_high in zip(means, means[1:], errors, errors[1:], strict=False):
        assert higher - lower > 4 * math.hypot(error_low, error_high), means


def test_a_title_is_a_template_of_its_theme_filled_with_its_words():
    rng = np.random.default_rng(6)
    theme = rng.integers(len(THEMES), size=200)
    for title, index in zip(prompt_titles(rng, theme), theme.tolist(), strict=True):
        words = THEMES[index]
        filled = {
            "[WP] " + template.format(n=noun, a=adjective)
            for template in words.prompt_templates
            for noun in words.nouns
            for adjective in words.adjectives
        }
        assert title in filled


def test_no_stories_is_no_text():
    styles = writing_styles(np.random.default_rng(0), np.zeros(0, dtype=np.int64), np.zeros(0))
    assert write_stories(np.random.default_rng(0), styles) == []
