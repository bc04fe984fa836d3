"""`TrainConfig`: the `train` section of a pipeline (owned by the training stage)."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """How pretraining runs: strategy, batch, steps, optimizer, precision, callbacks."""

    strategy: str = "default"
    global_batch_size: int = 32
    steps: int = 1000
    seed: int = 0
