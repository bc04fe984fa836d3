"""The rounds rule: alternated rounds, median and min-max, per-round ratios, a written verdict.

One definition for every side-by-side measurement: the benchmarks (`benchmarks/harness.py`
re-exports these names) and `compare`'s speed rounds. Nothing here keeps the best of N runs:
each figure is the list of its rounds, summarised as median, min and max, and each ratio between
two contenders is taken within a round (both measured minutes apart, under the same load), then
summarised the same way.

Rounds alternate the contenders' order, A B | B A | A B ..., so drift in the machine's load (the
usual case on a shared machine) hits each contender early and late alike.

Verdict rule (`VERDICT_RULE`): for a comparison "A against B" the per-round speed ratio is A's
speed over B's (a throughput A/B; a time or latency B/A). "faster" when every round's speed
ratio is above 1 + tolerance; "slower" when every one is below 1 - tolerance; otherwise, or with
fewer than `MIN_ROUNDS` rounds, "cannot conclude" (the rounds disagree, or there are too few to
tell). The median is reported, never used alone for a verdict.
"""

from __future__ import annotations

import statistics
from typing import Any, Callable, Mapping, Sequence

MIN_ROUNDS = 3
VERDICT_RULE = (
    "Per round, speed ratio = A's speed / B's speed (throughput A/B; time or latency B/A). "
    "'faster' when every round's speed ratio > 1 + tolerance; 'slower' when every round's "
    f"speed ratio < 1 - tolerance; otherwise, or with fewer than {MIN_ROUNDS} rounds, "
    "'cannot conclude'. Figures are median and min-max over rounds; no best-of-N.")
VERDICTS = ("faster", "slower", "cannot conclude")
BETTER = ("higher", "lower")


def alternated_order(names: Sequence[str], rounds: int) -> list[list[str]]:
    """The order of each round: `names` in even rounds, reversed in odd ones (A B | B A | ...).

    Args:
        names: sequence of str. The contenders, in the first round's order.
        rounds: int. How many rounds; at least 1.

    Example:
    ```python
    order = alternated_order(["bert", "albert"], 3)
    assert order == [["bert", "albert"], ["albert", "bert"], ["bert", "albert"]]
    ```
    """
    if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1:
        raise ValueError(f"`rounds` must be at least 1. Received: rounds={rounds!r}")
    if len(set(names)) != len(names) or not names:
        raise ValueError(f"`names` must be distinct and not empty. Received: names={names}")
    return [list(names) if index % 2 == 0 else list(names)[::-1] for index in range(rounds)]


def run_rounds(measures: Mapping[str, Callable[[], Any]], rounds: int = MIN_ROUNDS,
               log: Callable[[str], None] | None = None) -> dict[str, list]:
    """Calls each contender's `measure()` once per round, in alternated order.

    Args:
        measures: mapping of str to a callable with no arguments. Each returns one round's
            measurement (a number or a dict of numbers).
        rounds: int. Rounds to run. Defaults to `MIN_ROUNDS`.
        log: callable taking a str, or None. Told each measurement as it lands.

    Returns:
        dict of contender name to its list of measurements, one per round, in round order.
    """
    results: dict[str, list] = {name: [] for name in measures}
    for index, order in enumerate(alternated_order(list(measures), rounds)):
        for name in order:
            results[name].append(measures[name]())
            if log:
                log(f"round {index + 1}/{rounds} {name}: {results[name][-1]}")
    return results


def summarize(values: Sequence[float]) -> dict[str, Any]:
    """Median, min and max of a figure's rounds, with the rounds themselves.

    Example:
    ```python
    figure = summarize([3.0, 1.0, 10.0])
    assert (figure["median"], figure["min"], figure["max"]) == (3.0, 1.0, 10.0)
    ```
    """
    values = [float(v) for v in values]
    if not values:
        raise ValueError("`values` must hold at least one round. Received: []")
    return {"rounds": values, "median": statistics.median(values), "min": min(values),
            "max": max(values)}


def speed_ratios(a: Sequence[float], b: Sequence[float], better: str) -> list[float]:
    """Per round, A's speed over B's: a/b when higher is better, b/a when lower is."""
    if len(a) != len(b):
        raise ValueError(f"Both figures need the same rounds. Received: {len(a)} and {len(b)}")
    if better not in BETTER:
        raise ValueError(f"`better` must be one of {BETTER}. Received: better={better!r}")
    return [x / y if better == "higher" else y / x for x, y in zip(a, b)]


def verdict(ratios: Sequence[float], tolerance: float = 0.0) -> str:
    """`VERDICT_RULE` applied to per-round speed ratios (A's speed / B's speed).

    Example:
    ```python
    assert verdict([1.07, 1.16, 1.12]) == "faster"
    assert verdict([0.72, 1.16, 1.12]) == "cannot conclude"  # The rounds disagree.
    ```
    """
    if len(ratios) < MIN_ROUNDS:
        return "cannot conclude"
    if all(r > 1.0 + tolerance for r in ratios):
        return "faster"
    if all(r < 1.0 - tolerance for r in ratios):
        return "slower"
    return "cannot conclude"
