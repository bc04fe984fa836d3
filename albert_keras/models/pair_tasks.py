"""The sentence-pair tasks of pretraining: `"sop"` (ALBERT) and `"nsp"` (BERT).

One definition for the `Pretrainer` and for the pair records
(`pretraining_data/pairs/create_pairs.py`). It imports nothing, so checking a name loads neither Keras nor TensorFlow.
"""

from __future__ import annotations

PAIR_TASKS = ("sop", "nsp")


def check_pair_task(pair_task: str) -> None:
    """Raises `ValueError`, naming the value received, unless `pair_task` is in `PAIR_TASKS`."""
    if pair_task not in PAIR_TASKS:
        raise ValueError(f"`pair_task` must be one of {PAIR_TASKS}. "
                         f"Received: pair_task={pair_task!r}")
