import numpy as np
import pytest

from stages.sources import replayed_draws, story_writer
from stages.sources.replayed_draws import ReplayedDraws
from stages.sources.story_writer import WritingStyle, write_story, writing_style
from stages.sources.vocabulary import (
    BLAND_ADJECTIVES, BLAND_VERBS, CONNECTORS, NEUTRAL_NOUNS, PLACES, SUBJECTS, THEMES,
    VIVID_ADJECTIVES, VIVID_VERBS, Theme,
)


# The grammar as it was written before the writer read the raws itself: one call per draw.
def reference_word(draws, style: WritingStyle, theme_words, vivid, bland) -> str:
    if draws.random() < style.theme_share:
        return draws.pick(theme_words)
    return draws.pick(vivid if draws.random() < style.vivid_share else bland)


def reference_noun(draws, style: WritingStyle) -> str:
    return draws.pick(style.theme.nouns) if draws.random() < style.theme_share else draws.pick(NEUTRAL_NOUNS)


def reference_sentence(draws, style: WritingStyle) -> str:
    pick, verbs = draws.pick, style.theme.verbs
    if draws.random() < style.short_sentence_chance:
        words = [pick(SUBJECTS), reference_word(draws, style, verbs, VIVID_VERBS, BLAND_VERBS)]
    else:
        adjective = reference_word(draws, style, style.theme.adjectives, VIVID_ADJECTIVES, BLAND_ADJECTIVES)
        words = [pick(SUBJECTS), reference_word(draws, style, verbs, VIVID_VERBS, BLAND_VERBS), "the", adjective, reference_noun(draws, style)]
        for _ in range(draws.binomial(2, style.clause_chance)):
            words += [pick(CONNECTORS), pick(SUBJECTS), reference_word(draws, style, verbs, VIVID_VERBS, BLAND_VERBS), "the", reference_noun(draws, style)]
        if draws.random() < 0.5:
            words.append(pick(PLACES))
    sentence = " ".join(words)
    return sentence[0].upper() + sentence[1:] + "."


def reference_story(draws, prompt_theme: Theme, skill: float) -> str:
    style = writing_style(draws, prompt_theme, skill)
    sentences: list[str] = []
    for _ in range(style.n_sentences):
        if sentences and draws.random() < style.repeat_chance:
            sentences.append(draws.pick(sentences))
        else:
            sentences.append(reference_sentence(draws, style))
    return " ".join(sentences)


# Skills at the edges of the grammar: 0 (no clauses: binomial draws nothing), just past
# 5/6 (clause chance above 0.5: binomial counts failures), 1 (no repeats, no noise).
EDGE_SKILLS = [0.0, 1.0, 0.84, 0.9, 0.5]


def stories(write, seed: int, n: int) -> tuple[list[str], dict]:
    """n stories by writers of every skill, then the state of the generator handed back."""
    rng = np.random.default_rng(seed)
    rng.integers(7)  # start with a 32-bit half kept
    draws = ReplayedDraws(rng)
    texts = []
    for index in range(n):
        skill = EDGE_SKILLS[index] if index < len(EDGE_SKILLS) else draws.random()
        texts.append(write(draws, THEMES[index % len(THEMES)], skill))
        draws.integers(3)  # a draw between stories, as the simulator makes
    return texts, draws.hand_back().bit_generator.state


@pytest.mark.parametrize("seed", [0, 1])
def test_stories_equal_the_grammar_drawn_call_by_call_and_leave_the_stream_where_it_did(seed):
    written, state = stories(write_story, seed, 3000)
    expected, expected_state = stories(reference_story, seed, 3000)
    assert written == expected
    assert state == expected_state


def test_a_story_that_runs_past_its_window_is_written_again_from_a_larger_one(monkeypatch):
    expected, expected_state = stories(reference_story, 2, 300)
    monkeypatch.setattr(replayed_draws, "RAWS_PER_REFILL", 64)  # refills between and inside stories
    monkeypatch.setattr(story_writer, "STORY_RAWS", 4)  # most stories need more
    written, state = stories(write_story, 2, 300)
    assert written == expected
    assert state == expected_state
