"""A story's feedback from its replies: their mean sentiment, shrunk by how many there are.

One reply is a noisy verdict (a reader's mood, sarcasm, a joke), so a story's mean
sentiment over two replies says less than over twenty. Empirical Bayes (Efron & Morris
1975) weighs the two: a story's mean is pulled towards its prompt's mean by
k / (n + k), where n is its number of replies and k = sigma^2 / tau^2 compares the
spread of replies around their story's mean (sigma^2, within) with the spread of true
story means around their prompt's (tau^2, between). Both are estimated from the train
split's replies by the method of moments, so no gold is read. A story without a reply
has no reply signal (NaN).
"""

from typing import NamedTuple

import numpy as np

# When no train story has two replies, sigma^2 cannot be told from tau^2: a reply then
# weighs as much as the prompt's mean (k = 1).
UNIDENTIFIED_PRIOR_REPLIES = 1.0


class ReplyStatistics(NamedTuple):
    """Per story: its number of replies, their mean sentiment (NaN without any), and the
    sum of their squared deviations from that mean."""

    n: np.ndarray
    mean: np.ndarray
    deviations: np.ndarray


def story_reply_statistics(story: np.ndarray, sentiment: np.ndarray, n_stories: int) -> ReplyStatistics:
    """The statistics of replies to stories 0 .. n_stories - 1; story: each reply's story."""
    n = np.bincount(story, minlength=n_stories).astype(float)
    total = np.bincount(story, weights=sentiment, minlength=n_stories)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n > 0, total / n, np.nan)
    deviations = np.bincount(story, weights=(sentiment - mean[story]) ** 2, minlength=n_stories)
    return ReplyStatistics(n, mean, deviations)


def prompt_means(prompt: np.ndarray, n: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """Each story's prompt's mean reply sentiment (over all its replies), by story; NaN
    for a prompt without any."""
    replies = np.bincount(prompt, weights=n)
    total = np.bincount(prompt, weights=np.where(n > 0, n * np.nan_to_num(mean), 0.0))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(replies > 0, total / replies, np.nan)[prompt]


def prior_replies(
    prompt: np.ndarray, n: np.ndarray, mean: np.ndarray, deviations: np.ndarray, fit: np.ndarray
) -> float:
    """k = sigma^2 / tau^2, estimated on the stories where `fit` is true.

    sigma^2: the pooled variance of replies within their story. tau^2: the variance of
    story means around their prompt's mean, less what reply noise alone gives
    (sigma^2 / n), over prompts with two replied stories or more; a prompt's mean is
    estimated from its own stories, so their squared deviations are scaled by
    m / (m - 1) for m such stories. tau^2 <= 0 means replies tell the stories of a
    prompt apart no better than noise: k is infinite and every story gets its prompt's mean.
    """
    several = fit & (n >= 2)
    if not several.any():
        return UNIDENTIFIED_PRIOR_REPLIES
    sigma2 = deviations[several].sum() / (n[several] - 1).sum()
    replied = fit & (n > 0)
    stories_in_prompt = np.bincount(prompt[replied], minlength=prompt.max() + 1)[prompt]
    usable = replied & (stories_in_prompt >= 2)
    if not usable.any():
        return UNIDENTIFIED_PRIOR_REPLIES
    m = stories_in_prompt[usable]
    squared = (mean[usable] - prompt_means(prompt, n, mean)[usable]) ** 2 * m / (m - 1)
    tau2 = float(np.mean(squared - sigma2 / n[usable]))
    return float(sigma2 / tau2) if tau2 > 0 else float("inf")


def shrunk_reply_means(prompt: np.ndarray, n: np.ndarray, mean: np.ndarray, k: float) -> np.ndarray:
    """prompt mean + n / (n + k) * (story mean - prompt mean); NaN for a story without replies."""
    anchor = prompt_means(prompt, n, mean)
    weight = n / (n + k) if np.isfinite(k) else np.zeros_like(n)
    return np.where(n > 0, anchor + weight * (mean - anchor), np.nan)
