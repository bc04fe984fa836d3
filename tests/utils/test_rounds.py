"""The rounds rule: alternated order, median and min-max, per-round ratios, the verdict rule.

Properties only, on synthetic rounds: nothing here times anything or asserts a speed.
"""

import pytest

from albert_keras.utils import rounds


def test_alternated_order_flips_every_other_round():
    assert rounds.alternated_order(["a", "b"], 4) == [["a", "b"], ["b", "a"], ["a", "b"],
                                                       ["b", "a"]]
    assert rounds.alternated_order(["a", "b", "c"], 2) == [["a", "b", "c"], ["c", "b", "a"]]


@pytest.mark.parametrize("names, count", [(["a", "a"], 3), ([], 3), (["a"], 0), (["a"], True)])
def test_alternated_order_refuses_bad_arguments(names, count):
    with pytest.raises(ValueError, match="names|rounds"):
        rounds.alternated_order(names, count)


def test_run_rounds_calls_in_alternated_order():
    calls = []

    def measure(name):
        def run():
            calls.append(name)
            return len(calls)
        return run

    results = rounds.run_rounds({"a": measure("a"), "b": measure("b")}, rounds=3)
    assert calls == ["a", "b", "b", "a", "a", "b"]
    assert results == {"a": [1, 4, 5], "b": [2, 3, 6]}


def test_summarize_is_median_and_range_not_best():
    summary = rounds.summarize([3.0, 1.0, 10.0])
    assert summary == {"rounds": [3.0, 1.0, 10.0], "median": 3.0, "min": 1.0, "max": 10.0}
    with pytest.raises(ValueError, match="at least one round"):
        rounds.summarize([])


def test_speed_ratios_are_per_round_and_follow_direction():
    assert rounds.speed_ratios([2.0, 4.0], [1.0, 8.0], "higher") == [2.0, 0.5]
    assert rounds.speed_ratios([2.0, 4.0], [1.0, 8.0], "lower") == [0.5, 2.0]
    with pytest.raises(ValueError, match="same rounds"):
        rounds.speed_ratios([1.0], [1.0, 2.0], "higher")
    with pytest.raises(ValueError, match="better"):
        rounds.speed_ratios([1.0], [1.0], "faster")


@pytest.mark.parametrize("ratios, tolerance, expected", [
    ([1.1, 1.2, 1.05], 0.0, "faster"),
    ([0.9, 0.8, 0.95], 0.0, "slower"),
    ([1.1, 0.9, 1.2], 0.0, "cannot conclude"),  # The rounds disagree.
    ([1.1, 1.2], 0.0, "cannot conclude"),  # Too few rounds.
    ([1.01, 1.02, 1.03], 0.05, "cannot conclude"),  # All above 1, within the tolerance.
    ([1.06, 1.07, 1.08], 0.05, "faster"),
    ([1.0, 1.2, 1.3], 0.0, "cannot conclude"),  # A tie in one round is not "faster".
])
def test_verdict_rule(ratios, tolerance, expected):
    assert rounds.verdict(ratios, tolerance) == expected
