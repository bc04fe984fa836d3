"""`pretraining_dataset`: TFRecord shards -> masked batches `(x, y, sample_weight)` for `model.fit`.

Files -> (per-worker file shard) -> shuffle files -> parallel interleave -> (per-worker record
shard when there are fewer files than workers) -> shuffle records -> repeat -> batch
(`drop_remainder=True`, static shapes for XLA/TPU) -> decode -> mask on the fly -> shape into
`(x, y, sample_weight)` -> prefetch.

With `ReaderOptions.length_buckets`, the batch step groups records of similar length instead,
and each batch is cut to the smallest bucket that holds its longest row: the model computes on
far fewer padding positions (and the masked-LM head on fewer empty prediction slots).

Settings that the data stage knows (sequence length, special ids, vocabulary, masking mode) come
from the `manifest.json` next to the shards; arguments override them. Records made by a reference
`create_pretraining_data.py` (google-research/bert, google-research/albert, TF Model Garden) have
no manifest: they are read with their own static masks and lengths (`reference_records.py`).
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import numpy as np
import tensorflow as tf

from albert_keras.pretraining_data.masking.mask_tokens import mask_tokens
from albert_keras.pretraining_data.masking.masking_config import MaskingConfig
from albert_keras.pretraining_data.reader.length_buckets import (check_length_buckets,
                                                                 cut_predictions,
                                                                 length_bucketed_batches)
from albert_keras.pretraining_data.reader.reader_options import ReaderOptions
from albert_keras.pretraining_data.reader.reader_settings import ReaderSettings, reader_settings
from albert_keras.pretraining_data.records import features
from albert_keras.pretraining_data.records.records_manifest import RecordsManifest, read_manifest
from albert_keras.pretraining_data.records.reference_records import records_format as detect_format
from albert_keras.pretraining_data.records.shards import compression, match_files, verify_shards

__all__ = ["ReaderOptions", "match_files", "pretraining_dataset",
           "pretraining_dataset_from_config", "record_document_ids", "verify_shards"]


def pretraining_dataset(file_pattern: str, global_batch_size: int,
                        input_context: tf.distribute.InputContext | None = None, *,
                        masking: MaskingConfig | None = None, static_masking: bool | None = None,
                        tokenizer=None,
                        options: ReaderOptions = ReaderOptions()) -> tf.data.Dataset:
    """Batches of pretraining inputs with masking on the fly.

    Masks are drawn per batch with the stateless seed `(options.seed, batch index * pipelines +
    pipeline id)`: each pass over the data masks differently (dynamic masking, RoBERTa-style),
    and two runs with the same seed see the same batches.

    Args:
        file_pattern: str. A glob of shards, or the directory `prepare` wrote.
        global_batch_size: int. Batch size summed over replicas.
        input_context: `tf.distribute.InputContext` or None. Each input pipeline reads its own
            files when there are at least as many files as pipelines, else its own records.
        masking: `MaskingConfig` or None. The masking on the fly (its vocabulary fields are
            filled from the tokenizer or the manifest); with stored masks, its
            `max_predictions` must be theirs. None = the manifest's (`MaskingConfig`'s
            defaults without one).
        static_masking: bool or None. True: read the masks stored by `prepare
            --static-masking` (or a reference `create_pretraining_data.py`); False: mask on
            the fly even so. None = stored masks when the records hold them.
        tokenizer: keras-hub tokenizer or path, or None for the manifest's `tokenizer/`.
            Needed for special ids without a manifest and for word-level masking.
        options: `ReaderOptions`. Shuffling, seed, repetition, shard checks, length buckets,
            batches to skip, records format. Defaults to `ReaderOptions()`.

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
    stored = read_manifest(directory)
    manifest = stored or RecordsManifest()
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
    if options.verify:
        files = verify_shards(files, manifest, skip_corrupt=options.skip_corrupt)
        if not files:
            raise ValueError(f"Every shard matching {file_pattern!r} is corrupt")
    records_format = options.records_format
    if stored is None or records_format != "auto":
        records_format = detect_format(files, records_format)
    settings = reader_settings(manifest, files, masking, static_masking, tokenizer,
                               records_format)
    buckets = check_length_buckets(options.length_buckets, settings.max_sequence_length)

    records = _records(files, options,
                       record_shard=(num_pipelines, pipeline_id) if shard_records else None)
    # Batch and decode -> mask -> shape, then prefetch.
    dataset = _decoded_batches(records, settings, batch_size, buckets)
    masker = _masker(settings, options.seed, num_pipelines, pipeline_id)
    dataset = dataset.enumerate().map(masker, num_parallel_calls=tf.data.AUTOTUNE,
                                      deterministic=True)
    if buckets:
        dataset = dataset.map(functools.partial(
            cut_predictions, max_predictions=settings.masking.max_predictions,
            mask_rate=settings.masking.mask_rate))
    dataset = dataset.map(_to_model_inputs)
    if options.skip_batches:  # After masking: batch indices keep their masks.
        dataset = dataset.skip(options.skip_batches)
    tf_options = tf.data.Options()
    if input_context is not None:
        tf_options.experimental_distribute.auto_shard_policy = (
            tf.data.experimental.AutoShardPolicy.OFF)
    return dataset.with_options(tf_options).prefetch(tf.data.AUTOTUNE)


def pretraining_dataset_from_config(config, file_pattern: str, tokenizer, global_batch_size: int,
                                    input_context: tf.distribute.InputContext | None = None, *,
                                    masking: str | None = None,
                                    **options: Any) -> tf.data.Dataset:
    """`pretraining_dataset` with the masking (`data.masking_config()`) and the reader options
    (`ReaderOptions.from_data`) of `config.data`.

    Args:
        masking: str or None. As `data.masking` says it: `"token"`, `"whole_word"` or
            `"ngram"` (masked on the fly, the data section's other masking settings kept), or
            `"static"` (the masks stored in the records). None = `data.masking`, or the stored
            masks when the records hold them. Defaults to None.
        **options: `ReaderOptions` fields, which win over the config's.
    """
    data = config.data
    settings = data.masking_config()
    static_masking = None
    if masking == "static":
        static_masking = True
    elif masking is not None:
        static_masking = False
        settings = dataclasses.replace(settings, mode=masking)
    reader_options = dataclasses.replace(ReaderOptions.from_data(data), **options)
    return pretraining_dataset(file_pattern, global_batch_size, input_context, masking=settings,
                               static_masking=static_masking, tokenizer=tokenizer,
                               options=reader_options)


def record_document_ids(file_pattern: str, num_records: int) -> np.ndarray | None:
    """The `document_id` of the first `num_records` records, in the order in which
    `pretraining_dataset` reads them unshuffled (`ReaderOptions(shuffle=False)`, one input
    pipeline): the i-th id is that of the i-th row of its batches.

    Args:
        file_pattern: str. As for `pretraining_dataset`.
        num_records: int. How many records (e.g. batches x batch size).

    Returns:
        int64 array `[min(num_records, records)]`, or None when a record has no
        `document_id` (records written before it, or by a reference
        `create_pretraining_data.py`).
    """
    files, _ = match_files(file_pattern)
    records = _records(files, ReaderOptions(shuffle=False, repeat=False), record_shard=None)
    spec = features.document_id_spec()
    ids = [np.zeros([0], np.int64)]
    for batch in records.take(num_records).batch(4096):
        ids.append(tf.io.parse_example(batch, spec)[features.DOCUMENT_FEATURE].numpy())
    ids = np.concatenate(ids)
    return None if (ids == features.NO_DOCUMENT).any() else ids


def _records(files: list[str], options: ReaderOptions,
             record_shard: tuple[int, int] | None) -> tf.data.Dataset:
    """Serialized records: shuffled files, interleaved, (this pipeline's share,) shuffled."""
    dataset = tf.data.Dataset.from_tensor_slices(files)
    if options.shuffle:
        dataset = dataset.shuffle(len(files), seed=options.seed, reshuffle_each_iteration=True)
    compression_type = compression(files[0])
    dataset = dataset.interleave(
        lambda path: tf.data.TFRecordDataset(path, compression_type=compression_type),
        cycle_length=min(len(files), 16), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if record_shard is not None:
        dataset = dataset.shard(*record_shard)  # (num_pipelines, pipeline_id)
    if options.shuffle:
        dataset = dataset.shuffle(options.shuffle_buffer_size, seed=options.seed,
                                  reshuffle_each_iteration=True)
    if options.repeat:
        dataset = dataset.repeat()
    return dataset


def _decoded_batches(records: tf.data.Dataset, settings: ReaderSettings, batch_size: int,
                     buckets: tuple[int, ...]) -> tf.data.Dataset:
    """Batches of parsed features (`drop_remainder`), by length bucket when there are buckets."""
    length = settings.max_sequence_length
    predictions = settings.masking.max_predictions if settings.static_masking else None

    def decode(serialized):
        if settings.reference is not None:  # Made by create_pretraining_data.py: their names.
            return settings.reference.parse(serialized)
        return features.parse_examples(serialized, length, predictions)

    if buckets:
        return length_bucketed_batches(records, batch_size, buckets, decode)
    return records.batch(batch_size, drop_remainder=True).map(
        decode, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def _masker(settings: ReaderSettings, seed: int, num_pipelines: int, pipeline_id: int):
    if settings.static_masking:
        return lambda index, batch: batch
    masking = settings.masking

    def mask(index, batch):
        # One seed per batch and input pipeline: (seed, index * num_pipelines + pipeline_id).
        batch_seed = tf.stack([tf.constant(seed, tf.int64), index * num_pipelines + pipeline_id])
        masked = mask_tokens(batch["token_ids"], batch_seed, masking,
                             padding_mask=batch["padding_mask"])
        return {**batch, **masked}
    return mask


def _to_model_inputs(batch):
    x = {"token_ids": batch["token_ids"], "segment_ids": batch["segment_ids"],
         "padding_mask": batch["padding_mask"], "mask_positions": batch["mask_positions"]}
    y = {"mlm": tf.cast(batch["mask_ids"], tf.int32), "pair": batch["pair_label"]}
    sample_weight = {"mlm": tf.cast(batch["mask_weights"], tf.float32)}
    return x, y, sample_weight
