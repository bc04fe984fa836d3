"""`MaskingConfig`: the masked-LM masking settings, their defaults in one place, and the
vocabulary they apply to.

`DataConfig` takes its masking defaults from here (`data.masking` included), `prepare` stores
the settings in the manifest (`"masking"`), `pretraining_dataset` falls back on them when a
manifest says nothing, and `mask_tokens` takes one, bound to a vocabulary
(`with_vocabulary`, `with_tokenizer`). No TensorFlow needed to build or check one.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

MODES = ("token", "whole_word", "ngram")
# The settings that a pipeline's `data` section sets and a manifest stores (`"masking"`); the
# 80/10/10 rates keep their defaults there, and the other fields name the vocabulary.
STORED = ("mode", "mask_rate", "max_predictions", "max_ngram")


@dataclasses.dataclass(frozen=True)
class MaskingConfig:
    """How tokens are picked and replaced for masked-LM prediction (BERT: 15%, 80/10/10).

    The first six fields are the settings; a pipeline's `data` section sets and the manifest's
    `"masking"` stores the first four (the 80/10/10 rates keep their defaults there). The last
    four bind them to a vocabulary, as `mask_tokens` needs; `with_vocabulary` or
    `with_tokenizer` sets them.

    Args:
        mode: str. `"token"`, `"whole_word"` or `"ngram"` (ALBERT's n-grams, see `mask_tokens.py`).
            Defaults to `"ngram"`.
        mask_rate: float. Share of the maskable tokens to select, in (0, 1]. Defaults to 0.15.
        max_predictions: int. Most selected tokens per sequence. Defaults to 20.
        max_ngram: int. Longest n-gram in `"ngram"` mode. Defaults to 3.
        mask_token_rate: float. Share of the selected tokens replaced by `[MASK]`. Defaults
            to 0.8.
        random_token_rate: float. Share replaced by a random token; the rest is kept. Defaults
            to 0.1.
        vocabulary_size: int or None. Random replacements are drawn from
            `[0, vocabulary_size)`. Defaults to None: not bound to a vocabulary.
        mask_id: int or None. Id of `[MASK]`. Defaults to None.
        special_token_ids: tuple of int. Ids never selected (pad, unk, cls, sep, mask),
            sorted. Defaults to `()`.
        is_continuation: bool array `[vocabulary_size]` or None. True where a token continues
            the word before it (`tokenizers.continuation_table`); `"whole_word"` and
            `"ngram"` need it. Not compared. Defaults to None.

    Example:
    ```python
    special = {"pad": 0, "unk": 1, "cls": 2, "sep": 3, "mask": 4}
    settings = MaskingConfig(mode="token").with_vocabulary(100, special)
    assert (settings.mask_id, settings.to_dict()["mode"]) == (4, "token")
    ```
    """

    mode: str = "ngram"
    mask_rate: float = 0.15
    max_predictions: int = 20
    max_ngram: int = 3
    mask_token_rate: float = 0.8
    random_token_rate: float = 0.1
    vocabulary_size: int | None = None
    mask_id: int | None = None
    special_token_ids: tuple[int, ...] = ()
    is_continuation: Any = dataclasses.field(default=None, compare=False, repr=False)

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
        rates = (self.mask_token_rate, self.random_token_rate)
        if min(rates) < 0.0 or sum(rates) > 1.0:
            raise ValueError("`mask_token_rate` and `random_token_rate` must be >= 0 with a sum "
                             f"<= 1. Received: mask_token_rate={self.mask_token_rate}, "
                             f"random_token_rate={self.random_token_rate}")
        if self.vocabulary_size is not None and self.vocabulary_size < 1:
            raise ValueError("`vocabulary_size` must be >= 1 or None. "
                             f"Received: vocabulary_size={self.vocabulary_size}")
        object.__setattr__(self, "special_token_ids",
                           tuple(sorted({int(i) for i in self.special_token_ids})))

    @property
    def bound(self) -> bool:
        """Whether `mask_tokens` can use these settings: a vocabulary and a `[MASK]` id."""
        return self.vocabulary_size is not None and self.mask_id is not None

    def with_vocabulary(self, vocabulary_size: int, special_token_ids: Mapping[str, int],
                        is_continuation: Any = None) -> MaskingConfig:
        """These settings bound to a vocabulary: what `mask_tokens` takes.

        Args:
            vocabulary_size: int. The tokenizer's.
            special_token_ids: dict of str to int. `mask` and the other special ids
                (`tokenizers.special_token_ids`); none of them is ever selected.
            is_continuation: bool array `[vocabulary_size]` or None. Kept for `"whole_word"`
                and `"ngram"`, which need it; dropped for `"token"`. Defaults to None.
        """
        if "mask" not in special_token_ids:
            raise ValueError("`special_token_ids` must name the `mask` id. "
                             f"Received: special_token_ids={dict(special_token_ids)!r}")
        if self.mode != "token" and is_continuation is None:
            raise ValueError(f"Masking mode={self.mode!r} needs the `is_continuation` table "
                             "(`tokenizers.continuation_table`). Received: is_continuation=None")
        return dataclasses.replace(
            self, vocabulary_size=int(vocabulary_size), mask_id=int(special_token_ids["mask"]),
            special_token_ids=tuple(special_token_ids.values()),
            is_continuation=None if self.mode == "token" else is_continuation)

    def with_tokenizer(self, tokenizer) -> MaskingConfig:
        """These settings bound to a keras-hub tokenizer's vocabulary (`with_vocabulary`)."""
        from albert_keras import tokenizers

        table = None if self.mode == "token" else tokenizers.continuation_table(tokenizer)
        return self.with_vocabulary(int(tokenizer.vocabulary_size()),
                                    tokenizers.special_token_ids(tokenizer), table)

    def to_dict(self) -> dict[str, Any]:
        """The manifest's `"masking"` entry: the `STORED` settings (the vocabulary is stored
        beside it)."""
        return {name: getattr(self, name) for name in STORED}

    @classmethod
    def from_dict(cls, stored: Mapping[str, Any]) -> MaskingConfig:
        """From a manifest's `"masking"`: missing settings take the defaults, other keys are
        ignored."""
        return cls(**{key: value for key, value in stored.items() if key in STORED})
