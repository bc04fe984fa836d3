"""`document_bootstrap`: a percentile bootstrap over groups, on synthetic data."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from albert_keras.utils.grouped_bootstrap import document_bootstrap


def _pair_level_bootstrap(correct, weights, resamples, seed, confidence):
    """The textbook bootstrap over examples, written out: each resample draws `n` examples."""
    n = len(correct)
    drawn = np.random.default_rng(seed).integers(0, n, size=(resamples, n))
    values = correct[drawn].sum(axis=1) / weights[drawn].sum(axis=1)
    tail = (1 - confidence) / 2
    return tuple(np.quantile(values, [tail, 1 - tail]))


@st.composite
def grouped_examples(draw):
    """(correct, weights, groups): 2-40 groups of 1-12 examples; masked-LM-like weights
    (0-5 positions, some correct) or pairs (weight 1, correct 0 / 1)."""
    sizes = draw(st.lists(st.integers(1, 12), min_size=2, max_size=40))
    groups = np.repeat(np.arange(len(sizes)), sizes)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if draw(st.booleans()):  # Pairs.
        weights = np.ones(len(groups))
        correct = (rng.random(len(groups)) < draw(st.floats(0, 1))).astype(float)
    else:  # Masked positions per example.
        weights = rng.integers(0, 6, len(groups)).astype(float)
        weights[0] = max(weights[0], 1.0)
        correct = rng.binomial(weights.astype(int), draw(st.floats(0, 1))).astype(float)
    return correct, weights, groups


@settings(max_examples=60, deadline=None)
@given(data=grouped_examples(), seed=st.integers(0, 2**16))
def test_the_interval_holds_the_point_estimate(data, seed):
    correct, weights, groups = data
    low, high = document_bootstrap(correct, weights, groups, resamples=400, seed=seed)
    point = correct.sum() / weights.sum()
    assert 0 <= low <= point + 1e-12 and point - 1e-12 <= high <= 1


@settings(max_examples=30, deadline=None)
@given(data=grouped_examples(), seed=st.integers(0, 2**16),
       confidence=st.sampled_from([0.5, 0.9, 0.95]))
def test_one_group_per_example_is_the_pair_level_bootstrap(data, seed, confidence):
    correct, weights, _ = data
    weights = np.maximum(weights, 1.0)  # Every resample has a value: no resample left out.
    correct = np.minimum(correct, weights)
    ours = document_bootstrap(correct, weights, np.arange(len(correct)), resamples=300,
                              seed=seed, confidence=confidence)
    assert ours == pytest.approx(_pair_level_bootstrap(correct, weights, 300, seed, confidence))


def test_labels_only_name_groups():
    """Relabelled or reordered, the same grouping gives an interval of the same width."""
    rng = np.random.default_rng(0)
    groups = rng.integers(0, 50, 600)
    correct = (rng.random(600) < 0.3).astype(float)
    weights = np.ones(600)
    low, high = document_bootstrap(correct, weights, groups, resamples=2000, seed=1)
    order = rng.permutation(600)
    other = document_bootstrap(correct[order], weights[order], groups[order] * 7 + 3,
                               resamples=2000, seed=2)
    assert other[1] - other[0] == pytest.approx(high - low, rel=0.2)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_correlated_documents_widen_the_interval(seed):
    """When every pair of a document shares its correctness, 40 documents of 16 pairs hold
    about 40 draws' worth of evidence, not 640: the document interval is much wider."""
    rng = np.random.default_rng(seed)
    groups = np.repeat(np.arange(40), 16)
    correct = np.repeat(rng.random(40) < 0.6, 16).astype(float)
    weights = np.ones(len(correct))
    by_document = document_bootstrap(correct, weights, groups, seed=seed)
    by_pair = document_bootstrap(correct, weights, np.arange(len(correct)), seed=seed)
    assert by_document[1] - by_document[0] > 2.5 * (by_pair[1] - by_pair[0])


def test_a_ratio_over_positions_not_a_mean_over_examples():
    """Masked-LM accuracy counts positions: a document with many masked positions weighs more."""
    correct = np.array([9.0, 0.0])  # 9 of 10 positions right, then 0 of 1.
    weights = np.array([10.0, 1.0])
    low, high = document_bootstrap(correct, weights, [0, 1], resamples=2000, seed=0)
    # Resamples: {a, a} 0.9, {a, b} 9/11, {b, b} 0.0.
    assert (low, high) == (0.0, 0.9)


def test_the_same_seed_gives_the_same_interval():
    rng = np.random.default_rng(5)
    correct, groups = (rng.random(300) < 0.4).astype(float), rng.integers(0, 30, 300)
    first = document_bootstrap(correct, np.ones(300), groups, seed=11)
    assert document_bootstrap(correct, np.ones(300), groups, seed=11) == first
    assert document_bootstrap(correct, np.ones(300), groups, seed=12) != first
    wider = document_bootstrap(correct, np.ones(300), groups, seed=11, confidence=0.99)
    assert wider[0] <= first[0] and wider[1] >= first[1]


def test_one_group_has_a_zero_width_interval():
    assert document_bootstrap([1.0, 0.0, 1.0], [1.0, 1.0, 1.0], [4, 4, 4]) == (2 / 3, 2 / 3)


@pytest.mark.parametrize("arguments, message", [
    (([1.0, 0.0], [1.0], [0, 1]), r"`weights` must have one entry .* len\(correct\)=2, "
                                  r"len\(weights\)=1"),
    (([1.0, 0.0], [1.0, 1.0], [0]), r"`groups` must have one entry .* len\(groups\)=1"),
    (([], [], []), r"`correct` must hold at least one example. Received: len\(correct\)=0"),
    (([[1.0]], [1.0], [0]), r"`correct` must be 1-D .* shape \(1, 1\)"),
    (([1.0], [-1.0], [0]), r"`weights` must be >= 0 .* min\(weights\)=-1.0"),
    (([0.0], [0.0], [0]), r"sum\(weights\)=0.0"),
    (([np.nan], [1.0], [0]), r"must be finite. Received: 1 non-finite in correct"),
])
def test_bad_input_names_the_argument(arguments, message):
    with pytest.raises(ValueError, match=message):
        document_bootstrap(*arguments)


@pytest.mark.parametrize("keyword, value", [("resamples", 0), ("confidence", 1.0),
                                            ("confidence", 0.0)])
def test_bad_settings_name_the_setting(keyword, value):
    with pytest.raises(ValueError, match=f"`{keyword}` .* Received: {keyword}={value}"):
        document_bootstrap([1.0], [1.0], [0], **{keyword: value})
