"""The records a `pretrain` run reads: found, checked, and given with their tokenizer.

Records made by `prepare` come with `manifest.json` and `tokenizer/`, and are checked against
both (`records_check.py`). Records made by a reference `create_pretraining_data.py`
(`data.records_format: reference`, or recognised from their first record; see
`reference_records.py`) come with neither: the tokenizer is `data.tokenizer_path`, and the
records are checked against the config's lengths and the tokenizer's vocabulary instead.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from typing import Any

from albert_keras.pretraining_data.records.records_manifest import MANIFEST
from albert_keras.utils import file_io
from albert_keras.utils.tokenizer_beside import TOKENIZER_DIR


@dataclasses.dataclass(frozen=True)
class PretrainRecords:
    """A run's records, checked, with what the trainer needs to read them.

    Args:
        pattern: str. Glob of the shards (`train.records`, or the `prepare` directory's).
        tokenizer_path: str. Our `tokenizer/` directory, or `data.tokenizer_path` for
            reference records (a `vocab.txt`, `.model` or a model's tokenizer).
        tokenizer: the loaded keras-hub tokenizer.
        masking: str. The reader's `masking`: `"static"` for records that hold masks, else
            `data.masking`.
        verified: bool. Every shard was read once here (reference records), so the reader
            need not read them again before training.

    Example:
    ```python
    # needs: a pipeline config whose records exist
    found = checked_records(config)
    dataset = pretraining_dataset_from_config(config, found.pattern, found.tokenizer, 32,
                                              masking=found.masking)
    ```
    """

    pattern: str
    tokenizer_path: str
    tokenizer: Any
    masking: str
    verified: bool = False


def find_records(config) -> tuple[str | None, str | None]:
    """(file pattern, tokenizer path) of the pipeline's records; (None, None) when they still
    have to be prepared. A `train.records` that matches nothing is an error, and so are
    reference records without `data.tokenizer_path`."""
    train, data = config.train, config.data
    if train.records:
        files = file_io.glob(train.records)
        if not files:
            raise ValueError("`train.records` matches no files. Received: "
                             f"train.records={train.records!r}")
        tokenizer_dir = os.path.join(os.path.dirname(files[0]), TOKENIZER_DIR)
        if _is_reference(files, data.records_format):
            if not data.tokenizer_path:
                raise ValueError(
                    f"The records of train.records={train.records!r} were made by "
                    "create_pretraining_data.py and have no tokenizer of ours beside them: set "
                    "data.tokenizer_path to the vocab.txt or .model they were made with. "
                    "Received: data.tokenizer_path=None")
            return train.records, data.tokenizer_path
        if not file_io.isdir(tokenizer_dir):
            raise ValueError("No tokenizer/ next to the records of "
                             f"train.records={train.records!r}. Expected: {tokenizer_dir}")
        return train.records, tokenizer_dir
    if data.records_format == "reference":
        raise ValueError("Records made by create_pretraining_data.py are read from "
                         "train.records: set it to their glob. Received: "
                         "data.records_format='reference', train.records=None")
    directory = os.path.join(data.output_dir, config.name)
    pattern = os.path.join(directory, "*.tfrecord*")
    tokenizer_dir = os.path.join(directory, TOKENIZER_DIR)
    if file_io.glob(pattern) and file_io.isdir(tokenizer_dir):
        return pattern, tokenizer_dir
    return None, None


def checked_records(config) -> PretrainRecords:
    """The run's records, checked to belong together with their manifest and tokenizer and to
    this config's data section (ours), or to the config's lengths and the tokenizer's
    vocabulary (reference records; reads every shard once)."""
    from albert_keras.tokenizers.tokenizer_files import load_tokenizer

    records, tokenizer_path = find_records(config)
    if records is None:
        raise ValueError(
            f"No pretraining records in {os.path.join(config.data.output_dir, config.name)}/. "
            "Run `albert-keras prepare` first (`albert-keras pretrain` does when "
            "train.prepare_if_missing is true), or set train.records. Received: "
            f"data.output_dir={config.data.output_dir!r}")
    files = file_io.glob(records)
    if config.train.records and _is_reference(files, config.data.records_format):
        tokenizer = load_tokenizer(tokenizer_path)
        from albert_keras.pretraining_data.records import reference_records

        layout = reference_records.read_layout(files)
        reference_records.check_lengths(layout, config.data.max_sequence_length,
                                        config.data.max_predictions, prefix="data.")
        reference_records.check_vocabulary(
            reference_records.largest_token_ids(files, layout),
            int(tokenizer.vocabulary_size()), tokenizer_path)
        print(f"[pretrain] records made by create_pretraining_data.py ({len(files)} shard(s), "
              f"{'ALBERT, ' if layout.token_boundary else ''}static masks), "
              f"{config.data.pair_task.upper()} labels as data.pair_task says, tokenizer "
              f"{tokenizer_path}")
        return PretrainRecords(records, tokenizer_path, tokenizer, "static", verified=True)
    from albert_keras.pretraining_data.records.records_check import check_records

    # The manifest first: a set without one (a `prepare` that did not finish) is refused by
    # name before its tokenizer is read.
    manifest = check_records(os.path.dirname(files[0]), tokenizer_path,
                             config.data if not config.train.records else None)
    tokenizer = load_tokenizer(tokenizer_path)
    masking = "static" if manifest.static_masking else config.data.masking
    return PretrainRecords(records, tokenizer_path, tokenizer, masking)


def records_digest(records: str) -> str | None:
    """SHA-256 of the records' `manifest.json`; without one (reference records), of the
    shards' names and sizes. None when nothing matches."""
    from albert_keras.utils.atomic_files import file_sha256

    files = file_io.glob(records)
    if not files:
        return None
    manifest = os.path.join(os.path.dirname(files[0]), MANIFEST)
    if file_io.isfile(manifest):
        return file_sha256(manifest)
    digest = hashlib.sha256()
    for path in files:
        digest.update(f"{os.path.basename(path)}\0{file_io.size(path)}\0".encode("utf-8"))
    return digest.hexdigest()


def _is_reference(files: list[str], records_format: str) -> bool:
    """Records of a reference script: said by `data.records_format`, or, when it is `"auto"`
    and there is no manifest beside them, by their first record."""
    if records_format == "albert_keras":
        return False
    if records_format == "auto" and file_io.isfile(
            os.path.join(os.path.dirname(files[0]), MANIFEST)):
        return False
    from albert_keras.pretraining_data.records.reference_records import (
        records_format as detect_format)

    return detect_format(files, records_format) == "reference"
