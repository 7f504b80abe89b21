import numpy as np
import pytest

from stages.simulator.gold import gold, gold_parts, length_part, prompt_theme, repetition_part, variety_part, words_of
from stages.simulator.story_writer import write_stories, writing_styles
from stages.simulator.vocabulary import THEME_BY_NAME, THEMES

SPACE_PROMPT = "[WP] An astronaut wakes up alone on a lunar station."


def test_prompt_theme_is_read_from_the_words():
    assert prompt_theme(SPACE_PROMPT) == "space"
    assert prompt_theme("[WP] The dragon guards its hoard in the castle.") == "dragons"
    assert prompt_theme("[WP] Tell me about your day.") is None


def test_topic_rewards_the_prompts_theme_not_another():
    on_topic = "The astronaut docked at the station. The captain watched the planet and the comet."
    off_topic = "The knight guarded the castle. The dragon scorched the kingdom and the sword."
    assert gold_parts(SPACE_PROMPT, on_topic).topic == 1.0
    assert gold_parts(SPACE_PROMPT, off_topic).topic == 0.0
    assert gold_parts("[WP] Tell me about your day.", on_topic).topic == 0.0


def test_repetition_counts_repeated_four_grams():
    assert repetition_part(words_of("one two three four five")) == 0.0
    # 8 words -> 5 four-grams (abcd bcda cdab dabc abcd), one of them a repeat
    assert repetition_part(words_of("a b c d a b c d")) == pytest.approx(1 / 5)
    assert repetition_part(words_of("a b c")) == 0.0


def test_length_is_full_inside_the_band_and_decays_outside():
    assert length_part(40) == length_part(150) == 1.0
    assert length_part(20) == pytest.approx(0.25)  # (20/40)^2
    assert length_part(300) == pytest.approx(0.25)  # (150/300)^2
    assert length_part(0) == 0.0


def test_variety_needs_sentences_of_different_lengths():
    assert variety_part("One two three. Four five six.") == 0.0
    assert variety_part("Short one. This sentence is a good deal longer than that.") == 1.0
    assert variety_part("Only one sentence here") == 0.0


def test_a_loop_scores_below_fresh_prose():
    fresh = "The astronaut drifted past the shimmering comet. She whispered. The station trembled in the dark."
    assert gold(SPACE_PROMPT, fresh) > gold(SPACE_PROMPT, " ".join([fresh] * 5))


def test_gold_rises_with_writer_skill():
    rng = np.random.default_rng(0)
    theme = np.full(200, THEMES.index(THEME_BY_NAME["space"]))
    weak = [gold(SPACE_PROMPT, story) for story in write_stories(rng, writing_styles(rng, theme, np.full(200, 0.1)))]
    strong = [gold(SPACE_PROMPT, story) for story in write_stories(rng, writing_styles(rng, theme, np.full(200, 0.9)))]
    assert np.mean(strong) > np.mean(weak) + 1.0


def test_gold_scores_any_text():
    assert np.isfinite(gold("", ""))
    assert np.isfinite(gold("no theme", "!!! ??? ..."))
