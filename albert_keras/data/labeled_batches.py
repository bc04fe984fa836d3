"""Labelled examples -> token ids -> length-bucketed `tf.data` batches for `model.fit`.

Three visible steps: `encode_examples` turns the examples of `albert_keras.data.labeled` into
variable-length int32 rows (no padding), `make_dataset` shapes them into
`(x, y[, sample_weight])` and batches them, padding each batch only to its longest row
(`tf.data.Dataset.bucket_by_sequence_length` groups rows of similar length when training).

- Text classification: `TextPreprocessor` packs `[CLS] a [SEP] (b [SEP])`; `y` is the class
  id, int32 `()`, or a float32 multi-hot `(num_classes,)` row.
- Token classification: `pack_words` (tensor ops, also usable in a serving graph) tokenizes
  each word on its own and keeps whole words; the tag sits on the word's first sub-token;
  `y` is int32 `(seq,)` and `sample_weight` float32 `(seq,)` is 1 on first sub-tokens and 0
  elsewhere ([CLS], [SEP], later sub-tokens, padding).
- Span extraction: `[CLS] question [SEP] context [SEP]` by `span_packing.pack_question_context`
  (the serving signature's own function), the context split on whitespace into words (as in
  BERT's SQuAD code); `y` is `{"start_logits", "end_logits"}` token positions. Training
  examples whose answer was cut off by truncation are dropped.
"""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np
import tensorflow as tf

from albert_keras.data.sequence_layout import MAX_QUERY_LENGTH, SINGLE_SPECIAL_TOKENS
from albert_keras.data.span_packing import CHUNK, encode_span_examples
from albert_keras.data.text_preprocessor import TextPreprocessor
from albert_keras.data.tokenizers import special_token_ids

_PREPROCESSORS = weakref.WeakKeyDictionary()  # tokenizer -> {sequence_length: TextPreprocessor}
_BUCKET_BOUNDARIES = (16, 24, 32, 48, 64, 96, 128, 192, 256, 384)


def encode_examples(examples: list[dict], task: str, tokenizer, labels: tuple[str, ...] | None,
                    max_sequence_length: int, multi_label: bool = False,
                    max_query_length: int = MAX_QUERY_LENGTH, training: bool = True,
                    doc_stride: int | None = None) -> dict[str, Any]:
    """Token ids and targets for `examples`, one variable-length row each (span extraction:
    one per context window, see `span_packing.pack_question_context`).

    Returns a dict with `token_ids` and `segment_ids` (lists of int32 arrays), `y` (and
    `sample_weight` for tagging), `examples` (those kept, in order), `dropped` (span training
    examples without a window that holds the answer), `truncated` (rows cut to fit; spans:
    contexts read in several windows), and for tagging `word_positions` / for spans
    `window_example` (row -> index in `examples`), `token_to_word`, `word_offsets`, which map
    predictions back to words and characters, and `answers_lost` (examples whose answer is in
    no window).
    """
    if task == "text_classification":
        preprocessors = _PREPROCESSORS.setdefault(tokenizer, {})
        if max_sequence_length not in preprocessors:  # One per tokenizer: traced once.
            preprocessors[max_sequence_length] = TextPreprocessor(tokenizer, max_sequence_length)
        return _encode_classification(examples, preprocessors[max_sequence_length], labels,
                                      multi_label)
    special = special_token_ids(tokenizer)
    if task == "token_classification":
        return _encode_tagging(examples, tokenizer, special, labels, max_sequence_length)
    return encode_span_examples(examples, tokenizer, special, max_sequence_length,
                                max_query_length, training, doc_stride)


def make_dataset(encoded: dict[str, Any], batch_size: int, training: bool,
                 bucket_by_length: bool = True, max_sequence_length: int | None = None,
                 seed: int = 0) -> tf.data.Dataset:
    """Batches of `(x, y)` or `(x, y, sample_weight)`, `x` = int32 `token_ids`, `segment_ids`,
    `padding_mask` `(batch, seq)`.

    Training data is shuffled (reshuffled each epoch, seeded). With `bucket_by_length`, each
    batch is padded to its longest row, and training batches group rows of similar length;
    without it every batch is padded to `max_sequence_length`.
    """
    lengths = np.array([len(row) for row in encoded["token_ids"]], dtype=np.int64)
    columns = {"token_ids": _ragged(encoded["token_ids"], lengths),
               "segment_ids": _ragged(encoded["segment_ids"], lengths)}
    if encoded.get("sample_weight") is not None:
        columns["y"] = _ragged(encoded["y"], lengths)
        columns["sample_weight"] = _ragged(encoded["sample_weight"], lengths, np.float32)
    elif isinstance(encoded["y"], dict):
        columns["y"] = {k: np.asarray(v, np.int32) for k, v in encoded["y"].items()}
    else:
        columns["y"] = np.asarray(encoded["y"])
    dataset = tf.data.Dataset.from_tensor_slices(columns)
    if training:
        dataset = dataset.shuffle(len(lengths), seed=seed, reshuffle_each_iteration=True)

    def shape(row):  # Decode -> (x, y, sample_weight), one row.
        x = {"token_ids": row["token_ids"], "segment_ids": row["segment_ids"],
             "padding_mask": tf.ones_like(row["token_ids"])}
        if "sample_weight" in row:
            return x, row["y"], row["sample_weight"]
        return x, row["y"]

    dataset = dataset.map(shape, num_parallel_calls=tf.data.AUTOTUNE)
    if not bucket_by_length:
        if max_sequence_length is None:
            raise ValueError("`max_sequence_length` is needed when bucket_by_length=False")
        padded = tf.TensorShape([max_sequence_length])
        shapes = tf.nest.map_structure(
            lambda spec: padded if _is_sequence(spec) else spec.shape,
            dataset.element_spec)
        dataset = dataset.padded_batch(batch_size, padded_shapes=shapes)
    elif training:
        boundaries = _boundaries(lengths)
        dataset = dataset.bucket_by_sequence_length(
            lambda x, *_: tf.shape(x["token_ids"])[0], bucket_boundaries=boundaries,
            bucket_batch_sizes=[batch_size] * (len(boundaries) + 1))
    else:
        dataset = dataset.padded_batch(batch_size)
    dataset = dataset.apply(tf.data.experimental.assert_cardinality(
        num_batches(lengths, batch_size, training and bucket_by_length)))
    return dataset.prefetch(tf.data.AUTOTUNE)


def num_batches(lengths: np.ndarray, batch_size: int, bucketed: bool) -> int:
    """How many batches `make_dataset` yields: one partial batch per length bucket at most."""
    if not bucketed:
        return -(-len(lengths) // batch_size)
    buckets = np.searchsorted(_boundaries(lengths), lengths, side="right")
    return int(sum(-(-count // batch_size) for count in np.bincount(buckets) if count))


def _boundaries(lengths: np.ndarray) -> list[int]:
    return [b for b in _BUCKET_BOUNDARIES if b < int(np.max(lengths))]


def _is_sequence(spec) -> bool:
    return spec.shape.rank == 1 and spec.shape[0] is None


def _ragged(rows: list[np.ndarray], lengths: np.ndarray, dtype=np.int32) -> tf.RaggedTensor:
    flat = np.concatenate(rows).astype(dtype) if len(rows) else np.zeros([0], dtype)
    return tf.RaggedTensor.from_row_lengths(flat, lengths)


# --- Per task -------------------------------------------------------------------------------

def _encode_classification(examples, preprocessor, labels, multi_label):
    has_pair = any(example["text_pair"] is not None for example in examples)
    token_rows, segment_rows = [], []
    truncated = 0
    for start in range(0, len(examples), CHUNK):
        chunk = examples[start:start + CHUNK]
        text = tf.constant([e["text"] for e in chunk], tf.string)
        pair = tf.constant([e["text_pair"] or "" for e in chunk], tf.string) if has_pair else None
        x = preprocessor(text, pair)
        lengths = x["padding_mask"].numpy().sum(axis=1)
        token_ids, segment_ids = x["token_ids"].numpy(), x["segment_ids"].numpy()
        truncated += int(np.sum(lengths == preprocessor.sequence_length))
        for i, length in enumerate(lengths):
            token_rows.append(token_ids[i, :length])
            segment_rows.append(segment_ids[i, :length])
    index = {label: i for i, label in enumerate(labels)}
    if multi_label:
        y = np.zeros((len(examples), len(labels)), np.float32)
        for row, example in enumerate(examples):
            y[row, [index[label] for label in example["label"]]] = 1.0
    else:
        y = np.array([index[e["label"]] for e in examples], np.int32)
    return {"token_ids": token_rows, "segment_ids": segment_rows, "y": y, "examples": examples,
            "dropped": 0, "truncated": truncated}


def pack_words(tokenizer, words: tf.RaggedTensor, sequence_length: int,
               special: dict[str, int]) -> dict[str, tf.Tensor]:
    """Packs sentences given as words into encoder inputs, remembering where each word starts.

    Each word is tokenized on its own (a word with no token becomes `[UNK]`) and the whole
    words that fit go between `[CLS]` and `[SEP]`: a word is never split by truncation. Pure
    tensor ops (tensorflow-text inside the tokenizer), so the same function builds training
    rows and runs in a serving graph that answers with a tag per word.

    Args:
        tokenizer: keras-hub tokenizer.
        words: string `(batch, (words))` ragged.
        sequence_length: int. Output length, special tokens included.
        special: dict with the `"cls"`, `"sep"`, `"pad"` and `"unk"` ids.

    Returns:
        `token_ids`, `segment_ids`, `padding_mask` int32 `(batch, sequence_length)` and
        `word_starts` int32 `(batch, (kept words))` ragged: the position of each kept word's
        first sub-token. Words past the end are simply not in `word_starts`.
    """
    pieces = tokenizer(words.flat_values)  # (num_words, (pieces))
    if isinstance(pieces, tf.Tensor):
        pieces = tf.RaggedTensor.from_tensor(pieces, padding=special["pad"])
    pieces = tf.cast(pieces, tf.int32)
    empty = tf.cast(tf.equal(pieces.row_lengths(), 0), tf.int64)
    unknown = tf.RaggedTensor.from_row_lengths(
        tf.fill([tf.reduce_sum(empty)], tf.constant(special["unk"], tf.int32)), empty)
    pieces = tf.concat([pieces, unknown], axis=1)  # Every word has at least one piece.
    word_lengths = pieces.row_lengths()  # (num_words,)
    sentence = words.value_rowids()  # (num_words,)
    ends = tf.math.cumsum(word_lengths)  # Inclusive, over all sentences.
    sentence_start = tf.gather(tf.concat([ends - word_lengths, [0]], 0), words.row_starts())
    ends -= tf.gather(sentence_start, sentence)  # Inclusive, within each sentence.
    keep = ends <= sequence_length - SINGLE_SPECIAL_TOKENS
    kept_rows = tf.boolean_mask(sentence, keep)
    batch = words.nrows()
    tokens = tf.RaggedTensor.from_value_rowids(
        tf.ragged.boolean_mask(pieces, keep), kept_rows, nrows=batch).merge_dims(1, 2)
    word_starts = tf.RaggedTensor.from_value_rowids(
        tf.cast(tf.boolean_mask(ends - word_lengths, keep), tf.int32) + 1, kept_rows, nrows=batch)
    cls = tf.fill([batch, 1], tf.constant(special["cls"], tf.int32))
    sep = tf.fill([batch, 1], tf.constant(special["sep"], tf.int32))
    token_ids = tf.concat([cls, tokens, sep], axis=1)  # (batch, (length))
    padding_mask = tf.ones_like(token_ids)
    shape = [batch, sequence_length]
    return {"token_ids": token_ids.to_tensor(special["pad"], shape=shape),
            "segment_ids": tf.zeros(shape, tf.int32),
            "padding_mask": padding_mask.to_tensor(0, shape=shape),
            "word_starts": word_starts}


def _encode_tagging(examples, tokenizer, special, labels, max_sequence_length):
    index = {label: i for i, label in enumerate(labels)}
    pack = tf.function(lambda words: pack_words(tokenizer, words, max_sequence_length, special),
                       autograph=False)  # Plain tensor ops: nothing to convert.
    token_rows, tag_rows, weight_rows, positions = [], [], [], []
    truncated = 0
    for start in range(0, len(examples), CHUNK):
        chunk = examples[start:start + CHUNK]
        packed = pack(tf.ragged.constant([list(e["words"]) for e in chunk], tf.string,
                                         row_splits_dtype=tf.int64))
        lengths = packed["padding_mask"].numpy().sum(axis=1)
        token_ids = packed["token_ids"].numpy()
        for i, (example, starts) in enumerate(zip(chunk, packed["word_starts"].numpy())):
            tags = np.zeros(lengths[i], np.int32)
            weights = np.zeros(lengths[i], np.float32)
            tags[starts] = [index[tag] for tag in example["tags"][:len(starts)]]
            weights[starts] = 1.0
            truncated += int(len(starts) < len(example["words"]))
            token_rows.append(token_ids[i, :lengths[i]])
            tag_rows.append(tags)
            weight_rows.append(weights)
            positions.append(starts.astype(np.int32))
    return {"token_ids": token_rows, "segment_ids": [np.zeros_like(r) for r in token_rows],
            "y": tag_rows, "sample_weight": weight_rows, "examples": examples,
            "word_positions": positions, "dropped": 0, "truncated": truncated}
