"""`PairOptions`: the settings every document's sentence pairs are made with."""

from __future__ import annotations

import dataclasses

from albert_keras.models.pair_tasks import check_pair_task


@dataclasses.dataclass(frozen=True)
class PairOptions:
    """What `create_pairs` hands each chunk of documents (and each worker process): checked
    once, here, and the same for every document.

    Args:
        max_sequence_length: int. Length of each row, special tokens and padding included;
            at least 5.
        pair_task: str. `"nsp"` or `"sop"` (`PAIR_TASKS`).
        cls_id, sep_id: int. Special token ids.
        pad_id: int. Padding id. Defaults to 0.
        short_seq_prob: float. Probability, in [0, 1], of a shorter target length.
            Defaults to 0.1.
        seed: int. Same seed, same pairs. Defaults to 0.

    Example:
    ```python
    options = PairOptions(max_sequence_length=16, pair_task="sop", cls_id=2, sep_id=3)
    assert options.pad_id == 0 and options.short_seq_prob == 0.1
    ```
    """

    max_sequence_length: int
    pair_task: str
    cls_id: int
    sep_id: int
    pad_id: int = 0
    short_seq_prob: float = 0.1
    seed: int = 0

    def __post_init__(self) -> None:
        check_pair_task(self.pair_task)
        if self.max_sequence_length < 5:
            raise ValueError("`max_sequence_length` must be >= 5. "
                             f"Received: max_sequence_length={self.max_sequence_length}")
        if not 0.0 <= self.short_seq_prob <= 1.0:
            raise ValueError("`short_seq_prob` must be in [0, 1]. "
                             f"Received: short_seq_prob={self.short_seq_prob}")
