"""Length bucketing of pretraining batches: compute on real tokens, not on padding.

Pretraining records are padded to `max_sequence_length`, but many rows are shorter (documents
end, and `short_seq_prob` asks for short rows on purpose). `pretraining_dataset(...,
length_buckets=...)` uses these functions to batch rows of similar length together and cut each
batch to its bucket, so the encoder computes on few padding positions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from albert_keras.pretraining_data.records import features

if TYPE_CHECKING:
    import tensorflow as tf


def check_length_buckets(length_buckets: Sequence[int], max_sequence_length: int,
                         prefix: str = "") -> tuple[int, ...]:
    """The bucket lengths below `max_sequence_length`, then `max_sequence_length` (or `()`).

    Buckets at or above `max_sequence_length` are dropped: a pipeline's buckets still apply
    when its sequence length is overridden. `prefix` (e.g. `"data."`) goes before the names in
    the error message.
    """
    buckets = tuple(length_buckets or ())
    if not buckets:
        return ()
    integers = all(isinstance(b, int) and not isinstance(b, bool) for b in buckets)
    if not integers or buckets[0] < 1 or any(a >= b for a, b in zip(buckets, buckets[1:])):
        raise ValueError(f"`{prefix}length_buckets` must be increasing integer lengths >= 1. "
                         f"Received: {prefix}length_buckets={list(buckets)}")
    return (*(b for b in buckets if b < max_sequence_length), max_sequence_length)


def length_bucketed_batches(records: tf.data.Dataset, batch_size: int, buckets: Sequence[int],
                            decode) -> tf.data.Dataset:
    """Full batches of rows from one length bucket each, cut to the bucket's length.

    Rows are decoded in blocks, grouped by the bucket of their real length (`padding_mask`
    sum) with `tf.data`'s `group_by_window`, and each batch keeps the first `bucket` columns
    of its rows: only padding is cut, as every row of the batch fits the bucket.
    """
    import tensorflow as tf

    lengths = tf.constant(buckets, tf.int64)

    def bucket_of(row):  # Index of the smallest bucket >= the row's real length.
        real = tf.reduce_sum(tf.cast(row["padding_mask"], tf.int64))
        return tf.searchsorted(lengths, real[None], side="left", out_type=tf.int64)[0]

    def batch_and_cut(bucket, window):
        def cut(batch):
            return {name: value[:, :lengths[bucket]] if name in features.INPUT_FEATURES
                    else value for name, value in batch.items()}
        return window.batch(batch_size, drop_remainder=True).map(cut)

    rows = records.batch(1024).map(decode, num_parallel_calls=tf.data.AUTOTUNE,
                                   deterministic=True).unbatch()
    return rows.group_by_window(key_func=bucket_of, reduce_func=batch_and_cut,
                                window_size=batch_size)


def cut_predictions(batch, *, max_predictions: int, mask_rate: float):
    """Keeps the prediction slots a row of this batch's length can fill (real ones come first).

    Masking picks `round(mask_rate * maskable tokens)`, at most `max_predictions`, and no row
    has more maskable tokens than the batch has columns; an assertion guards the bound.
    """
    import tensorflow as tf

    length = tf.cast(tf.shape(batch["token_ids"])[1], tf.float32)
    slots = tf.clip_by_value(tf.cast(tf.math.ceil(length * mask_rate), tf.int32), 1,
                             max_predictions)
    used = tf.reduce_max(tf.reduce_sum(tf.cast(batch["mask_weights"] > 0, tf.int32), axis=1))
    check = tf.debugging.assert_less_equal(
        used, slots, message="A row has more masked tokens than its length bucket allows")
    with tf.control_dependencies([check]):
        return {name: value[:, :slots] if name in features.MASK_FEATURES else value
                for name, value in batch.items()}
