"""`pretraining_dataset`: TFRecord shards -> masked batches `(x, y, sample_weight)` for `model.fit`.

Files -> (per-worker file shard) -> shuffle files -> parallel interleave -> (per-worker record
shard when there are fewer files than workers) -> shuffle records -> repeat -> batch
(`drop_remainder=True`, static shapes for XLA/TPU) -> decode -> mask on the fly -> shape into
`(x, y, sample_weight)` -> prefetch.

With `length_buckets`, the batch step groups records of similar length instead, and each batch
is cut to the smallest bucket that holds its longest row: the model computes on far fewer
padding positions (and the masked-LM head on fewer empty prediction slots).

Settings that the data stage knows (sequence length, special ids, vocabulary, masking mode) come
from the `manifest.json` next to the shards; arguments override them.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import functools
import logging
import os
from typing import Any, Sequence

import numpy as np
import tensorflow as tf

from albert_keras.data import features, tokenizers, writer
from albert_keras.data.length_buckets import (check_length_buckets, cut_predictions,
                                              length_bucketed_batches)
from albert_keras.data.masking import mask_tokens
from albert_keras.data.masking_config import MODES, MaskingConfig

logger = logging.getLogger(__name__)
_GZIP_MAGIC = b"\x1f\x8b"


@dataclasses.dataclass(frozen=True)
class ReaderSettings:
    """What the reader decodes and masks with: the arguments, else the manifest, else defaults.

    Args:
        static_masking: bool. The records hold their masks (`prepare --static-masking`); they
            are read as stored, and only `masking.max_predictions` (their length) and
            `masking.mask_rate` (for length buckets) are used.
        masking: `MaskingConfig`. Mode, rate and limits of the masking on the fly.
        max_sequence_length: int. Length of the records' token rows.
        vocabulary_size: int or None. Random replacements are drawn below it. None when static.
        mask_id: int or None. Id of `[MASK]`. None when static.
        special_token_ids: tuple of int. Ids never masked. Empty when static.
        is_continuation: bool array `[vocabulary_size]` or None. Word pieces that continue a
            word, for `"whole_word"` and `"ngram"` masking.
    """

    static_masking: bool
    masking: MaskingConfig
    max_sequence_length: int
    vocabulary_size: int | None = None
    mask_id: int | None = None
    special_token_ids: tuple[int, ...] = ()
    is_continuation: np.ndarray | None = dataclasses.field(default=None, compare=False,
                                                           repr=False)


def pretraining_dataset(file_pattern: str, global_batch_size: int,
                        input_context: tf.distribute.InputContext | None = None, *,
                        masking: str | None = None, max_predictions: int | None = None,
                        mask_rate: float | None = None, max_ngram: int | None = None,
                        tokenizer=None, shuffle: bool = True, shuffle_buffer_size: int = 10000,
                        repeat: bool = True, seed: int = 0, verify: bool = True,
                        skip_corrupt: bool = False,
                        length_buckets: Sequence[int] = (),
                        skip_batches: int = 0) -> tf.data.Dataset:
    """Batches of pretraining inputs with masking on the fly.

    Masks are drawn per batch with the stateless seed `(seed, batch index * pipelines +
    pipeline id)`: each pass over the data masks differently (dynamic masking, RoBERTa-style),
    and two runs with the same seed see the same batches.

    Args:
        file_pattern: str. A glob of shards, or the directory `prepare` wrote.
        global_batch_size: int. Batch size summed over replicas.
        input_context: `tf.distribute.InputContext` or None. Each input pipeline reads its own
            files when there are at least as many files as pipelines, else its own records.
        masking: str or None. `"token"`, `"whole_word"`, `"ngram"`, or `"static"` (the masks
            stored by `prepare --static-masking`). None = as the manifest says.
        max_predictions, mask_rate, max_ngram: masking settings; None = the manifest's (or
            `MaskingConfig`'s defaults, 20, 0.15, 3, without one).
        tokenizer: keras-hub tokenizer or path, or None for the manifest's `tokenizer/`.
            Needed for special ids without a manifest and for word-level masking.
        shuffle: bool. Shuffle files and records. Defaults to True.
        shuffle_buffer_size: int. Records in the shuffle buffer. Defaults to 10000.
        repeat: bool. Repeat forever. Defaults to True.
        seed: int. Seed of the shuffles and the masks. Defaults to 0.
        verify: bool. Read each shard of this pipeline once before training and check it against
            the manifest, so a truncated or corrupt shard is reported by name. Without it, a
            corrupt record fails later with TensorFlow's `DataLossError`, which does not name
            the file. Defaults to True.
        skip_corrupt: bool. Skip (and log, with a count) corrupt shards instead of failing.
        length_buckets: sequence of int. Increasing sequence lengths, e.g. `(32, 64, 96)`;
            `max_sequence_length` is the last bucket, and larger ones are dropped. When given,
            each batch holds rows of one bucket only and is cut to that bucket's length, and
            `mask_positions` to the most predictions a row of that length can have (`ceil(length * mask_rate)`, at most
            `max_predictions`). Batches then have a few different shapes (one per bucket): good
            for CPUs and GPUs (XLA compiles once per shape), not for TPUs. Defaults to `()`:
            every batch is padded to `max_sequence_length`.
        skip_batches: int. Leave out the first batches, exactly those a run that was stopped
            after them saw (same seed: same order, same masks); what a resumed run reads.
            Defaults to 0.

    Returns:
        A `tf.data.Dataset` of `(x, y, sample_weight)`: x = {token_ids, segment_ids, padding_mask
        int32 [B, S], mask_positions int32 [B, P]}, y = {"mlm": int32 [B, P], "pair": int32 [B]},
        sample_weight = {"mlm": float32 [B, P]}, with B the per-replica batch size, S the
        sequence length (or the batch's bucket) and P `max_predictions` (or the bucket's share).

    Example:
    ```python
    # needs: prepared records and a `pretrainer`
    dataset = pretraining_dataset("tf_records/albert_tiny", global_batch_size=32)
    pretrainer.fit(dataset, steps_per_epoch=100)
    ```
    """
    files, directory = match_files(file_pattern)
    manifest = writer.read_manifest(directory) or {}
    num_pipelines = input_context.num_input_pipelines if input_context else 1
    pipeline_id = input_context.input_pipeline_id if input_context else 0
    batch_size = (input_context.get_per_replica_batch_size(global_batch_size) if input_context
                  else global_batch_size)
    if batch_size < 1:
        raise ValueError("`global_batch_size` must be >= 1 per replica. "
                         f"Received: global_batch_size={global_batch_size}")
    shard_records = num_pipelines > 1 and len(files) < num_pipelines
    if num_pipelines > 1 and not shard_records:
        files = files[pipeline_id::num_pipelines]
    if verify:
        files = verify_shards(files, manifest, skip_corrupt=skip_corrupt)
        if not files:
            raise ValueError(f"Every shard matching {file_pattern!r} is corrupt")
    settings = _settings(manifest, files, masking, max_predictions, mask_rate, max_ngram, tokenizer)
    buckets = check_length_buckets(length_buckets, settings.max_sequence_length)

    records = _records(files, shuffle=shuffle, shuffle_buffer_size=shuffle_buffer_size,
                       repeat=repeat, seed=seed,
                       record_shard=(num_pipelines, pipeline_id) if shard_records else None)
    # Batch and decode -> mask -> shape, then prefetch.
    dataset = _decoded_batches(records, settings, batch_size, buckets)
    masker = _masker(settings, seed, num_pipelines, pipeline_id)
    dataset = dataset.enumerate().map(masker, num_parallel_calls=tf.data.AUTOTUNE,
                                      deterministic=True)
    if buckets:
        dataset = dataset.map(functools.partial(
            cut_predictions, max_predictions=settings.masking.max_predictions,
            mask_rate=settings.masking.mask_rate))
    dataset = dataset.map(_to_model_inputs)
    if skip_batches:
        dataset = dataset.skip(skip_batches)  # After masking: batch indices keep their masks.
    options = tf.data.Options()
    if input_context is not None:
        options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
    return dataset.with_options(options).prefetch(tf.data.AUTOTUNE)


def pretraining_dataset_from_config(config, file_pattern: str, tokenizer, global_batch_size: int,
                                    input_context: tf.distribute.InputContext | None = None,
                                    **kwargs: Any) -> tf.data.Dataset:
    """`pretraining_dataset` with the masking, shuffle and seed settings of `config.data`.

    Keyword arguments of `pretraining_dataset` given here win over the config's.
    """
    data = config.data
    from_config = dict(masking=None, max_predictions=data.max_predictions,
                       mask_rate=data.mask_rate, max_ngram=data.max_ngram,
                       shuffle_buffer_size=data.shuffle_buffer_size, seed=data.seed,
                       length_buckets=data.length_buckets)
    return pretraining_dataset(file_pattern, global_batch_size, input_context, tokenizer=tokenizer,
                               **{**from_config, **kwargs})


def match_files(file_pattern: str) -> tuple[list[str], str]:
    """Sorted shard files for a glob or a `prepare` directory, and the directory holding them."""
    pattern = os.path.join(file_pattern, "*.tfrecord") if tf.io.gfile.isdir(file_pattern) \
        else file_pattern
    files = sorted(f for f in tf.io.gfile.glob(pattern)
                   if os.path.basename(f) != writer.MANIFEST and not tf.io.gfile.isdir(f))
    if not files:
        raise FileNotFoundError(f"No TFRecord files match file_pattern={file_pattern!r}")
    return files, os.path.dirname(files[0])


def verify_shards(files: list[str], manifest: dict[str, Any] | None = None,
                  skip_corrupt: bool = False) -> list[str]:
    """Reads each shard once (in parallel) and returns the good ones.

    A shard is corrupt when TensorFlow cannot read it to the end (bad length or checksum,
    truncation) or when its record count differs from the manifest's. Corrupt shards raise a
    `ValueError` naming the file, or with `skip_corrupt=True` are left out with a logged count.
    """
    expected = {entry["file"]: entry["num_sequences"]
                for entry in (manifest or {}).get("shard_files", [])}

    def problem(path: str) -> str | None:
        try:
            count = int(tf.data.TFRecordDataset(path, compression_type=_compression(path))
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
                         "with pretraining_dataset(..., skip_corrupt=True) to skip corrupt shards.")
    if bad:
        logger.warning("Skipped %d corrupt shard(s) of %d: %s", len(bad), len(files),
                       "; ".join(f"{p} ({w})" for p, w in bad.items()))
    return [path for path in files if path not in bad]


def _settings(manifest, files, masking, max_predictions, mask_rate, max_ngram,
              tokenizer) -> ReaderSettings:
    """Arguments win over the manifest, the manifest over `MaskingConfig`'s defaults."""
    stored = MaskingConfig.from_dict(manifest.get("masking", {}))
    if masking is None:
        masking = "static" if manifest.get("static_masking") else stored.mode
    if masking not in (*MODES, "static"):
        raise ValueError(f"`masking` must be one of {(*MODES, 'static')} or None. "
                         f"Received: masking={masking!r}")
    static = masking == "static"
    config = MaskingConfig(mode=stored.mode if static else masking,
                           mask_rate=mask_rate or stored.mask_rate,
                           max_predictions=max_predictions or stored.max_predictions,
                           max_ngram=max_ngram or stored.max_ngram)
    max_sequence_length = manifest.get("max_sequence_length") or _record_length(files[0])
    if static:
        return ReaderSettings(static_masking=True, masking=config,
                              max_sequence_length=max_sequence_length)
    tokenizer = _masking_tokenizer(manifest, files, masking, tokenizer)
    if tokenizer is not None:
        special = tokenizers.special_token_ids(tokenizer)
        vocabulary_size = int(tokenizer.vocabulary_size())
    else:
        special = manifest["special_token_ids"]
        vocabulary_size = int(manifest["vocabulary_size"])
    return ReaderSettings(
        static_masking=False, masking=config, max_sequence_length=max_sequence_length,
        vocabulary_size=vocabulary_size, mask_id=special["mask"],
        special_token_ids=tuple(sorted(set(special.values()))),
        is_continuation=(tokenizers.continuation_table(tokenizer) if masking != "token"
                         else None))


def _masking_tokenizer(manifest, files, masking: str, tokenizer):
    """The tokenizer given (or its path loaded), else the manifest's `tokenizer/` when masking
    needs one: word-level modes, or no special ids in the manifest. None when it needs none."""
    if isinstance(tokenizer, str):
        tokenizer = tokenizers.load_tokenizer(tokenizer)
    if tokenizer is None and (masking != "token" or "special_token_ids" not in manifest):
        path = os.path.join(os.path.dirname(files[0]), manifest.get("tokenizer", "tokenizer"))
        if not tf.io.gfile.isdir(path):
            raise ValueError(f"Masking needs the tokenizer: pass `tokenizer=` (no tokenizer "
                             f"directory at {path!r})")
        tokenizer = tokenizers.load_tokenizer(path)
    return tokenizer


def _records(files: list[str], *, shuffle: bool, shuffle_buffer_size: int, repeat: bool,
             seed: int, record_shard: tuple[int, int] | None) -> tf.data.Dataset:
    """Serialized records: shuffled files, interleaved, (this pipeline's share,) shuffled."""
    dataset = tf.data.Dataset.from_tensor_slices(files)
    if shuffle:
        dataset = dataset.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)
    compression = _compression(files[0])
    dataset = dataset.interleave(
        lambda path: tf.data.TFRecordDataset(path, compression_type=compression),
        cycle_length=min(len(files), 16), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if record_shard is not None:
        dataset = dataset.shard(*record_shard)  # (num_pipelines, pipeline_id)
    if shuffle:
        dataset = dataset.shuffle(shuffle_buffer_size, seed=seed, reshuffle_each_iteration=True)
    if repeat:
        dataset = dataset.repeat()
    return dataset


def _decoded_batches(records: tf.data.Dataset, settings: ReaderSettings, batch_size: int,
                     buckets: tuple[int, ...]) -> tf.data.Dataset:
    """Batches of parsed features (`drop_remainder`), by length bucket when there are buckets."""
    length = settings.max_sequence_length
    predictions = settings.masking.max_predictions if settings.static_masking else None

    def decode(serialized):
        return features.parse_examples(serialized, length, predictions)

    if buckets:
        return length_bucketed_batches(records, batch_size, buckets, decode)
    return records.batch(batch_size, drop_remainder=True).map(
        decode, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def _masker(settings: ReaderSettings, seed: int, num_pipelines: int, pipeline_id: int):
    if settings.static_masking:
        return lambda index, batch: batch
    table = settings.is_continuation
    table = None if table is None else tf.constant(table)
    masking = settings.masking

    def mask(index, batch):
        # One seed per batch and input pipeline: (seed, index * num_pipelines + pipeline_id).
        batch_seed = tf.stack([tf.constant(seed, tf.int64), index * num_pipelines + pipeline_id])
        masked = mask_tokens(
            batch["token_ids"], batch_seed, vocabulary_size=settings.vocabulary_size,
            mask_id=settings.mask_id, special_token_ids=settings.special_token_ids,
            padding_mask=batch["padding_mask"], max_predictions=masking.max_predictions,
            mask_rate=masking.mask_rate, mode=masking.mode, is_continuation=table,
            max_ngram=masking.max_ngram)
        return {**batch, **masked}
    return mask


def _to_model_inputs(batch):
    x = {"token_ids": batch["token_ids"], "segment_ids": batch["segment_ids"],
         "padding_mask": batch["padding_mask"], "mask_positions": batch["mask_positions"]}
    y = {"mlm": tf.cast(batch["mask_ids"], tf.int32), "pair": batch["pair_label"]}
    sample_weight = {"mlm": tf.cast(batch["mask_weights"], tf.float32)}
    return x, y, sample_weight


def _compression(path: str) -> str:
    with tf.io.gfile.GFile(path, "rb") as f:
        return "GZIP" if f.read(2) == _GZIP_MAGIC else ""


def _record_length(path: str) -> int:
    """`max_sequence_length` read from the first record, for shards without a manifest."""
    for record in tf.data.TFRecordDataset(path, compression_type=_compression(path)).take(1):
        example = tf.train.Example.FromString(record.numpy())
        return len(example.features.feature["token_ids"].int64_list.value)
    raise ValueError(f"Cannot read max_sequence_length from the empty shard {path!r}")
