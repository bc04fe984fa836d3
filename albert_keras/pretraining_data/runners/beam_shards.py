"""The last stage of `prepare --runner beam` (step 6 of `beam_stages.py`): rows -> shard files.

`KeyRowsByShard` sends each row to shard `row_key(...) % num_shards` (a 63-bit hash of the seed
and the row's place, so the shard and the order do not depend on how Beam cut the work) and
`WriteShard` writes each shard's records in key order as a `{prefix}-{i:05d}-of-{n:05d}.tfrecord`
file. Imported only when a Beam pipeline is built, like `beam_stages.py`.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any, Iterator

import apache_beam as beam

from albert_keras.pretraining_data.data_config import DataConfig
from albert_keras.pretraining_data.records import features
from albert_keras.pretraining_data.records.writer import shard_name
from albert_keras.pretraining_data.runners.beam_stages import HELD_OUT, ROW_FEATURES


def num_shards(data: DataConfig, group: str, num_rows: int) -> int:
    """Shards of a group: `data.num_shards` (at most one per row) or 1 for held-out records."""
    return 1 if group == HELD_OUT else max(1, min(data.num_shards, num_rows))


def row_key(seed: int, group: str, dupe: int, index: int, row: int) -> int:
    """A number in [0, 2**63) fixed by the row's place in the corpus: its shard and its order.

    63 bits, so that every coder a runner may pick for it holds it: Beam's `VarIntCoder` (and
    the size estimates some Beam releases make with it) takes signed 64-bit integers only.
    """
    digest = hashlib.blake2b(f"{seed}/{group}/{dupe}/{index}/{row}".encode(), digest_size=8)
    return int.from_bytes(digest.digest(), "big") >> 1


class KeyRowsByShard(beam.DoFn):
    """`(pass, index, rows)` -> `(shard, (row key, serialized tf.Example))` per row."""

    def __init__(self, data: DataConfig, group: str):
        self._data, self._group = data, group

    def process(self, block, num_rows: int) -> Iterator[tuple[int, tuple[int, bytes]]]:
        dupe, index, rows = block
        shards = num_shards(self._data, self._group, num_rows)
        names = [n for n in (*ROW_FEATURES, *features.MASK_FEATURES) if n in rows]
        if not len(rows["token_ids"]):
            return
        # The block's rows at once: the same bytes as `serialize_example` row by row.
        records = features.serialize_examples({name: rows[name] for name in names})
        for row, record in enumerate(records):
            key = row_key(self._data.seed, self._group, dupe, index, row)
            yield key % shards, (key, record)


class WriteShard(beam.DoFn):
    """`(shard, records)` -> one shard file (records in key order) and its entry."""

    def __init__(self, data: DataConfig, group: str, directory: str, prefix: str,
                 compression: str | None):
        self._data, self._group, self._directory = data, group, directory
        self._prefix, self._compression = prefix, compression

    def process(self, element, num_rows: int) -> Iterator[dict[str, Any]]:
        import tensorflow as tf

        shard, records = element
        name = shard_name(self._prefix, shard, num_shards(self._data, self._group, num_rows))
        path = os.path.join(self._directory, name)
        tf.io.gfile.makedirs(self._directory)
        count = 0
        options = tf.io.TFRecordOptions(compression_type=self._compression or "")
        with tf.io.TFRecordWriter(path + ".tmp", options) as writer:
            for _, record in sorted(records):
                writer.write(record)
                count += 1
        tf.io.gfile.rename(path + ".tmp", path, overwrite=True)  # A retried bundle rewrites it.
        yield {"group": self._group, "file": name, "num_sequences": count,
               "num_bytes": tf.io.gfile.stat(path).length}
