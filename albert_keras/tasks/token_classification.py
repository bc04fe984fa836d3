"""Token classification: a tag per word (part of speech, named entities).

Files: word/TAG files (one sentence per line, `The/DT dog/NN`), JSON lines with a words and a
tags column, or a TFDS dataset with a words and a tags feature; examples `TaggingExample(words,
tags)` (tuples of str, one tag per word). Preprocessor: `word_packing.pack_words` (each word
tokenized on its own, whole words kept), in training and in the serving signature. Targets: the
tag on each word's first sub-token, int32 `(seq,)`, with `sample_weight` float32 `(seq,)` 1
there and 0 elsewhere ([CLS], [SEP], later sub-tokens, padding).

Served on raw text, `text` is split into words (whitespace; each punctuation or symbol
character, the clitics `'s n't 're 've 'll 'm 'd` and numbers such as `2,000` are words of their
own, as in Penn-Treebank-style files; `text_pair` is ignored) and each kept word gets the tag of
its first sub-token: `words` and `word_tags` string `[batch, max_words]`, `""` past the last
word (words that do not fit in the sequence are left out).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import keras
import numpy as np
import tensorflow as tf
import tensorflow_text as tf_text

from albert_keras.models.token_classifier import TokenClassifier
from albert_keras.tasks import finetune_metrics
from albert_keras.tasks.fine_tuning_task import FineTuningTask
from albert_keras.tasks.inputs.encoded_split import CHUNK, EncodedWords
from albert_keras.tasks.inputs.labeled import (LabeledDataError, as_text, extension, json_lines,
                                               tfds_value)
from albert_keras.tasks.inputs.labeled_examples import TaggingExample
from albert_keras.tasks.inputs.labeled_file_config import LabeledFileConfig
from albert_keras.tasks.inputs.padding import trim_padding
from albert_keras.tasks.inputs.text_preprocessor import WHITESPACE, clean_text
from albert_keras.tasks.inputs.word_packing import pack_words
from albert_keras.tokenizers.sequence_layout import SINGLE_SPECIAL_TOKENS
from albert_keras.tokenizers.special_tokens import special_token_ids
from albert_keras.training.masked_lm_loss import MaskedLMLoss
from albert_keras.utils import file_io

if TYPE_CHECKING:  # Types only: the jobs rank above the tasks.
    from albert_keras.jobs.finetune_config import FinetuneConfig

# Words of their own in tagged text (Penn Treebank style): numbers with inner punctuation,
# clitics, then any single punctuation or symbol character. The first that matches wins.
WORD_PIECES = (r"\d+(?:[.,:/]\d+)+|(?i:n't|'s|'re|'ve|'ll|'m|'d)\b|[\p{P}\p{S}]")


class TokenClassification(FineTuningTask[TaggingExample]):
    """A tag per word; see the module docstring."""

    name = "token_classification"
    model_class = TokenClassifier
    score = "token_accuracy"

    def corpus_texts(self, example: TaggingExample) -> list[str]:
        return [" ".join(example.words)]  # One tagged sentence.

    def file_format(self, path: str, config: LabeledFileConfig) -> str:
        if config.format != "auto":
            return config.format
        return "jsonl" if extension(path) == ".jsonl" else "tagged"

    def read_file(self, path: str, file_format: str,
                  config: LabeledFileConfig) -> list[TaggingExample]:
        if file_format == "tagged":
            return _read_tagged(path)
        if file_format != "jsonl":
            raise LabeledDataError(f"{path}: token_classification reads tagged or jsonl files. "
                                   f"Received: finetune.format={file_format!r}")
        return [_example(record, path, row, config) for row, record in json_lines(path)]

    def read_tfds_record(self, record: dict, features, where: str, row: int,
                         config: LabeledFileConfig) -> TaggingExample:
        record = {key: tfds_value(features, key, value) for key, value in record.items()}
        return _example(record, where, row, config)

    def example_labels(self, example: TaggingExample) -> tuple[str, ...]:
        return example.tags

    def encode(self, examples: list[TaggingExample], tokenizer, labels: tuple[str, ...] | None,
               ft: FinetuneConfig, training: bool = True) -> EncodedWords:
        index = {label: i for i, label in enumerate(labels)}
        special = special_token_ids(tokenizer)
        length = ft.max_sequence_length
        pack = tf.function(lambda words: pack_words(  # Words cleaned as served (`tag_words`).
            tokenizer, words.with_flat_values(clean_text(words.flat_values, length)), length,
            special), autograph=False)  # Plain tensor ops: nothing to convert.
        out = EncodedWords(token_ids=[], segment_ids=[], y=[], sample_weight=[],
                           examples=examples)
        for start in range(0, len(examples), CHUNK):
            chunk = examples[start:start + CHUNK]
            packed = pack(tf.ragged.constant([list(e.words) for e in chunk], tf.string,
                                             row_splits_dtype=tf.int64))
            lengths = packed["padding_mask"].numpy().sum(axis=1)
            token_ids = packed["token_ids"].numpy()
            for i, (example, starts) in enumerate(zip(chunk, packed["word_starts"].numpy())):
                tags = np.zeros(lengths[i], np.int32)
                weights = np.zeros(lengths[i], np.float32)
                tags[starts] = [index[tag] for tag in example.tags[:len(starts)]]
                weights[starts] = 1.0
                out.truncated += int(len(starts) < len(example.words))
                out.token_ids.append(token_ids[i, :lengths[i]])
                out.segment_ids.append(np.zeros(lengths[i], np.int32))
                out.y.append(tags)
                out.sample_weight.append(weights)
                out.word_positions.append(starts.astype(np.int32))
        return out

    def build_model(self, ft: FinetuneConfig, encoder: keras.Model,
                    labels: tuple[str, ...] | None) -> keras.Model:
        return TokenClassifier(encoder, labels=labels, dropout=ft.dropout)

    def compile_arguments(self, ft: FinetuneConfig) -> dict[str, Any]:
        # The mean over real words of the whole batch (all replicas, all micro-batches).
        return {"loss": MaskedLMLoss(name="token_loss"),
                "weighted_metrics": [keras.metrics.SparseCategoricalAccuracy("accuracy")]}

    def metrics(self, outputs: list, encoded: EncodedWords, labels: tuple[str, ...] | None,
                ft: FinetuneConfig) -> dict[str, Any]:
        predicted = [row.argmax(-1) for batch in outputs for row in batch]
        tags = []
        for example, positions, row in zip(encoded.examples, encoded.word_positions, predicted):
            words = [labels[i] for i in row[positions]]
            tags.append(words + [None] * (len(example.tags) - len(words)))
        return finetune_metrics.tagging_metrics([e.tags for e in encoded.examples], tags,
                                                labels)

    def serve_text(self, run, model, preprocessor, text, text_pair, settings) -> dict:
        return tag_words(run, preprocessor, text, settings.labels)


def tag_words(run, preprocessor, text, label_names) -> dict:
    """The outputs of `run` on `text` split into words, plus `words` and `word_tags`."""
    words = tf_text.regex_split(clean_text(text, preprocessor.sequence_length),
                                WHITESPACE + "|" + WORD_PIECES,
                                WORD_PIECES)  # (batch, (words))
    length = preprocessor.sequence_length
    words = words[:, :length - SINGLE_SPECIAL_TOKENS]  # Every word takes a position at least.
    packed = pack_words(preprocessor.tokenizer, words, length, preprocessor.special_token_ids)
    starts = packed.pop("word_starts")  # (batch, (kept words)) first sub-tokens
    named = run(trim_padding(packed))
    tags = tf.gather_nd(tf.argmax(named["logits"], axis=-1, output_type=tf.int32),
                        tf.stack([tf.cast(starts.value_rowids(), tf.int32), starts.flat_values], 1))
    num_classes = named["logits"].shape[-1]
    names = tf.constant(label_names or [str(i) for i in range(num_classes)])
    # Kept words are a prefix of each row's words.
    within = tf.range(tf.size(words.flat_values, tf.int64)) - tf.gather(
        words.row_starts(), words.value_rowids())
    kept = within < tf.gather(starts.row_lengths(), words.value_rowids())
    rows = tf.boolean_mask(words.value_rowids(), kept)
    named["words"] = tf.RaggedTensor.from_value_rowids(
        tf.boolean_mask(words.flat_values, kept), rows, nrows=words.nrows()).to_tensor("")
    named["word_tags"] = starts.with_flat_values(tf.gather(names, tags)).to_tensor("")
    return named


def _read_tagged(path: str) -> list[TaggingExample]:
    examples = []
    with file_io.open_text(path, "utf-8-sig") as f:
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
            examples.append(TaggingExample(words=tuple(words), tags=tuple(tags), source=path,
                                           row=row_number))
    return examples


def _example(record: dict, source: str, row: int, config: LabeledFileConfig) -> TaggingExample:
    words_column, tags_column = config.text_column, config.label_column
    for column in (words_column, tags_column):
        if column not in record:
            raise LabeledDataError(f"{source} row {row}: missing column {column!r}")
    words = tuple(as_text(w) for w in record[words_column])
    tags = tuple(as_text(t) for t in record[tags_column])
    if len(words) != len(tags):
        raise LabeledDataError(f"{source} row {row}: {len(words)} words in {words_column!r} but "
                               f"{len(tags)} tags in {tags_column!r}")
    return TaggingExample(words=words, tags=tags, source=source, row=row)
