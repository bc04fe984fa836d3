"""The TFRecord shards of `prepare`: find them, check them, read their compression and length."""

from __future__ import annotations

import concurrent.futures
import logging
import os
import tensorflow as tf

from albert_keras.pretraining_data.records.records_manifest import MANIFEST, RecordsManifest

logger = logging.getLogger(__name__)
_GZIP_MAGIC = b"\x1f\x8b"


def match_files(file_pattern: str) -> tuple[list[str], str]:
    """Sorted shard files for a glob or a `prepare` directory, and the directory holding them."""
    pattern = os.path.join(file_pattern, "*.tfrecord") if tf.io.gfile.isdir(file_pattern) \
        else file_pattern
    files = sorted(f for f in tf.io.gfile.glob(pattern)
                   if os.path.basename(f) != MANIFEST and not tf.io.gfile.isdir(f))
    if not files:
        raise FileNotFoundError(f"No TFRecord files match file_pattern={file_pattern!r}")
    return files, os.path.dirname(files[0])


def verify_shards(files: list[str], manifest: RecordsManifest | None = None,
                  skip_corrupt: bool = False) -> list[str]:
    """Reads each shard once (in parallel) and returns the good ones.

    A shard is corrupt when TensorFlow cannot read it to the end (bad length or checksum,
    truncation) or when its record count differs from the manifest's. Corrupt shards raise a
    `ValueError` naming the file, or with `skip_corrupt=True` are left out with a logged count.
    """
    expected = manifest.shard_counts() if manifest is not None else {}

    def problem(path: str) -> str | None:
        try:
            count = int(tf.data.TFRecordDataset(path, compression_type=compression(path))
                        .reduce(tf.constant(0, tf.int64), lambda n, _: n + 1))
        except tf.errors.OpError as error:
            return f"{type(error).__name__}: {error.message.splitlines()[0]}"
        want = expected.get(os.path.basename(path))
        if want is not None and count != want:
            return f"it holds {count} records, the manifest says {want}"
        return None

    with concurrent.futures.ThreadPoolExecutor(max_workers=min(8, len(files)) or 1) as pool:
        problems = dict(zip(files, pool.map(problem, files)))
    bad = {path: why for path, why in problems.items() if why}
    if bad and not skip_corrupt:
        path, why = next(iter(bad.items()))
        raise ValueError(f"Corrupt TFRecord shard {path!r}: {why}. "
                         "Run `albert-keras prepare` again to rewrite the records, or read them "
                         "with pretraining_dataset(..., options=ReaderOptions(skip_corrupt=True)) "
                         "to skip corrupt shards.")
    if bad:
        logger.warning("Skipped %d corrupt shard(s) of %d: %s", len(bad), len(files),
                       "; ".join(f"{p} ({w})" for p, w in bad.items()))
    return [path for path in files if path not in bad]


def compression(path: str) -> str:
    with tf.io.gfile.GFile(path, "rb") as f:
        return "GZIP" if f.read(2) == _GZIP_MAGIC else ""


def record_length(path: str) -> int:
    """`max_sequence_length` read from the first record, for shards without a manifest."""
    for record in tf.data.TFRecordDataset(path, compression_type=compression(path)).take(1):
        example = tf.train.Example.FromString(record.numpy())
        return len(example.features.feature["token_ids"].int64_list.value)
    raise ValueError(f"Cannot read max_sequence_length from the empty shard {path!r}")
