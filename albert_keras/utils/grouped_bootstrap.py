"""A percentile bootstrap that resamples groups (documents), not examples: numpy only.

Held-out pairs made from one document share its topic, its style and its words, so they are
not independent draws: a standard error that counts pairs as independent overstates how
precise a held-out accuracy is. Resampling whole documents with replacement (the cluster
bootstrap, Davison & Hinkley 1997, section 3.8) keeps that dependence inside each resample.

The statistic is a ratio estimator, `sum(correct) / sum(weights)` over the examples of the
resampled groups: with `weights` = masked positions per example it is the masked-LM accuracy
over positions, with `weights` = 1 the mean over pairs.
"""

from __future__ import annotations

import numpy as np

_DRAWS_PER_BLOCK = 1 << 22  # Group indices drawn at once (32 MB of int64).


def document_bootstrap(correct, weights, groups, resamples: int = 1000, seed: int = 0,
                       confidence: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of `sum(correct) / sum(weights)`, resampling groups.

    Each resample draws as many groups as there are, uniformly with replacement, and takes
    every example of each drawn group (as often as it was drawn). Resamples whose weights sum
    to 0 have no value and are left out.

    Args:
        correct: 1-D array of float. Per example, what it got right (correct masked positions,
            weighted; or 1 / 0 for a pair).
        weights: 1-D array of float, same length, each >= 0. Per example, what it could get
            right (its masked positions' weights; or 1 for a pair).
        groups: 1-D array of int (or any sortable labels), same length. Each example's group
            (its document); one group per example gives the example-level bootstrap.
        resamples: int. Bootstrap resamples. Defaults to 1000.
        seed: int. Seed of the resampling: same seed, same interval. Defaults to 0.
        confidence: float in (0, 1). Coverage of the interval. Defaults to 0.95.

    Returns:
        `(low, high)`: the `(1 - confidence) / 2` and `(1 + confidence) / 2` quantiles of the
        resampled statistic.

    Example:
    ```python
    correct = np.array([1.0, 1.0, 0.0, 0.0, 1.0])
    low, high = document_bootstrap(correct, np.ones(5), groups=[0, 0, 1, 1, 2], seed=1)
    assert low <= correct.mean() <= high
    ```
    """
    correct, weights, groups = _checked(correct, weights, groups)
    if resamples < 1:
        raise ValueError(f"`resamples` must be >= 1. Received: resamples={resamples}")
    if not 0 < confidence < 1:
        raise ValueError(f"`confidence` must be in (0, 1). Received: confidence={confidence}")
    _, group_of_example = np.unique(groups, return_inverse=True)
    num_groups = int(group_of_example.max()) + 1
    group_correct = np.bincount(group_of_example, correct, num_groups)  # (groups,)
    group_weights = np.bincount(group_of_example, weights, num_groups)
    rng = np.random.default_rng(seed)
    block = max(1, _DRAWS_PER_BLOCK // num_groups)
    values = []
    for start in range(0, resamples, block):
        drawn = rng.integers(0, num_groups, size=(min(block, resamples - start), num_groups))
        numerator = group_correct[drawn].sum(axis=1)  # (block,)
        denominator = group_weights[drawn].sum(axis=1)
        values.append(numerator[denominator > 0] / denominator[denominator > 0])
    values = np.concatenate(values)
    tail = (1 - confidence) / 2
    low, high = np.quantile(values, [tail, 1 - tail])
    return float(low), float(high)


def _checked(correct, weights, groups) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The three arguments as 1-D arrays of one length, weights >= 0 with a positive sum."""
    correct = np.asarray(correct, np.float64)
    weights = np.asarray(weights, np.float64)
    groups = np.asarray(groups)
    for name, value in (("correct", correct), ("weights", weights), ("groups", groups)):
        if value.ndim != 1:
            raise ValueError(f"`{name}` must be 1-D (one entry per example). "
                             f"Received: {name} of shape {value.shape}")
    if not len(correct):
        raise ValueError("`correct` must hold at least one example. Received: len(correct)=0")
    for name, value in (("weights", weights), ("groups", groups)):
        if len(value) != len(correct):
            raise ValueError(f"`{name}` must have one entry per example of `correct`. "
                             f"Received: len(correct)={len(correct)}, len({name})={len(value)}")
    if not np.isfinite(correct).all() or not np.isfinite(weights).all():
        raise ValueError("`correct` and `weights` must be finite. Received: "
                         f"{int((~np.isfinite(correct)).sum())} non-finite in correct, "
                         f"{int((~np.isfinite(weights)).sum())} in weights")
    if (weights < 0).any() or weights.sum() <= 0:
        raise ValueError("`weights` must be >= 0 with a positive sum. Received: "
                         f"min(weights)={weights.min()}, sum(weights)={weights.sum()}")
    return correct, weights, groups
