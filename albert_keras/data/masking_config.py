"""`MaskingConfig`: the masked-LM masking settings and their defaults, in one place.

`DataConfig` takes its masking defaults from here, `prepare` stores one in the manifest
(`"masking"`), `pretraining_dataset` falls back on it when a manifest says nothing, and
`mask_tokens` checks its arguments with it. No TensorFlow needed.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

MODES = ("token", "whole_word", "ngram")


@dataclasses.dataclass(frozen=True)
class MaskingConfig:
    """How tokens are picked for masked-LM prediction (BERT: 15%, at most 20 per sequence).

    Args:
        mode: str. `"token"`, `"whole_word"` or `"ngram"` (ALBERT's n-grams, see `masking.py`).
            Defaults to `"token"`.
        mask_rate: float. Share of the maskable tokens to select, in (0, 1]. Defaults to 0.15.
        max_predictions: int. Most selected tokens per sequence. Defaults to 20.
        max_ngram: int. Longest n-gram in `"ngram"` mode. Defaults to 3.

    Example:
    ```python
    MaskingConfig(mode="ngram").to_dict()
    # {"mode": "ngram", "mask_rate": 0.15, "max_predictions": 20, "max_ngram": 3}
    ```
    """

    mode: str = "token"
    mask_rate: float = 0.15
    max_predictions: int = 20
    max_ngram: int = 3

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"`mode` must be one of {MODES}. Received: mode={self.mode!r}")
        if not 0.0 < self.mask_rate <= 1.0:
            raise ValueError(f"`mask_rate` must be in (0, 1]. Received: mask_rate={self.mask_rate}")
        if self.max_predictions < 1:
            raise ValueError("`max_predictions` must be >= 1. "
                             f"Received: max_predictions={self.max_predictions}")
        if self.max_ngram < 1:
            raise ValueError(f"`max_ngram` must be >= 1. Received: max_ngram={self.max_ngram}")

    def to_dict(self) -> dict[str, Any]:
        """The manifest's `"masking"` entry."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, stored: Mapping[str, Any]) -> MaskingConfig:
        """From a manifest's `"masking"`: missing keys take the defaults, others are ignored."""
        names = {field.name for field in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in stored.items() if key in names})
