"""What every fine-tuning task's labelled-file reader shares: errors, JSON lines, TFDS, splits.

Each task (`albert_keras.tasks`) reads its own formats into its own frozen example dataclass
(`labeled_examples`), each with the `source` and `row` it came from so that errors can name
them; the pieces here are the same for all of them.
"""

from __future__ import annotations

import csv
import json
import os
import re
from typing import TYPE_CHECKING, Any, Iterable, Iterator, TypeVar

import numpy as np

from albert_keras.utils import file_io

if TYPE_CHECKING:  # Types only: the jobs rank above the fine-tuning inputs.
    from albert_keras.jobs.finetune_config import FinetuneConfig

TFDS_PREFIX = "tfds:"
# Python's csv module refuses cells over 131,072 characters by default; a long text is cut to
# the sequence length later (as for JSON lines), so any cell a file holds is read.
_CSV_FIELD_LIMIT = 2**31 - 1
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_DEFAULT_TFDS_SPLITS = {"train": "train", "validation": "validation", "test": "test"}
Example = TypeVar("Example")  # Any task's example dataclass (`labeled_examples`).


def split_training(train: list[Example],
                   ft: FinetuneConfig) -> tuple[list[Example], list[Example] | None]:
    """`(examples trained on, validation held out of them or None)`: the first
    `ft.max_train_examples`, then, without a `ft.validation` file, `ft.validation_fraction` of
    them held out with `ft.seed` (`split_examples`). `ft`: the `finetune` section."""
    if ft.max_train_examples:
        train = train[:ft.max_train_examples]
    if not ft.validation and ft.validation_fraction > 0:
        return split_examples(train, ft.validation_fraction, ft.seed)
    return train, None


class LabeledDataError(ValueError):
    """Bad labelled data; the message names the file, the row and the column."""


def check_file(source: str, split: str) -> None:
    """Raises `LabeledDataError` naming `split` when the file `source` does not exist."""
    if not file_io.isfile(source):
        raise LabeledDataError(f"Labelled data file not found: {split}={source!r}")


def extension(path: str) -> str:
    """The lower-case file extension of `path`, dot included."""
    return os.path.splitext(path)[1].lower()


def json_lines(path: str) -> Iterator[tuple[int, dict]]:
    """`(row number, object)` for each non-blank line of a JSON-lines file."""
    with file_io.open_text(path, "utf-8-sig") as f:
        for row_number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise LabeledDataError(f"{path} row {row_number}: not valid JSON ({error})") from None
            if not isinstance(record, dict):
                raise LabeledDataError(f"{path} row {row_number}: expected a JSON object. "
                                       f"Received: {line.strip()[:80]!r}")
            yield row_number, record


def delimited_rows(path: str, delimiter: str) -> list[list[str]]:
    """The rows of a CSV (`delimiter=","`) or TSV (`"\\t"`) file, cells of any length; a
    malformed file is a `LabeledDataError` naming it and the row."""
    if csv.field_size_limit() < _CSV_FIELD_LIMIT:
        csv.field_size_limit(_CSV_FIELD_LIMIT)  # Raised once for the process, never lowered.
    with file_io.open_text(path, "utf-8-sig", newline="") as f:
        reader = csv.reader(f, delimiter=delimiter)
        try:
            return list(reader)
        except csv.Error as error:
            raise LabeledDataError(f"{path} row {reader.line_num}: not valid "
                                   f"{'TSV' if delimiter == chr(9) else 'CSV'} ({error})") from None


def tfds_records(source: str, split: str) -> Iterator[tuple[str, int, dict, Any]]:
    """`(where, row, record, features)` for each record of a `tfds:NAME[:SPLIT]` source."""
    import tensorflow_datasets as tfds  # Deferred: only TFDS sources need it.

    name, _, tfds_split = source[len(TFDS_PREFIX):].partition(":")
    tfds_split = tfds_split or _DEFAULT_TFDS_SPLITS[split]
    dataset, info = tfds.load(name, split=tfds_split, with_info=True)
    where = f"{source} ({tfds_split})"
    for row, record in enumerate(tfds.as_numpy(dataset), start=1):
        yield where, row, record, info.features


def tfds_value(features, key: str, value):
    """Class ids become class names, bytes become str."""
    feature = features[key] if key in features else None
    names = getattr(feature, "names", None) or getattr(getattr(feature, "feature", None), "names", None)
    if names is not None:
        if np.ndim(value) == 0:
            return names[int(value)]
        return [names[int(v)] for v in value]
    if isinstance(value, np.ndarray) and value.ndim:
        return [as_text(v) for v in value]
    return as_text(value) if isinstance(value, (bytes, np.bytes_)) else value


def as_text(value: Any) -> str:
    """`value` as str: bytes decoded as UTF-8 (invalid bytes replaced), numbers formatted,
    lone UTF-16 surrogates (JSON `"\\ud800"`; a pair is one character once parsed) replaced
    by U+FFFD: such a str has no UTF-8 form, and TensorFlow refuses it."""
    if isinstance(value, (bytes, np.bytes_)):
        return bytes(value).decode("utf-8", errors="replace")
    if isinstance(value, np.generic):
        value = value.item()
    return _LONE_SURROGATE.sub("\ufffd", str(value))


def split_examples(examples: list[Example], fraction: float,
                   seed: int) -> tuple[list[Example], list[Example]]:
    """A fixed, seeded `(1 - fraction, fraction)` split of `examples`."""
    order = np.random.default_rng(seed).permutation(len(examples))
    held_out = max(1, int(round(len(examples) * fraction)))
    if held_out >= len(examples):
        raise LabeledDataError(f"validation_fraction={fraction} leaves no training examples "
                               f"out of {len(examples)}")
    return ([examples[i] for i in sorted(order[held_out:])],
            [examples[i] for i in sorted(order[:held_out])])


def sorted_labels(names: Iterable[str]) -> tuple[str, ...]:
    """Numeric labels in numeric order (-1 before 1, 2 before 10), the rest alphabetically."""
    return tuple(sorted(set(names), key=_label_sort_key))


def _label_sort_key(label: str):
    try:
        return (0, float(label), label)
    except ValueError:
        return (1, 0.0, label)
