import itertools
import json
import random
from pathlib import Path

import numpy as np
import pytest

from stages.common.config import SimulateConfig
from stages.simulator.gold import (
    UNFINISHED_FORM,
    fluency_part,
    gold,
    gold_parts,
    length_part,
    prompt_theme,
    repetition_part,
    variety_part,
    words_of,
)
from stages.simulator.simulator import simulate_subreddit
from stages.simulator.story_writer import write_stories, writing_styles
from stages.simulator.vocabulary import THEME_BY_NAME, THEMES, VIVID_WORDS

PROJECT = Path(__file__).resolve().parents[2]

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


def space_stories(n: int, skill: float, seed: int = 0) -> list[str]:
    """n stories for a space prompt by writers of this skill."""
    rng = np.random.default_rng(seed)
    theme = np.full(n, [theme.name for theme in THEMES].index("space"))
    return write_stories(rng, writing_styles(rng, theme, np.full(n, skill)))


def test_gold_rises_with_writer_skill():
    means = [np.mean([gold(SPACE_PROMPT, story) for story in space_stories(300, skill)]) for skill in SKILLS]
    assert all(later > earlier for earlier, later in itertools.pairwise(means))
    assert means[-1] > means[0] + 2.0


SKILLS = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)


def test_fluency_is_the_share_of_words_in_finished_grammatical_sentences():
    assert fluency_part("He went. She shattered the crimson door.") == (1.0, True)
    # 2 + 5 words fluent, 3 not: "went he the" is no sentence
    assert fluency_part("He went. went he the. She shattered the crimson door!") == (0.7, True)
    # the last piece has no end mark: grammatical or not, it is unfinished
    assert fluency_part("He went. She shattered the crimson door") == (2 / 7, False)
    assert fluency_part("He went.  ") == (1.0, True)
    assert fluency_part("") == (0.0, True)
    assert fluency_part("...!?") == (0.0, True)


def test_form_multiplies_fluency_length_ending_and_freshness():
    finished = gold_parts(SPACE_PROMPT, "He went. She shattered the crimson door.")
    assert finished.form == pytest.approx(1.0 * length_part(7) * 1.0 * 1.0)
    unfinished = gold_parts(SPACE_PROMPT, "He went. She shattered the crimson door")
    assert unfinished.form == pytest.approx((2 / 7) * length_part(7) * UNFINISHED_FORM)


def old_gold(prompt: str, story: str) -> float:
    """Gold as it was before it read form: word merit, length and repetition, added."""
    parts = gold_parts(prompt, story)
    return parts.topic + parts.vivid + 0.5 * parts.variety + 0.5 * parts.length - 2.0 * parts.repetition


@pytest.fixture(scope="module")
def default_stories() -> list[tuple[str, str]]:
    """(prompt, story) of every story of the default simulation."""
    submissions, comments = simulate_subreddit(SimulateConfig(), "WritingPrompts")
    titles = submissions.set_index("id")["title"]
    stories = comments[
        comments["parent_id"].str.startswith("t3_")
        & ~comments["stickied"]
        & ~comments["body"].isin(["[deleted]", "[removed]"])
    ]
    return [(titles[s], body) for s, body in zip(stories["submission_id"], stories["body"], strict=True)]


def test_simulated_stories_keep_their_order(default_stories):
    new = [gold(p, s) for p, s in default_stories]
    old = [old_gold(p, s) for p, s in default_stories]
    assert np.corrcoef(ranks(new), ranks(old))[0, 1] >= 0.9


def ranks(values: list[float]) -> np.ndarray:
    return np.argsort(np.argsort(values))


@pytest.fixture(scope="module")
def sft_median() -> float:
    """The median gold of the SFT model's sampled stories in the default run's evaluate."""
    rows = [json.loads(line) for line in (PROJECT / "reports/samples.jsonl").read_text().splitlines()]
    golds = [gold(row["prompt"], row["sft_story"]) for row in rows if row["decoding"] == "sample"]
    assert len(golds) >= 100
    return float(np.median(golds))


def good_story(seed: int = 0) -> str:
    """The best of a few stories by a strong writer: high gold on the space prompt."""
    return max(space_stories(40, 0.95, seed), key=lambda story: gold(SPACE_PROMPT, story))


def not_prose() -> dict[str, str]:
    rng = random.Random(0)
    space = THEME_BY_NAME["space"]
    theme_and_vivid = sorted(space.words | VIVID_WORDS)
    story = good_story()
    sentences = [sentence + "." for sentence in story.rstrip(".").split(". ")]
    words = story.replace(".", "").split()
    shuffled = words[:]
    rng.shuffle(shuffled)
    longest = max(sentences, key=lambda sentence: len(sentence.split()))
    cut = " ".join([*sentences[:-1], " ".join(sentences[-1].split()[:-1])])  # the last sentence loses its end
    ramble = ""
    for story in space_stories(100, 0.95, seed=1):
        if len(ramble.split()) < 2000:
            ramble += " " + story
    return {
        "a list of theme and vivid words": " ".join(rng.choice(theme_and_vivid) for _ in range(80)),
        "the same list with punctuation": " ".join(
            rng.choice(theme_and_vivid).capitalize() + rng.choice([".", ",", "!", ""]) for _ in range(80)
        ),
        "a good story's words shuffled": " ".join(shuffled) + ".",
        "one good sentence repeated": " ".join([longest] * 10),
        "theme-word spam": " ".join(rng.choice(sorted(space.words)) for _ in range(100)) + ".",
        "a good story cut mid-sentence": cut,
        "an empty story": "",
        "a 2,000-word ramble": ramble.strip(),
    }


@pytest.mark.parametrize("kind", list(not_prose()))
def test_what_is_not_a_story_scores_below_the_median_sft_sample(kind, sft_median):
    text = not_prose()[kind]
    assert gold(SPACE_PROMPT, text) < sft_median, (kind, gold_parts(SPACE_PROMPT, text))


def test_the_good_story_these_are_made_from_scores_far_above_it(sft_median):
    assert gold(SPACE_PROMPT, good_story()) > sft_median + 1.5


def test_gold_scores_any_text():
    assert np.isfinite(gold("", ""))
    assert np.isfinite(gold("no theme", "!!! ??? ..."))
