"""The downstream protocol: a learning rate chosen on validation, scores from a test split, and
the paired gain of pretraining over seeds with a written verdict.

BERT's paper picks the fine-tuning learning rate per task on dev and reports a separate test
score; encoders that learn at different rates (a pretrained one and its random-init twin) are
only compared fairly when each gets the rate that suits it, from the same grid. With few
examples, run-to-run spread is as large as the effects, so the gain is taken per seed (the
same data order and head initialisation on both sides) and summarised by its median and range.

Verdict rule (`paired_gain`): with fewer than `MIN_SEEDS` seeds, "cannot conclude" (one or two
seeds that agree say little: one seed's test accuracy on a hundred rows moves by several
points); otherwise "gain" when the median paired gain is above 0 and at least
`AGREEING_SHARE` of the seeds gain; "loss" when the median is below 0 and that share of seeds
lose; else "no difference".
"""

from __future__ import annotations

import math
import statistics
from typing import Sequence

AGREEING_SHARE = 0.8  # 4 of 5 seeds.
MIN_SEEDS = 3  # as the benchmark harness' speed verdict asks at least 3 rounds
VERDICTS = ("gain", "no difference", "loss", "cannot conclude")
GAIN_RULE = (  # The rule as reports and benchmark tables print it.
    "Per seed, gain = the score of what is compared - its reference's (pretrained - its "
    "random-init twin, adapted - published, a recipe variant - its reference; a score per "
    "pretraining seed may itself be a median over fine-tuning seeds; for a loss, the reference's "
    f"- the variant's). With fewer than {MIN_SEEDS} seeds, "
    "'cannot conclude'; else 'gain' when the median gain is above 0 and at least "
    f"{AGREEING_SHARE:.0%} of seeds gain ({math.ceil(AGREEING_SHARE * 5)} of 5), 'loss' when "
    f"the median is below 0 and {AGREEING_SHARE:.0%} of seeds lose, otherwise 'no difference'.")


def rate_key(learning_rate: float) -> str:
    """A learning rate as a report key (`repr`-exact, e.g. `"0.0005"`)."""
    return repr(float(learning_rate))


def choose_learning_rate(validation: dict[float, Sequence[float]]) -> float:
    """The learning rate whose median validation score over seeds is highest.

    Args:
        validation: dict of learning rate to the validation scores of each seed (higher is
            better). Ties go to the rate listed first.
    """
    if not validation:
        raise ValueError("`validation` must hold at least one learning rate. Received: {}")
    best, best_score = None, float("-inf")
    for rate, scores in validation.items():
        if not scores:
            raise ValueError(f"No validation scores for learning rate {rate}.")
        score = statistics.median(scores)
        if score > best_score:
            best, best_score = rate, score
    return best


def summary(values: Sequence[float]) -> dict[str, float]:
    """`median`, `min`, `max`, `mean` and sample `std` of per-seed values."""
    values = [float(v) for v in values]
    mean = statistics.fmean(values)
    # Sample standard deviation, written out (statistics.stdev fails on some equal floats
    # in Python 3.11).
    std = (sum((v - mean) ** 2 for v in values) / (len(values) - 1)) ** 0.5 \
        if len(values) > 1 else 0.0
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "mean": mean, "std": std}


def paired_gain(pretrained: Sequence[float], random_init: Sequence[float]) -> dict:
    """The per-seed gain `pretrained - random_init`, its summary and the verdict.

    Returns:
        `{"values", "median", "min", "max", "mean", "std", "positive_seeds",
        "negative_seeds", "verdict"}`; `verdict` is one of `VERDICTS` (module docstring).

    Example:
    ```python
    gain = paired_gain([0.61, 0.58, 0.66, 0.60, 0.63], [0.55, 0.57, 0.60, 0.61, 0.58])
    assert gain["verdict"] == "gain" and gain["positive_seeds"] == 4
    ```
    """
    if len(pretrained) != len(random_init) or not pretrained:
        raise ValueError("Paired scores need one pretrained and one random-init score per seed. "
                         f"Received: {len(pretrained)} and {len(random_init)}")
    values = [float(p) - float(r) for p, r in zip(pretrained, random_init)]
    result = {"values": values, **summary(values),
              "positive_seeds": sum(v > 0 for v in values),
              "negative_seeds": sum(v < 0 for v in values)}
    needed = AGREEING_SHARE * len(values)
    if len(values) < MIN_SEEDS:
        result["verdict"] = "cannot conclude"
    elif result["median"] > 0 and result["positive_seeds"] >= needed:
        result["verdict"] = "gain"
    elif result["median"] < 0 and result["negative_seeds"] >= needed:
        result["verdict"] = "loss"
    else:
        result["verdict"] = "no difference"
    return result
