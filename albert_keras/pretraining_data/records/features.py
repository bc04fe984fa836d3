"""The pretraining record spec: the one place that names and shapes the TFRecord features.

Every record holds `token_ids`, `segment_ids`, `padding_mask` (int64 lists of length
`max_sequence_length`) and `pair_label` (int64; 1 = random next segment for NSP, swapped
segments for SOP). Statically masked records add `mask_positions`, `mask_ids` (int64) and
`mask_weights` (float) of length `max_predictions`. Records made here also carry
`document_id` (int64): the index of the document the pair comes from, within its record set
(training or held out), so scores on held-out pairs can be grouped by document. It is optional
when reading: records written before it, or by a reference `create_pretraining_data.py`, parse
with `NO_DOCUMENT` in its place. The writer, the reader and the serving endpoint
(`serve_examples`) all use these functions.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

INPUT_FEATURES = ("token_ids", "segment_ids", "padding_mask")
PAIR_FEATURE = "pair_label"
MASK_FEATURES = ("mask_positions", "mask_ids", "mask_weights")
DOCUMENT_FEATURE = "document_id"
NO_DOCUMENT = -1  # The `document_id` parsed from a record without one.
# Every feature a record may hold, in the order the writers take them from their rows.
RECORD_FEATURES = (*INPUT_FEATURES, PAIR_FEATURE, DOCUMENT_FEATURE, *MASK_FEATURES)


def feature_spec(max_sequence_length: int, max_predictions: int | None = None,
                 with_pair_label: bool = True, with_document_id: bool = False) -> dict:
    """`tf.io.parse_example` spec; masked features only when `max_predictions` is given, the
    (optional) `document_id` only when asked for."""
    import tensorflow as tf

    spec = {name: tf.io.FixedLenFeature([max_sequence_length], tf.int64) for name in INPUT_FEATURES}
    if with_pair_label:
        spec[PAIR_FEATURE] = tf.io.FixedLenFeature([], tf.int64)
    if with_document_id:
        spec.update(document_id_spec())
    if max_predictions is not None:
        spec["mask_positions"] = tf.io.FixedLenFeature([max_predictions], tf.int64)
        spec["mask_ids"] = tf.io.FixedLenFeature([max_predictions], tf.int64)
        spec["mask_weights"] = tf.io.FixedLenFeature([max_predictions], tf.float32)
    return spec


def document_id_spec() -> dict:
    """The spec of `document_id` alone: `NO_DOCUMENT` where a record has none (any format)."""
    import tensorflow as tf

    return {DOCUMENT_FEATURE: tf.io.FixedLenFeature([], tf.int64, default_value=NO_DOCUMENT)}


def serialize_example(features: Mapping[str, np.ndarray | int]) -> bytes:
    """One `tf.train.Example` as bytes from a dict of the features above (ints or 1-D arrays)."""
    from tensorflow.core.example import example_pb2

    example = example_pb2.Example()
    for name, value in features.items():
        values = np.asarray(value).reshape(-1)
        feature = example.features.feature[name]
        if name == "mask_weights":
            feature.float_list.value.extend(values.astype(np.float32).tolist())
        else:
            feature.int64_list.value.extend(values.astype(np.int64).tolist())
    return example.SerializeToString()


def serialize_examples(features: Mapping[str, np.ndarray]) -> list[bytes]:
    """`serialize_example` of every row at once (the same messages, ~50x faster).

    Args:
        features: name -> array `(rows,)` or `(rows, width)` of the features above.

    Returns:
        One serialized `tf.train.Example` per row, features in sorted name order (the bytes
        of `SerializeToString(deterministic=True)`).
    """
    from albert_keras.pretraining_data.records.tf_example_wire import encode_examples

    buffer, offsets = encode_examples(features, {"mask_weights"})
    bounds = offsets.tolist()
    return [buffer[begin:end] for begin, end in zip(bounds[:-1], bounds[1:])]


def parse_examples(serialized, max_sequence_length: int, max_predictions: int | None = None,
                   with_pair_label: bool = True, with_document_id: bool = False) -> dict:
    """Parses a batch `[B]` of serialized records into int32 / float32 tensors `[B, ...]`."""
    import tensorflow as tf

    parsed = tf.io.parse_example(serialized, feature_spec(
        max_sequence_length, max_predictions, with_pair_label, with_document_id))
    return {name: value if value.dtype == tf.float32 else tf.cast(value, tf.int32)
            for name, value in parsed.items()}
