"""`check_records`: the records, their manifest and their tokenizer are one unit, and they must
match the config that is about to train on them.

`prepare` writes the manifest last, with a fingerprint of the tokenizer it saved and every data
setting that shaped the records. A re-`prepare` killed half-way, a tokenizer copied from
elsewhere or a `--set data.*` override that the records do not have is caught here, by name,
before any training. On a URL (`gs://...`), where a record set is replaced file by file, the
manifest is what publishes it (`prepare` removes it first and writes it last), so a set whose
manifest is missing, or whose shards are not the ones it lists, is refused here.
"""

from __future__ import annotations

import os
from typing import Any

from albert_keras.pretraining_data.records.records_manifest import (MANIFEST, RecordsManifest,
                                                                    read_manifest)
from albert_keras.tokenizers.tokenizer_files import tokenizer_fingerprint
from albert_keras.utils import file_io

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
        ValueError: no manifest; shard files other than those it lists (naming them); a
            tokenizer other than the one the records were made with (naming both files);
            settings that differ (naming each key with both values).
    """
    path = os.path.join(directory, MANIFEST)
    manifest = read_manifest(directory)
    if manifest is None:
        raise ValueError(f"No {MANIFEST} in {directory}: the records cannot be checked "
                         "against their tokenizer and settings (a `prepare` that did not "
                         f"finish?). Run `albert-keras prepare` again. Expected: {path}")
    _check_shard_files(directory, manifest)
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


def _check_shard_files(directory: str, manifest: RecordsManifest) -> None:
    """The shard files in `directory` must be those the manifest lists (when it lists any)."""
    listed = set(manifest.shard_counts())
    if not listed:
        return
    present = {os.path.basename(path)
               for path in file_io.glob(os.path.join(directory, "*.tfrecord*"))}
    if present != listed:
        extra, missing = sorted(present - listed), sorted(listed - present)
        raise ValueError(
            f"The shards in {directory} are not the ones its {MANIFEST} lists (a `prepare` "
            f"that did not finish, or files added or removed by hand): "
            f"not listed {extra}, missing {missing}. Run `albert-keras prepare` again.")


def _normal(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value
