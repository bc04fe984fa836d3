"""Text classification: one text or a pair -> one label (binary, multi-class) or several.

Files: CSV, TSV or JSON lines, or a TFDS dataset; examples `ClassificationExample(text,
label (str, or tuple of str when multi-label), text_pair (str or None))`. Rows with empty text
are left out.
Preprocessor: `TextPreprocessor` (`[CLS] a [SEP] (b [SEP])`), in training and in the serving
signature. Targets: the class id, int32 `()`, or a float32 multi-hot `(num_classes,)` row.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any

import keras
import numpy as np
import tensorflow as tf

from albert_keras.models.text_classifier import TextClassifier
from albert_keras.tasks import finetune_metrics
from albert_keras.tasks.fine_tuning_task import FineTuningTask
from albert_keras.tasks.inputs.encoded_split import CHUNK, EncodedSplit
from albert_keras.tasks.inputs.labeled import (LabeledDataError, as_text, delimited_rows, extension,
                                               json_lines, tfds_value)
from albert_keras.tasks.inputs.labeled_examples import ClassificationExample
from albert_keras.tasks.inputs.labeled_file_config import LabeledFileConfig
from albert_keras.tasks.inputs.text_preprocessor import TextPreprocessor

if TYPE_CHECKING:  # Types only: the jobs rank above the tasks.
    from albert_keras.jobs.finetune_config import FinetuneConfig

_FORMATS = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".jsonl": "jsonl", ".json": "jsonl"}
_PREPROCESSORS = weakref.WeakKeyDictionary()  # tokenizer -> {sequence_length: TextPreprocessor}


class TextClassification(FineTuningTask[ClassificationExample]):
    """Text (or text-pair) classification; see the module docstring."""

    name = "text_classification"
    model_class = TextClassifier

    def score_name(self, ft: FinetuneConfig) -> str:
        return "micro_f1" if ft.multi_label else "accuracy"

    def corpus_texts(self, example: ClassificationExample) -> list[str]:
        pair = example.text_pair
        return [example.text] + ([pair] if pair is not None else [])

    def check_config(self, ft: FinetuneConfig) -> None:
        pass  # Every setting applies.

    def file_format(self, path: str, config: LabeledFileConfig) -> str:
        if config.format != "auto":
            return config.format
        if extension(path) not in _FORMATS:
            raise LabeledDataError(f"Cannot tell the format of {path!r} from its extension; set "
                                   "finetune.format to csv, tsv or jsonl. Received: "
                                   f"{extension(path)!r}")
        return _FORMATS[extension(path)]

    def read_file(self, path: str, file_format: str,
                  config: LabeledFileConfig) -> list[ClassificationExample]:
        if file_format in ("csv", "tsv"):
            return _read_delimited(path, "\t" if file_format == "tsv" else ",", config)
        if file_format != "jsonl":
            raise LabeledDataError(f"{path}: text_classification reads csv, tsv or jsonl files. "
                                   f"Received: finetune.format={file_format!r}")
        examples = []
        for row, record in json_lines(path):
            for column in _wanted_columns(config):
                if column not in record:
                    raise LabeledDataError(f"{path} row {row}: missing column {column!r}")
            examples.append(_example(record, path, row, config))
        return examples

    def read_tfds_record(self, record: dict, features, where: str, row: int,
                         config: LabeledFileConfig) -> ClassificationExample:
        record = {key: tfds_value(features, key, value) for key, value in record.items()}
        for column in _wanted_columns(config):
            if column not in record:
                raise LabeledDataError(f"{where}: missing column {column!r}; the dataset has "
                                       f"features {', '.join(map(repr, record))}")
        return _example(record, where, row, config)

    def leave_out(self, examples: list[ClassificationExample],
                  skipped: list[str] | None) -> list[ClassificationExample]:
        empty = [e for e in examples if not e.text.strip()]
        if empty and skipped is not None:
            skipped.extend(f"{e.source} row {e.row}" for e in empty)
        return [e for e in examples if e.text.strip()] if empty else examples

    def example_labels(self, example: ClassificationExample) -> tuple[str, ...]:
        label = example.label
        return label if isinstance(label, tuple) else (label,)

    def encode(self, examples: list[ClassificationExample], tokenizer,
               labels: tuple[str, ...] | None, ft: FinetuneConfig,
               training: bool = True) -> EncodedSplit:
        preprocessors = _PREPROCESSORS.setdefault(tokenizer, {})
        if ft.max_sequence_length not in preprocessors:  # One per tokenizer: traced once.
            preprocessors[ft.max_sequence_length] = TextPreprocessor(tokenizer,
                                                                     ft.max_sequence_length)
        preprocessor = preprocessors[ft.max_sequence_length]
        has_pair = any(example.text_pair is not None for example in examples)
        token_rows, segment_rows, truncated = [], [], 0
        for start in range(0, len(examples), CHUNK):
            chunk = examples[start:start + CHUNK]
            text = tf.constant([e.text for e in chunk], tf.string)
            pair = tf.constant([e.text_pair or "" for e in chunk], tf.string) if has_pair else None
            x = preprocessor(text, pair)
            lengths = x["padding_mask"].numpy().sum(axis=1)
            token_ids, segment_ids = x["token_ids"].numpy(), x["segment_ids"].numpy()
            truncated += int(np.sum(lengths == preprocessor.sequence_length))
            for i, length in enumerate(lengths):
                token_rows.append(token_ids[i, :length])
                segment_rows.append(segment_ids[i, :length])
        index = {label: i for i, label in enumerate(labels)}
        if ft.multi_label:
            y = np.zeros((len(examples), len(labels)), np.float32)
            for row, example in enumerate(examples):
                y[row, [index[label] for label in example.label]] = 1.0
        else:
            y = np.array([index[e.label] for e in examples], np.int32)
        return EncodedSplit(token_ids=token_rows, segment_ids=segment_rows, y=y,
                            examples=examples, truncated=truncated)

    def build_model(self, ft: FinetuneConfig, encoder: keras.Model,
                    labels: tuple[str, ...] | None) -> keras.Model:
        return TextClassifier(encoder, labels=labels, multi_label=ft.multi_label,
                              dropout=ft.dropout, pooling=ft.pooling)

    def compile_arguments(self, ft: FinetuneConfig) -> dict[str, Any]:
        if ft.multi_label:
            return {"loss": keras.losses.BinaryCrossentropy(from_logits=True),
                    "metrics": [keras.metrics.BinaryAccuracy("accuracy", threshold=0.0)]}
        return {"loss": keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                "metrics": [keras.metrics.SparseCategoricalAccuracy("accuracy")]}

    def metrics(self, outputs: list, encoded: EncodedSplit, labels: tuple[str, ...] | None,
                ft: FinetuneConfig) -> dict[str, Any]:
        logits = np.concatenate(outputs)  # (examples, classes)
        if ft.multi_label:
            return finetune_metrics.multi_label_metrics(encoded.y, logits > 0, labels)
        return finetune_metrics.classification_metrics(encoded.y, logits.argmax(-1), labels)


def _read_delimited(path: str, delimiter: str,
                    config: LabeledFileConfig) -> list[ClassificationExample]:
    rows = delimited_rows(path, delimiter)
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
    return [_example(dict(zip(names, row)), path, row_number, config)
            for row_number, row in enumerate(rows, start=first_row)
            if any(cell.strip() for cell in row)]  # Blank lines skipped.


def _wanted_columns(config: LabeledFileConfig) -> list[str]:
    return [c for c in (config.text_column, config.text_pair_column, config.label_column) if c]


def _example(record: dict, source: str, row: int,
             config: LabeledFileConfig) -> ClassificationExample:
    def cell(column: str) -> Any:
        if column not in record or record[column] is None:
            raise LabeledDataError(f"{source} row {row}: column {column!r} is missing")
        return record[column]

    text = as_text(cell(config.text_column))
    text_pair = None
    if config.text_pair_column:
        text_pair = as_text(record.get(config.text_pair_column) or "")
        if not text_pair.strip():
            raise LabeledDataError(
                f"{source} row {row}: column {config.text_pair_column!r} is empty; with "
                "finetune.text_pair_column set, every row needs a text pair")
    return ClassificationExample(text=text, text_pair=text_pair,
                                 label=_label(cell(config.label_column), source, row, config),
                                 source=source, row=row)


def _label(label: Any, source: str, row: int,
           config: LabeledFileConfig) -> str | tuple[str, ...]:
    if config.multi_label:
        if isinstance(label, (list, tuple)):
            return tuple(as_text(v).strip() for v in label)
        return tuple(v.strip() for v in as_text(label).split(config.label_separator) if v.strip())
    if isinstance(label, (list, tuple, dict)):
        raise LabeledDataError(f"{source} row {row}, column {config.label_column!r}: expected "
                               f"one label (set finetune.multi_label for lists). Received: {label!r}")
    label = as_text(label).strip()
    if not label:
        raise LabeledDataError(f"{source} row {row}, column {config.label_column!r}: empty label")
    return label
