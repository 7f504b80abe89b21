"""De-confounding votes with a fitted model (rank.deconfound: model).

A story's votes multiply its prompt's audience (popularity), the share of that audience
still reading when it was posted (attention decays with the delay) and its appeal. In
logs these add up:

    log(votes) = prompt effect + f(delay) + quality + noise

where log(votes) is log(score - 1 + 0.5): Reddit starts every post at 1, its author's
own vote, and a half is the usual offset of a count's logarithm (Anscombe 1948), which
keeps a story nobody voted for finite and damps the noise of small counts. (log(1 +
score) recovers gold less well: 0.777 against 0.789 within prompts on the default
world, 0.742 against 0.760 with popularity_sigma x1.5; bench/deconfound.py.)
So the prompt's effect is a fixed effect per submission, f a smooth curve (a cubic
B-spline of the delay in hours, scikit-learn's SplineTransformer, linear beyond the
knots), and a story's quality estimate is what is left: its residual within its prompt.
The fixed effects are absorbed by centring y and the spline basis within each prompt
(Frisch-Waugh-Lovell), so the fit has a dozen coefficients whatever the number of
prompts. The curve is fitted on the train split only, by a Huber loss (robust to a
story that went viral, or to a prompt whose thread was locked), and applied to every
story. The seed's rule (z-scores of rank and delay, rank.deconfound: zscore) throws
away the size of the differences in score; this keeps them.
"""

import numpy as np
from sklearn.linear_model import HuberRegressor
from sklearn.preprocessing import SplineTransformer
from threadpoolctl import threadpool_limits

SPLINE_KNOTS = 8  # at quantiles of the train delays
SPLINE_DEGREE = 3
# The curve has SPLINE_KNOTS + 1 coefficients: a seeded sample of this many train stories
# pins them as well as all of them (a Huber fit of 700,000 takes 15 s here, of this ~1 s).
MAX_FIT_STORIES = 30_000


def log_votes(score: np.ndarray) -> np.ndarray:
    """log(score - 1 + 0.5); a score below 1 (downvoted) counts as no vote."""
    return np.log(np.maximum(np.asarray(score, dtype=float) - 1.0, 0.0) + 0.5)


def within_centred(values: np.ndarray, group: np.ndarray) -> np.ndarray:
    """values (n,) or (n, k) minus their group's mean, column by column."""
    values = np.asarray(values, dtype=float)
    columns = values.reshape(len(values), -1)
    counts = np.bincount(group).astype(float)
    means = np.stack([np.bincount(group, weights=column) / counts for column in columns.T], axis=1)
    return (columns - means[group]).reshape(values.shape)


def delay_knots(delay_h: np.ndarray) -> np.ndarray:
    """SPLINE_KNOTS quantiles of the delays, ties merged (delays are whole seconds)."""
    return np.unique(np.quantile(delay_h, np.linspace(0.0, 1.0, SPLINE_KNOTS))) if len(delay_h) else np.zeros(0)


def delay_quality(score: np.ndarray, delay_s: np.ndarray, group: np.ndarray, fit: np.ndarray) -> np.ndarray:
    """Each story's residual log-votes within its prompt once the delay curve, fitted on
    the stories where `fit` is true, is taken out. group: the prompt's code, 0, 1, ...
    Fewer than two distinct delays to fit on leave no curve to take out."""
    y = within_centred(log_votes(score), group)
    delay_h = np.asarray(delay_s, dtype=float).reshape(-1, 1) / 3600.0
    knots = delay_knots(delay_h[fit, 0])
    if len(knots) < 2:
        return y
    spline = SplineTransformer(
        knots=knots.reshape(-1, 1), degree=SPLINE_DEGREE, extrapolation="linear", include_bias=False
    ).fit(delay_h[fit])
    basis = within_centred(spline.transform(delay_h), group)
    rows = np.flatnonzero(fit)
    if len(rows) > MAX_FIT_STORIES:
        rows = np.sort(np.random.default_rng(0).choice(rows, MAX_FIT_STORIES, replace=False))
    # One BLAS thread: a fit this small only loses to threads that wait on each other.
    with threadpool_limits(1):
        curve = HuberRegressor(fit_intercept=False, alpha=0.0, max_iter=500).fit(basis[rows], y[rows])
    return y - basis @ curve.coef_
