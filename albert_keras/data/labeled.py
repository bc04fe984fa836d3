"""Labelled data for fine-tuning: read files or TFDS datasets into examples, check the labels.

Three kinds of examples, plain dicts, each with the `source` and `row` it came from so that
errors can name them:

- text classification: `{"text", "text_pair" (str or None), "label" (str, or tuple of str
  when multi-label)}` from CSV, TSV or JSONL files, or a TFDS dataset;
- token classification: `{"words", "tags"}` (tuples of str) from word/TAG files (one sentence
  per line, `The/DT dog/NN`) or a TFDS dataset with a words and a tags feature;
- span extraction: `{"id", "question", "context", "answers"}` (answers: tuple of
  `{"text", "answer_start"}`) from SQuAD JSON files or the TFDS `squad` dataset.

`albert_keras.data.labeled_batches` turns examples into length-bucketed `tf.data` batches.
"""

from __future__ import annotations

import csv
import json
import os
from typing import Any

import numpy as np

from albert_keras.data.labeled_file_config import LabeledFileConfig

TFDS_PREFIX = "tfds:"
_DEFAULT_TFDS_SPLITS = {"train": "train", "validation": "validation", "test": "test"}


class LabeledDataError(ValueError):
    """Bad labelled data; the message names the file, the row and the column."""


def read_examples(source: str, config: LabeledFileConfig, split: str = "train",
                  skipped: list[str] | None = None) -> list[dict]:
    """Reads one split of labelled data for `config.task`.

    Classification rows whose text is empty (or only spaces) are left out: each is named
    (`source row N`) in `skipped`, so the caller can report them.

    Args:
        source: str. A file path, or `tfds:NAME` / `tfds:NAME:SPLIT`.
        config: `LabeledFileConfig` (or the `FinetuneConfig` that extends it). Task, format
            and column names.
        split: str. `"train"`, `"validation"` or `"test"`: the TFDS split when `source` names
            none.
        skipped: list or None. Receives `"SOURCE row N"` for each row left out.

    Returns:
        A non-empty list of examples (see the module docstring).
    """
    if source.startswith(TFDS_PREFIX):
        examples = _read_tfds(source, config, split)
    else:
        if not os.path.isfile(source):
            raise LabeledDataError(f"Labelled data file not found: {split}={source!r}")
        reader = {"csv": _read_delimited, "tsv": _read_delimited, "jsonl": _read_jsonl,
                  "tagged": _read_tagged, "squad": _read_squad}[file_format(source, config)]
        examples = reader(source, config)
    if config.task == "text_classification":
        empty = [e for e in examples if not e["text"].strip()]
        if empty:
            examples = [e for e in examples if e["text"].strip()]
            if skipped is not None:
                skipped.extend(f"{e['source']} row {e['row']}" for e in empty)
    if not examples:
        raise LabeledDataError(f"{source}: no examples (the {split} data is empty)")
    return examples


def file_format(path: str, config: LabeledFileConfig) -> str:
    """The reader for `path`: `config.format`, or guessed from the extension and the task."""
    if config.format != "auto":
        return config.format
    extension = os.path.splitext(path)[1].lower()
    if config.task == "span_extraction":
        return "squad" if extension == ".json" else "jsonl"
    if config.task == "token_classification":
        return "jsonl" if extension == ".jsonl" else "tagged"
    formats = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".jsonl": "jsonl", ".json": "jsonl"}
    if extension not in formats:
        raise LabeledDataError(f"Cannot tell the format of {path!r} from its extension; set "
                               f"finetune.format to csv, tsv or jsonl. Received: {extension!r}")
    return formats[extension]


def label_vocabulary(examples: list[dict], task: str) -> tuple[str, ...]:
    """The sorted label (or tag) names seen in the training examples."""
    names = set()
    for example in examples:
        if task == "token_classification":
            names.update(example["tags"])
        elif isinstance(example["label"], tuple):
            names.update(example["label"])
        else:
            names.add(example["label"])
    return tuple(sorted(names, key=_label_sort_key))


def check_labels(examples: list[dict], labels: tuple[str, ...], task: str, column: str) -> None:
    """Raises `LabeledDataError` naming the file, row and column of a label not in `labels`."""
    known = set(labels)
    for example in examples:
        if task == "token_classification":
            found = example["tags"]
        elif isinstance(example["label"], tuple):
            found = example["label"]
        else:
            found = (example["label"],)
        for label in found:
            if label not in known:
                raise LabeledDataError(
                    f"{example['source']} row {example['row']}, column {column!r}: unknown label "
                    f"{label!r}; the training data has {', '.join(labels)}")


def split_examples(examples: list[dict], fraction: float, seed: int) -> tuple[list, list]:
    """A fixed, seeded `(1 - fraction, fraction)` split of `examples`."""
    order = np.random.default_rng(seed).permutation(len(examples))
    held_out = max(1, int(round(len(examples) * fraction)))
    if held_out >= len(examples):
        raise LabeledDataError(f"validation_fraction={fraction} leaves no training examples "
                               f"out of {len(examples)}")
    return ([examples[i] for i in sorted(order[held_out:])],
            [examples[i] for i in sorted(order[:held_out])])


# --- Text classification: CSV, TSV, JSONL ---------------------------------------------------

def _read_delimited(path: str, config: LabeledFileConfig) -> list[dict]:
    delimiter = "\t" if file_format(path, config) == "tsv" else ","
    with open(path, encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f, delimiter=delimiter))
    first_row = 1
    if config.header:
        if not rows:
            raise LabeledDataError(f"{path}: no examples (the file is empty)")
        names, rows, first_row = [name.strip() for name in rows[0]], rows[1:], 2
    elif config.column_names:
        names = list(config.column_names)
    else:
        raise LabeledDataError(f"{path}: finetune.header is false, so finetune.column_names "
                               "must name the columns, e.g. [label, text]")
    for column in _wanted_columns(config):
        if column not in names:
            raise LabeledDataError(f"{path}: missing column {column!r}; the file has columns "
                                   f"{', '.join(map(repr, names))}")
    examples = []
    for row_number, row in enumerate(rows, start=first_row):
        if not any(cell.strip() for cell in row):
            continue  # Blank line.
        record = dict(zip(names, row))
        examples.append(_classification_example(record, path, row_number, config))
    return examples


def _read_jsonl(path: str, config: LabeledFileConfig) -> list[dict]:
    examples = []
    with open(path, encoding="utf-8-sig") as f:
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
            if config.task == "token_classification":
                examples.append(_tagging_example(
                    record, path, row_number, config.text_column, config.label_column))
            else:
                for column in _wanted_columns(config):
                    if column not in record:
                        raise LabeledDataError(f"{path} row {row_number}: missing column {column!r}")
                examples.append(_classification_example(record, path, row_number, config))
    return examples


def _wanted_columns(config: LabeledFileConfig) -> list[str]:
    return [c for c in (config.text_column, config.text_pair_column, config.label_column) if c]


def _classification_example(record: dict, source: str, row: int, config: LabeledFileConfig) -> dict:
    def cell(column: str) -> Any:
        if column not in record or record[column] is None:
            raise LabeledDataError(f"{source} row {row}: column {column!r} is missing")
        return record[column]

    text = _as_text(cell(config.text_column))
    text_pair = None
    if config.text_pair_column:
        text_pair = _as_text(record.get(config.text_pair_column) or "")
        if not text_pair.strip():
            raise LabeledDataError(
                f"{source} row {row}: column {config.text_pair_column!r} is empty; with "
                "finetune.text_pair_column set, every row needs a text pair")
    label = cell(config.label_column)
    if config.multi_label:
        if isinstance(label, (list, tuple)):
            label = tuple(_as_text(v).strip() for v in label)
        else:
            label = tuple(v.strip() for v in _as_text(label).split(config.label_separator) if v.strip())
    else:
        if isinstance(label, (list, tuple, dict)):
            raise LabeledDataError(f"{source} row {row}, column {config.label_column!r}: expected "
                                   f"one label (set finetune.multi_label for lists). Received: {label!r}")
        label = _as_text(label).strip()
        if not label:
            raise LabeledDataError(f"{source} row {row}, column {config.label_column!r}: empty label")
    return {"text": text, "text_pair": text_pair, "label": label, "source": source, "row": row}


# --- Token classification: word/TAG files ---------------------------------------------------

def _read_tagged(path: str, config: LabeledFileConfig) -> list[dict]:
    examples = []
    with open(path, encoding="utf-8-sig") as f:
        for row_number, line in enumerate(f, start=1):
            pairs = line.split()
            if not pairs:
                continue
            words, tags = [], []
            for pair in pairs:
                word, slash, tag = pair.rpartition("/")
                if not slash or not word or not tag:
                    raise LabeledDataError(f"{path} row {row_number}: expected word/TAG tokens. "
                                           f"Received: {pair!r}")
                words.append(word)
                tags.append(tag)
            examples.append({"words": tuple(words), "tags": tuple(tags), "source": path,
                             "row": row_number})
    return examples


def _tagging_example(record: dict, source: str, row: int, words_column: str,
                     tags_column: str) -> dict:
    for column in (words_column, tags_column):
        if column not in record:
            raise LabeledDataError(f"{source} row {row}: missing column {column!r}")
    words = tuple(_as_text(w) for w in record[words_column])
    tags = tuple(_as_text(t) for t in record[tags_column])
    if len(words) != len(tags):
        raise LabeledDataError(f"{source} row {row}: {len(words)} words in {words_column!r} but "
                               f"{len(tags)} tags in {tags_column!r}")
    return {"words": words, "tags": tags, "source": source, "row": row}


# --- Span extraction: SQuAD JSON ------------------------------------------------------------

def _read_squad(path: str, config: LabeledFileConfig) -> list[dict]:
    with open(path, encoding="utf-8-sig") as f:
        text = f.read()
    if not text.strip():
        raise LabeledDataError(f"{path}: no examples (the file is empty)")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise LabeledDataError(f"{path}: not valid JSON ({error})") from None
    if not isinstance(data, dict) or "data" not in data:
        raise LabeledDataError(f"{path}: expected SQuAD JSON with a top-level 'data' list")
    examples, row = [], 0
    for article in data["data"]:
        for paragraph in article.get("paragraphs", []):
            context = paragraph.get("context")
            for qa in paragraph.get("qas", []):
                row += 1
                where = f"{path} question {row} (id {qa.get('id')!r})"
                if context is None or "question" not in qa:
                    raise LabeledDataError(f"{where}: missing 'context' or 'question'")
                examples.append(_span_example(
                    qa.get("id", str(row)), qa["question"], context,
                    [(a.get("text"), a.get("answer_start")) for a in qa.get("answers", [])],
                    path, row, where))
    return examples


def _span_example(example_id, question, context, answers, source, row, where) -> dict:
    checked = []
    for answer_text, start in answers:
        if not isinstance(answer_text, str) or not isinstance(start, int) or start < 0:
            raise LabeledDataError(f"{where}: each answer needs 'text' and an integer "
                                   f"'answer_start'. Received: {answer_text!r}, {start!r}")
        if context[start:start + len(answer_text)] != answer_text:
            raise LabeledDataError(f"{where}: answer {answer_text!r} is not at answer_start={start} "
                                   "of the context")
        checked.append({"text": answer_text, "answer_start": start})
    return {"id": str(example_id), "question": question, "context": context,
            "answers": tuple(checked), "source": source, "row": row}


# --- TFDS -----------------------------------------------------------------------------------

def _read_tfds(source: str, config: LabeledFileConfig, split: str) -> list[dict]:
    import tensorflow_datasets as tfds  # Deferred: only TFDS sources need it.

    name, _, tfds_split = source[len(TFDS_PREFIX):].partition(":")
    tfds_split = tfds_split or _DEFAULT_TFDS_SPLITS[split]
    dataset, info = tfds.load(name, split=tfds_split, with_info=True)
    features = info.features
    where = f"{source} ({tfds_split})"
    examples = []
    for row, record in enumerate(tfds.as_numpy(dataset), start=1):
        if config.task == "span_extraction":
            answers = record.get("answers", {})
            examples.append(_span_example(
                _as_text(record.get("id", row)), _as_text(record["question"]),
                _as_text(record["context"]),
                [(_as_text(t), int(s)) for t, s in zip(answers.get("text", []),
                                                      answers.get("answer_start", []))],
                where, row, f"{where} row {row}"))
            continue
        record = {key: _tfds_value(features, key, value) for key, value in record.items()}
        if config.task == "token_classification":
            examples.append(_tagging_example(record, where, row, config.text_column,
                                             config.label_column))
        else:
            for column in _wanted_columns(config):
                if column not in record:
                    raise LabeledDataError(f"{where}: missing column {column!r}; the dataset has "
                                           f"features {', '.join(map(repr, record))}")
            examples.append(_classification_example(record, where, row, config))
    return examples


def _tfds_value(features, key: str, value):
    """Class ids become class names, bytes become str."""
    feature = features[key] if key in features else None
    names = getattr(feature, "names", None) or getattr(getattr(feature, "feature", None), "names", None)
    if names is not None:
        if np.ndim(value) == 0:
            return names[int(value)]
        return [names[int(v)] for v in value]
    if isinstance(value, np.ndarray) and value.ndim:
        return [_as_text(v) for v in value]
    return _as_text(value) if isinstance(value, (bytes, np.bytes_)) else value


def _as_text(value: Any) -> str:
    if isinstance(value, (bytes, np.bytes_)):
        return bytes(value).decode("utf-8", errors="replace")
    if isinstance(value, np.generic):
        value = value.item()
    return str(value)


def _label_sort_key(label: str):
    """Numeric labels in numeric order (-1 before 1, 2 before 10), the rest alphabetically."""
    try:
        return (0, float(label), label)
    except ValueError:
        return (1, 0.0, label)

