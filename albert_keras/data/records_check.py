"""`check_records`: the records, their manifest and their tokenizer are one unit, and they must
match the config that is about to train on them.

`prepare` writes the manifest last, with a fingerprint of the tokenizer it saved and every data
setting that shaped the records. A re-`prepare` killed half-way, a tokenizer copied from
elsewhere or a `--set data.*` override that the records do not have is caught here, by name,
before any training.
"""

from __future__ import annotations

import os
from typing import Any

from albert_keras.data.records_manifest import MANIFEST, RecordsManifest, read_manifest
from albert_keras.data.tokenizers import tokenizer_fingerprint

# Settings that decide what the records hold. The rest (masking, buckets, shuffle buffer,
# workers, output_dir) is applied when reading and may change freely.
RECORD_SETTINGS = ("corpus", "max_documents", "tfds_text_key", "tokenizer", "tokenizer_path",
                   "vocabulary_size", "lowercase", "strip_accents", "max_sequence_length",
                   "pair_task", "short_seq_prob", "dupe_factor", "held_out_fraction", "seed")


def check_records(directory: str, tokenizer_dir: str, data=None) -> RecordsManifest:
    """Returns the manifest of `directory` after checking it against the tokenizer and `data`.

    Args:
        directory: str. A folder `prepare` wrote (shards + `manifest.json`).
        tokenizer_dir: str. The tokenizer that is about to be used with the records.
        data: `DataConfig` or None. The settings the caller expects the records to have.

    Raises:
        ValueError: no manifest; a tokenizer other than the one the records were made with
            (naming both files); settings that differ (naming each key with both values).
    """
    path = os.path.join(directory, MANIFEST)
    manifest = read_manifest(directory)
    if manifest is None:
        raise ValueError(f"No {MANIFEST} in {directory}: the records cannot be checked "
                         "against their tokenizer and settings (a `prepare` that did not "
                         f"finish?). Run `albert-keras prepare` again. Expected: {path}")
    expected = manifest.tokenizer_fingerprint
    if expected is not None and tokenizer_fingerprint(tokenizer_dir) != expected:
        raise ValueError(
            f"The tokenizer in {tokenizer_dir} is not the one the records were made with "
            f"(fingerprint recorded in {path}); a `prepare` was interrupted or the tokenizer "
            "was replaced. Run `albert-keras prepare` again to make records and tokenizer anew.")
    if data is not None:
        stored = manifest.data_config
        changed = [f"data.{key}: records {stored.get(key)!r}, config {getattr(data, key)!r}"
                   for key in RECORD_SETTINGS
                   if key in stored and _normal(stored[key]) != _normal(getattr(data, key))]
        if changed:
            raise ValueError(
                f"The records in {directory} were made with other data settings than the "
                f"config's: {'; '.join(changed)}. Run `albert-keras prepare` with this config to "
                "make them anew (it replaces them), or set the config back.")
    return manifest


def _normal(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value
