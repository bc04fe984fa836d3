"""`ReaderSettings`: what `pretraining_dataset` decodes and masks with, and where each comes from."""

from __future__ import annotations

import dataclasses
import os

import tensorflow as tf

from albert_keras import tokenizers
from albert_keras.pretraining_data.masking.masking_config import MaskingConfig
from albert_keras.pretraining_data.records.records_manifest import RecordsManifest
from albert_keras.pretraining_data.records.reference_records import (ReferenceLayout, check_lengths,
                                                                     read_layout)
from albert_keras.pretraining_data.records.shards import record_length


@dataclasses.dataclass(frozen=True)
class ReaderSettings:
    """What the reader decodes and masks with: the arguments, else the manifest, else defaults.

    Args:
        static_masking: bool. The records hold their masks (`prepare --static-masking`); they
            are read as stored, and only `masking.max_predictions` (their length) and
            `masking.mask_rate` (for length buckets) are used.
        masking: `MaskingConfig`. The masking on the fly, bound to the vocabulary (not bound
            when static).
        max_sequence_length: int. Length of the records' token rows.
        reference: `ReferenceLayout` or None. Set for records made by a reference
            `create_pretraining_data.py` (static, decoded by `reference.parse`); None for ours.
    """

    static_masking: bool
    masking: MaskingConfig
    max_sequence_length: int
    reference: ReferenceLayout | None = None


def reader_settings(manifest: RecordsManifest, files, masking: MaskingConfig | None,
                    static_masking: bool | None, tokenizer,
                    records_format: str = "albert_keras") -> ReaderSettings:
    """The arguments win over the manifest (`masking`, `static_masking`: None = as it says).
    `records_format="reference"`: the records' own masks and lengths (`reference_records`)."""
    if masking is not None and not isinstance(masking, MaskingConfig):
        raise TypeError("`masking` must be a MaskingConfig or None (as the manifest says). "
                        f"Received: masking={masking!r}")
    if records_format == "reference":
        return _reference_settings(files, masking, static_masking)
    config = manifest.masking if masking is None else masking
    static = manifest.static_masking if static_masking is None else bool(static_masking)
    max_sequence_length = manifest.max_sequence_length or record_length(files[0])
    if static:
        return ReaderSettings(static_masking=True, masking=config,
                              max_sequence_length=max_sequence_length)
    tokenizer = _masking_tokenizer(manifest, files, config.mode, tokenizer)
    if tokenizer is not None:
        config = config.with_tokenizer(tokenizer)
    else:
        config = config.with_vocabulary(int(manifest.vocabulary_size), manifest.special_token_ids)
    return ReaderSettings(static_masking=False, masking=config,
                          max_sequence_length=max_sequence_length)


def _reference_settings(files, masking: MaskingConfig | None,
                        static_masking: bool | None) -> ReaderSettings:
    """Records of a reference `create_pretraining_data.py`: read with their static masks."""
    if static_masking is False:
        raise ValueError("Records made by create_pretraining_data.py hold their masks: read "
                         "them with static_masking=True (or None). Received: "
                         f"static_masking=False, records={files[0]!r}")
    layout = read_layout(files)
    check_lengths(layout, None, None if masking is None else masking.max_predictions)
    config = dataclasses.replace(masking or MaskingConfig(), max_predictions=layout.max_predictions)
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
