"""`trim_padding`: drop the padding columns no row of a batch uses."""

from __future__ import annotations

import tensorflow as tf


def trim_padding(x: dict) -> dict:
    """Drops the trailing columns that are padding in every row.

    Real requests are mostly short: a batch of 30-token texts then costs 30 positions, not
    `sequence_length`. Padding is masked, so the answers do not change; sequence outputs cover
    the batch's longest row.
    """
    mask = tf.cast(x["padding_mask"], tf.int32)  # (batch, seq)
    positions = tf.range(1, tf.shape(mask)[1] + 1)  # (seq,) 1-based
    ends = tf.reduce_max(mask * positions, axis=1)  # (batch,) one past the last kept column
    longest = tf.reduce_max(tf.concat([ends, [1]], axis=0))  # >= 1, also for an empty batch
    return {name: value[:, :longest] for name, value in x.items()}
