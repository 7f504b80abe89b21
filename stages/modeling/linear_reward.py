"""A linear reward model: the baseline that shows what the network adds.

A story's reward is w . x(prompt, story), where x is the story's TF-IDF (words and
word pairs, sublinear counts, fitted on the train prompts and stories) and one more
feature, the cosine of the prompt's TF-IDF with the story's: within a pair the prompt is
the same, so its own words cancel, and it can only count through what the story shares
with it. w is fitted as a Bradley-Terry model of the train pairs, which is a logistic
regression on x(chosen) - x(rejected) (each pair also entered reversed, as a loss, so
the fit has both classes and no intercept). Seconds on the default data.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

# Pairs fitted at most (a seeded sample beyond): a million comments give ~1.6 million.
MAX_PAIRS = 200_000
MAX_FEATURES = 2**16
C = 1.0  # inverse L2 strength: TF-IDF rows are unit vectors, so one default serves any corpus size


@dataclass(frozen=True)
class LinearReward:
    vectorizer: TfidfVectorizer
    weights: np.ndarray

    def features(self, prompts: pd.Series, stories: pd.Series) -> sparse.csr_matrix:
        story = self.vectorizer.transform(stories)
        on_topic = np.asarray(self.vectorizer.transform(prompts).multiply(story).sum(axis=1))
        return sparse.hstack([story, sparse.csr_matrix(on_topic)], format="csr")

    def score(self, prompts: pd.Series, stories: pd.Series) -> np.ndarray:
        return self.features(prompts, stories) @ self.weights


def fit_linear_reward(stories: pd.DataFrame, pairs: pd.DataFrame, seed: int) -> LinearReward:
    """Fit on the pairs (chosen_id, rejected_id) of `stories` (comment_id, prompt, story)."""
    if len(pairs) > MAX_PAIRS:
        pairs = pairs.sample(MAX_PAIRS, random_state=seed)
    vectorizer = TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2), min_df=2, max_features=MAX_FEATURES)
    vectorizer.fit(pd.concat([stories["prompt"].drop_duplicates(), stories["story"]]))
    model = LinearReward(vectorizer, np.zeros(0))
    features = model.features(stories["prompt"], stories["story"])
    row_of = pd.Series(np.arange(len(stories)), index=stories["comment_id"].to_numpy())
    chosen, rejected = row_of.loc[pairs["chosen_id"]].to_numpy(), row_of.loc[pairs["rejected_id"]].to_numpy()
    difference = features[chosen] - features[rejected]
    x = sparse.vstack([difference, -difference], format="csr")
    y = np.repeat([1, 0], len(pairs))
    # One BLAS thread: threads contending for two busy cores made this fit 5x slower.
    with threadpool_limits(1):
        fitted = LogisticRegression(C=C, fit_intercept=False, max_iter=1000, random_state=seed).fit(x, y)
    return LinearReward(vectorizer, fitted.coef_[0])
