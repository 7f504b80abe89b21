import pytest

from stages.simulator.gold import words_of
from stages.simulator.grammar import WORD_CLASSES, acceptor, build_acceptor


def accepts(sentence: str) -> bool:
    return acceptor().accepts(words_of(sentence))


@pytest.mark.parametrize(
    "sentence",
    [
        "He went",
        "The old man whispered",
        "She shattered the crimson door",
        "My friend scorched the pale dragon in the dark",
        "I lunged the good wall but the girl sank the hoard until nobody drew the map at the edge",
    ],
)
def test_sentences_of_the_grammar_are_accepted(sentence):
    assert accepts(sentence)


@pytest.mark.parametrize(
    "sentence",
    [
        "",
        "He",
        "went he",
        "I surged the silence",  # a long sentence needs an adjective before its noun
        "He howled the spectral bunker before nobody transfigured",  # a clause needs 'the noun'
        "They looked the ancient knight across the window",  # not a place of the grammar
        "He went the nice room and she saw the wall and we had the fire and I did the road",  # three clauses
        "plundered deduced mutinied twisted room soared",
        "He went to the office",  # words outside the grammar
    ],
)
def test_other_word_sequences_are_not(sentence):
    assert not accepts(sentence)


def test_the_automaton_of_a_small_grammar_by_hand():
    small = build_acceptor([("a", "b"), ("a", "c", "c")], {"a": ("x", "x y"), "b": ("z",), "c": ("y",)})
    runs = {
        ("x", "z"): True,
        ("x", "y", "z"): True,  # 'x y' is one phrase of class a
        ("x", "y", "y"): True,  # a c c, with 'x' as a
        ("x", "y", "y", "y"): True,  # 'x y' as a, then c c
        ("x", "y"): False,
        ("z",): False,
        ("x", "q"): False,
    }
    for words, expected in runs.items():
        assert small.accepts(list(words)) is expected, words
    assert small.transitions[0].max() == 0  # the dead state stays dead


def test_word_classes_are_lower_case_phrases():
    for phrases in WORD_CLASSES.values():
        for phrase in phrases:
            assert words_of(phrase) == phrase.lower().split()
