"""Per-submission operations without a Python call per submission.

A million comments hold about 100,000 submissions, and a groupby that calls a Python
function per group spends its time in the calls. Here the groups of one size are
stacked as the rows of a matrix instead, so each operation runs once per distinct size
(a few dozen), and along a row it is the same numpy reduction a call per group made:
the same values, to the last bit.
"""

from collections.abc import Iterator

import numpy as np
import pandas as pd


def group_codes(keys: pd.Series) -> np.ndarray:
    """0, 1, ... by order of first appearance: the order of groupby(sort=False)."""
    return pd.factorize(keys, use_na_sentinel=False)[0]


def groups_by_size(codes: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """For each group size: the groups' codes, and a (groups, size) matrix of their row
    positions, each row one group with its rows in frame order."""
    order = np.argsort(codes, kind="stable")
    sizes = np.bincount(codes)
    starts = np.cumsum(sizes) - sizes
    for size in np.unique(sizes):
        groups = np.flatnonzero(sizes == size)
        yield groups, order[starts[groups, None] + np.arange(size)]
