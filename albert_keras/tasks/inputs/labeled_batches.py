"""`make_dataset`: encoded rows -> length-bucketed `tf.data` batches for `model.fit`.

A task's `encode` (`albert_keras.tasks`) turns examples into an `EncodedSplit` of
variable-length int32 rows (no padding), with the task's own TF-op preprocessor; here they are
shaped into `(x, y[, sample_weight])` and batched, each batch padded only to its longest row
(`tf.data.Dataset.bucket_by_sequence_length` groups rows of similar length when training).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from albert_keras.tasks.inputs.encoded_split import EncodedSplit

_BUCKET_BOUNDARIES = (16, 24, 32, 48, 64, 96, 128, 192, 256, 384)


def make_dataset(encoded: EncodedSplit, batch_size: int, training: bool,
                 bucket_by_length: bool = True, max_sequence_length: int | None = None,
                 seed: int = 0) -> tf.data.Dataset:
    """Batches of `(x, y)` or `(x, y, sample_weight)`, `x` = int32 `token_ids`, `segment_ids`,
    `padding_mask` `(batch, seq)`.

    Training data is shuffled (reshuffled each epoch, seeded). With `bucket_by_length`, each
    batch is padded to its longest row, and training batches group rows of similar length;
    without it every batch is padded to `max_sequence_length`.
    """
    lengths = encoded.lengths
    columns = {"token_ids": _ragged(encoded.token_ids, lengths),
               "segment_ids": _ragged(encoded.segment_ids, lengths)}
    if encoded.sample_weight is not None:
        columns["y"] = _ragged(encoded.y, lengths)
        columns["sample_weight"] = _ragged(encoded.sample_weight, lengths, np.float32)
    elif isinstance(encoded.y, dict):
        columns["y"] = {k: np.asarray(v, np.int32) for k, v in encoded.y.items()}
    else:
        columns["y"] = np.asarray(encoded.y)
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
    # The rows come from memory, not files: under a multi-worker strategy each worker takes
    # its share of the batches (said here, rather than left to AUTO's fallback).
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options).prefetch(tf.data.AUTOTUNE)


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
