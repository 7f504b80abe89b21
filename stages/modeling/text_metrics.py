"""Surface statistics of generated stories that reveal reward hacking: a policy that
repeats what the reward model likes loses distinct n-grams and gains repeated ones."""

from collections import Counter


def words(text: str) -> list[str]:
    return text.lower().split()


def ngrams(tokens: list[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]


def distinct_n(texts: list[str], n: int) -> float:
    """Distinct n-grams over all n-grams of all texts (Li et al. 2016); nan with none."""
    grams = [gram for text in texts for gram in ngrams(words(text), n)]
    return len(set(grams)) / len(grams) if grams else float("nan")


def repeated_ngram_rate(texts: list[str], n: int = 4) -> float:
    """Share of each text's n-grams that already occurred earlier in the same text,
    pooled over texts; nan with none."""
    repeated = total = 0
    for text in texts:
        grams = ngrams(words(text), n)
        counts = Counter(grams)
        repeated += sum(count - 1 for count in counts.values())
        total += len(grams)
    return repeated / total if total else float("nan")


def mean_words(texts: list[str]) -> float:
    return sum(len(words(text)) for text in texts) / len(texts) if texts else float("nan")
