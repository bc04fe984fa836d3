"""`DataConfig`: the `data` section of a pipeline (owned by the data stage)."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """Where pretraining text comes from and how it becomes TFRecords."""

    corpus: str = "stdlib"
    output_dir: str = "tf_records"
    max_sequence_length: int = 128
    seed: int = 12345
