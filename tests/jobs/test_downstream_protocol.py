"""The downstream protocol: rate chosen on validation, paired gain per seed, written verdict."""

import statistics

import pytest
from hypothesis import given
from hypothesis import strategies as st

from albert_keras.jobs.downstream_protocol import (choose_learning_rate, paired_gain,
                                                       rate_key, summary)

scores = st.floats(0.0, 1.0, allow_nan=False)


@given(st.lists(st.lists(scores, min_size=1, max_size=7), min_size=1, max_size=5))
def test_the_chosen_rate_has_the_best_median_validation_score(per_rate):
    validation = {10.0 ** -(i + 3): values for i, values in enumerate(per_rate)}
    chosen = choose_learning_rate(validation)
    best = max(statistics.median(values) for values in per_rate)
    assert statistics.median(validation[chosen]) == best
    # Ties go to the rate listed first.
    first = next(rate for rate, values in validation.items() if statistics.median(values) == best)
    assert chosen == first


@given(st.lists(st.tuples(scores, scores), min_size=1, max_size=9))
def test_paired_gain_properties(pairs):
    pretrained, random_init = [p for p, _ in pairs], [r for _, r in pairs]
    gain = paired_gain(pretrained, random_init)
    assert gain["values"] == pytest.approx([p - r for p, r in pairs])
    assert gain["min"] <= gain["median"] <= gain["max"]
    assert gain["positive_seeds"] + gain["negative_seeds"] <= len(pairs)
    # Swapping the sides turns a gain into a loss and back.
    swapped = paired_gain(random_init, pretrained)
    assert swapped["verdict"] == {"gain": "loss", "loss": "gain", "no difference": "no difference",
                                  "cannot conclude": "cannot conclude"}[gain["verdict"]]
    # The rule, as written: at least 3 seeds, the median's sign and at least 80% of seeds agree.
    share = 0.8 * len(pairs)
    if len(pairs) < 3:
        assert gain["verdict"] == "cannot conclude"
    elif gain["verdict"] == "gain":
        assert gain["median"] > 0 and gain["positive_seeds"] >= share
    elif gain["verdict"] == "loss":
        assert gain["median"] < 0 and gain["negative_seeds"] >= share
    else:
        assert not (gain["median"] > 0 and gain["positive_seeds"] >= share)
        assert not (gain["median"] < 0 and gain["negative_seeds"] >= share)


def test_the_verdicts_of_five_seeds():
    base = [0.5] * 5
    assert paired_gain([0.6, 0.6, 0.6, 0.6, 0.4], base)["verdict"] == "gain"  # 4 of 5
    assert paired_gain([0.6, 0.6, 0.6, 0.4, 0.4], base)["verdict"] == "no difference"  # 3 of 5
    assert paired_gain([0.4, 0.4, 0.4, 0.4, 0.6], base)["verdict"] == "loss"
    assert paired_gain(base, base)["verdict"] == "no difference"
    # Two seeds that agree, or one, are too few for any verdict; three that agree are a gain.
    assert paired_gain([0.6, 0.7], [0.5, 0.5])["verdict"] == "cannot conclude"
    assert paired_gain([0.4], [0.5])["verdict"] == "cannot conclude"
    assert paired_gain([0.6, 0.7, 0.6], [0.5, 0.5, 0.5])["verdict"] == "gain"
    with pytest.raises(ValueError, match="one pretrained and one random-init score per seed"):
        paired_gain([0.5, 0.6], [0.5])


def test_summary_and_rate_keys():
    result = summary([0.7, 0.7, 0.9])
    assert result == pytest.approx({"median": 0.7, "min": 0.7, "max": 0.9, "mean": 0.7 + 0.2 / 3,
                                    "std": statistics.stdev([0.7, 0.7, 0.9])})
    assert summary([0.1, 0.1])["std"] == 0.0
    assert rate_key(5e-4) == "0.0005" and rate_key(1) == "1.0"
