"""The story grammar written with a call per draw (ReplayedDraws' random() and pick()),
as it was before the writer read the raws itself: what the compiled writer must equal."""

from stages.simulator.story_writer import WritingStyle, writing_style
from stages.simulator.vocabulary import (
    BLAND_ADJECTIVES,
    BLAND_VERBS,
    CONNECTORS,
    NEUTRAL_NOUNS,
    PLACES,
    SUBJECTS,
    VIVID_ADJECTIVES,
    VIVID_VERBS,
    Theme,
)


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
        words = [
            pick(SUBJECTS),
            reference_word(draws, style, verbs, VIVID_VERBS, BLAND_VERBS),
            "the",
            adjective,
            reference_noun(draws, style),
        ]
        for _ in range(draws.binomial(2, style.clause_chance)):
            words += [
                pick(CONNECTORS),
                pick(SUBJECTS),
                reference_word(draws, style, verbs, VIVID_VERBS, BLAND_VERBS),
                "the",
                reference_noun(draws, style),
            ]
        if draws.random() < 0.5:
            words.append(pick(PLACES))
    sentence = " ".join(words)
    return sentence[0].upper() + sentence[1:] + "."


def reference_story(draws, prompt_theme: Theme, skill: float) -> str:
    return reference_sentences(draws, writing_style(draws, prompt_theme, skill))


def reference_sentences(draws, style: WritingStyle) -> str:
    """A story of this style: its sentences, each a repeat of an earlier one or new."""
    sentences: list[str] = []
    for _ in range(style.n_sentences):
        if sentences and draws.random() < style.repeat_chance:
            sentences.append(draws.pick(sentences))
        else:
            sentences.append(reference_sentence(draws, style))
    return " ".join(sentences)
