"""`EncodedSplit`: one split of labelled examples as token-id rows and targets, for `make_dataset`."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from albert_keras.tasks.inputs.labeled_examples import LabeledExample

CHUNK = 2048  # Examples packed per graph call when encoding.


@dataclasses.dataclass
class EncodedSplit:
    """Variable-length int32 rows (no padding) and their targets; what a task's `encode` returns.

    Args:
        token_ids, segment_ids: list of int32 arrays, one per row.
        y: the targets: an array with one entry per row, a list of per-token arrays (tagging), or
            a dict of arrays named like the model's outputs (span extraction).
        examples: list of the task's examples (`labeled_examples`). Those kept, in order.
        sample_weight: list of float32 arrays or None. Per-token weights (tagging).
        dropped: int. Examples left out (span training examples with no window that holds
            their answer).
        truncated: int. Rows cut to fit (spans: contexts read in several windows).
    """

    token_ids: list[np.ndarray]
    segment_ids: list[np.ndarray]
    y: Any
    examples: list[LabeledExample]
    sample_weight: list[np.ndarray] | None = None
    dropped: int = 0
    truncated: int = 0

    @property
    def lengths(self) -> np.ndarray:
        """int64 `(rows,)`: each row's length."""
        return np.array([len(row) for row in self.token_ids], dtype=np.int64)


@dataclasses.dataclass
class EncodedWords(EncodedSplit):
    """Tagging rows; `word_positions[i]` holds the first sub-token of each kept word of row i."""

    word_positions: list[np.ndarray] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class EncodedSpans(EncodedSplit):
    """Span-extraction rows, one per context window.

    Args (besides `EncodedSplit`'s):
        window_example: list of int. Row -> index in `examples`.
        token_to_word: list of int32 arrays. Row -> the context word of each token (-1: none).
        word_offsets: list of lists of `(start, end)`. Row -> character offsets of the words of
            its example's context.
        answers_lost: int. Examples whose answer is whole in no window.
    """

    window_example: list[int] = dataclasses.field(default_factory=list)
    token_to_word: list[np.ndarray] = dataclasses.field(default_factory=list)
    word_offsets: list[list[tuple[int, int]]] = dataclasses.field(default_factory=list)
    answers_lost: int = 0
