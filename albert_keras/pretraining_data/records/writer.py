"""Writes pretraining records as sharded TFRecord files plus a JSON manifest.

Shards are `{prefix}-{i:05d}-of-{n:05d}.tfrecord` (GZIP-compressed when asked; the name stays
the same and the manifest says `"compression"`). Rows are shuffled with the seed and dealt
round-robin, as in the original `create_pretraining_data.py`, so every shard is a random sample.
Old shards of the same prefix are removed first, so a reader's glob never mixes two runs.
`output_dir` may be a URL (`gs://...`): TensorFlow's writer and `file_io` write there.
"""

from __future__ import annotations

import glob
import os
from typing import Any, Callable, Mapping

import numpy as np

from albert_keras.pretraining_data.records import features
from albert_keras.utils import file_io

COMPRESSIONS = (None, "GZIP")
_SERIALIZE_ROWS = 8192  # Rows serialized per numpy batch (~5 MB of records at length 128).


def shard_name(prefix: str, index: int, num_shards: int) -> str:
    return f"{prefix}-{index:05d}-of-{num_shards:05d}.tfrecord"


def write_shards(rows: Mapping[str, np.ndarray], output_dir: str, *, num_shards: int,
                 prefix: str = "pretraining", compression: str | None = None, seed: int = 0,
                 progress: Callable[[int], None] | None = None) -> list[dict[str, Any]]:
    """Writes `rows` (columns of the record spec, same first dimension) into shards.

    The columns of `features.RECORD_FEATURES` that `rows` has are written (`document_id`
    included: the rows of `create_pairs` carry it); others are not. Returns one
    `{"file", "num_sequences", "num_bytes"}` per shard (file names relative to `output_dir`).
    """
    if compression not in COMPRESSIONS:
        raise ValueError(f"`compression` must be one of {COMPRESSIONS}. "
                         f"Received: compression={compression!r}")
    if num_shards < 1:
        raise ValueError(f"`num_shards` must be >= 1. Received: num_shards={num_shards}")
    import tensorflow as tf

    names = [n for n in features.RECORD_FEATURES if n in rows]
    count = len(rows["token_ids"])
    num_shards = max(1, min(num_shards, count))
    file_io.makedirs(output_dir)
    for old in file_io.glob(os.path.join(output_dir, f"{glob.escape(prefix)}-*-of-*.tfrecord")):
        file_io.remove(old)
    order = np.random.default_rng(seed).permutation(count)
    options = tf.io.TFRecordOptions(compression_type=compression or "")
    shards = []
    for shard in range(num_shards):
        name = shard_name(prefix, shard, num_shards)
        path = os.path.join(output_dir, name)
        indices = order[shard::num_shards]
        with tf.io.TFRecordWriter(path + ".tmp", options) as writer:
            for begin in range(0, len(indices), _SERIALIZE_ROWS):
                batch = indices[begin:begin + _SERIALIZE_ROWS]
                for record in features.serialize_examples({n: rows[n][batch] for n in names}):
                    writer.write(record)
        file_io.rename(path + ".tmp", path)
        shards.append({"file": name, "num_sequences": int(len(indices)),
                       "num_bytes": file_io.size(path)})
        if progress:
            progress(len(indices))
    return shards
