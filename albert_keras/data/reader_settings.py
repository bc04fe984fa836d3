"""`ReaderSettings`: what `pretraining_dataset` decodes and masks with, and where each comes from."""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import tensorflow as tf

from albert_keras.data import tokenizers
from albert_keras.data.masking_config import MODES, MaskingConfig
from albert_keras.data.records_manifest import RecordsManifest
from albert_keras.data.reference_records import ReferenceLayout, check_lengths, read_layout
from albert_keras.data.shards import record_length


@dataclasses.dataclass(frozen=True)
class ReaderSettings:
    """What the reader decodes and masks with: the arguments, else the manifest, else defaults.

    Args:
        static_masking: bool. The records hold their masks (`prepare --static-masking`); they
            are read as stored, and only `masking.max_predictions` (their length) and
            `masking.mask_rate` (for length buckets) are used.
        masking: `MaskingConfig`. Mode, rate and limits of the masking on the fly.
        max_sequence_length: int. Length of the records' token rows.
        vocabulary_size: int or None. Random replacements are drawn below it. None when static.
        mask_id: int or None. Id of `[MASK]`. None when static.
        special_token_ids: tuple of int. Ids never masked. Empty when static.
        is_continuation: bool array `[vocabulary_size]` or None. Word pieces that continue a
            word, for `"whole_word"` and `"ngram"` masking.
        reference: `ReferenceLayout` or None. Set for records made by a reference
            `create_pretraining_data.py` (static, decoded by `reference.parse`); None for ours.
    """

    static_masking: bool
    masking: MaskingConfig
    max_sequence_length: int
    vocabulary_size: int | None = None
    mask_id: int | None = None
    special_token_ids: tuple[int, ...] = ()
    is_continuation: np.ndarray | None = dataclasses.field(default=None, compare=False,
                                                           repr=False)
    reference: ReferenceLayout | None = None


def reader_settings(manifest: RecordsManifest, files, masking, max_predictions, mask_rate,
                    max_ngram, tokenizer, records_format: str = "albert_keras") -> ReaderSettings:
    """Arguments win over the manifest, the manifest over `MaskingConfig`'s defaults.
    `records_format="reference"`: the records' own masks and lengths (`reference_records`)."""
    if records_format == "reference":
        return _reference_settings(files, masking, max_predictions, mask_rate)
    stored = manifest.masking
    if masking is None:
        masking = "static" if manifest.static_masking else stored.mode
    if masking not in (*MODES, "static"):
        raise ValueError(f"`masking` must be one of {(*MODES, 'static')} or None. "
                         f"Received: masking={masking!r}")
    static = masking == "static"
    config = MaskingConfig(mode=stored.mode if static else masking,
                           mask_rate=mask_rate or stored.mask_rate,
                           max_predictions=max_predictions or stored.max_predictions,
                           max_ngram=max_ngram or stored.max_ngram)
    max_sequence_length = manifest.max_sequence_length or record_length(files[0])
    if static:
        return ReaderSettings(static_masking=True, masking=config,
                              max_sequence_length=max_sequence_length)
    tokenizer = _masking_tokenizer(manifest, files, masking, tokenizer)
    if tokenizer is not None:
        special = tokenizers.special_token_ids(tokenizer)
        vocabulary_size = int(tokenizer.vocabulary_size())
    else:
        special = manifest.special_token_ids
        vocabulary_size = int(manifest.vocabulary_size)
    return ReaderSettings(
        static_masking=False, masking=config, max_sequence_length=max_sequence_length,
        vocabulary_size=vocabulary_size, mask_id=special["mask"],
        special_token_ids=tuple(sorted(set(special.values()))),
        is_continuation=(tokenizers.continuation_table(tokenizer) if masking != "token"
                         else None))


def _reference_settings(files, masking, max_predictions, mask_rate) -> ReaderSettings:
    """Records of a reference `create_pretraining_data.py`: read with their static masks."""
    if masking not in (None, "static"):
        raise ValueError("Records made by create_pretraining_data.py hold their masks: read "
                         "them with masking='static' (or None). Received: "
                         f"masking={masking!r}, records={files[0]!r}")
    layout = read_layout(files)
    check_lengths(layout, None, max_predictions)
    defaults = MaskingConfig()
    config = dataclasses.replace(defaults, max_predictions=layout.max_predictions,
                                 mask_rate=mask_rate or defaults.mask_rate)
    return ReaderSettings(static_masking=True, masking=config,
                          max_sequence_length=layout.max_sequence_length, reference=layout)


def _masking_tokenizer(manifest, files, masking: str, tokenizer):
    """The tokenizer given (or its path loaded), else the manifest's `tokenizer/` when masking
    needs one: word-level modes, or no special ids in the manifest. None when it needs none."""
    if isinstance(tokenizer, str):
        tokenizer = tokenizers.load_tokenizer(tokenizer)
    if tokenizer is None and (masking != "token" or manifest.special_token_ids is None
                              or manifest.vocabulary_size is None):
        path = os.path.join(os.path.dirname(files[0]), manifest.tokenizer)
        if not tf.io.gfile.isdir(path):
            raise ValueError(f"Masking needs the tokenizer: pass `tokenizer=` (no tokenizer "
                             f"directory at {path!r})")
        tokenizer = tokenizers.load_tokenizer(path)
    return tokenizer
