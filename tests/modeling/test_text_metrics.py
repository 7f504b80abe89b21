import math

from stages.modeling.text_metrics import distinct_n, mean_words, repeated_ngram_rate


def test_distinct_n_counts_unique_ngrams_over_all_texts():
    assert distinct_n(["a b a b"], 1) == 2 / 4
    assert distinct_n(["a b a b"], 2) == 2 / 3  # (a b), (b a), (a b)
    assert distinct_n(["a b", "a b"], 2) == 1 / 2
    assert math.isnan(distinct_n(["a"], 2))


def test_repeated_four_gram_rate_counts_repeats_within_a_text():
    looped = "the dog ran far the dog ran far"
    # 5 four-grams, of which (the dog ran far) occurs twice: one repeat
    assert repeated_ngram_rate([looped]) == 1 / 5
    assert repeated_ngram_rate(["one two three four five"]) == 0.0
    # The same phrase in two different texts is not a repeat.
    assert repeated_ngram_rate(["a b c d", "a b c d"]) == 0.0


def test_mean_words():
    assert mean_words(["a b", "c d e f"]) == 3.0
