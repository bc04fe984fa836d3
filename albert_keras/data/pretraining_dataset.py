"""`pretraining_dataset`: TFRecord shards -> masked batches `(x, y, sample_weight)` for `model.fit`.

Files -> (per-worker file shard) -> shuffle files -> parallel interleave -> (per-worker record
shard when there are fewer files than workers) -> shuffle records -> repeat -> batch
(`drop_remainder=True`, static shapes for XLA/TPU) -> decode -> mask on the fly -> shape into
`(x, y, sample_weight)` -> prefetch.

With `length_buckets`, the batch step groups records of similar length instead, and each batch
is cut to the smallest bucket that holds its longest row: the model computes on far fewer
padding positions (and the masked-LM head on fewer empty prediction slots).

Settings that the data stage knows (sequence length, special ids, vocabulary, masking mode) come
from the `manifest.json` next to the shards; arguments override them. Records made by a reference
`create_pretraining_data.py` (google-research/bert, google-research/albert, TF Model Garden) have
no manifest: they are read with their own static masks and lengths (`reference_records.py`).
"""

from __future__ import annotations

import functools
from typing import Any, Sequence

import tensorflow as tf

from albert_keras.data import features
from albert_keras.data.length_buckets import (check_length_buckets, cut_predictions,
                                              length_bucketed_batches)
from albert_keras.data.masking import mask_tokens
from albert_keras.data.records_manifest import RecordsManifest, read_manifest
from albert_keras.data.reader_settings import ReaderSettings, reader_settings
from albert_keras.data.reference_records import records_format as detect_format
from albert_keras.data.shards import compression, match_files, verify_shards

__all__ = ["match_files", "pretraining_dataset", "pretraining_dataset_from_config",
           "verify_shards"]


def pretraining_dataset(file_pattern: str, global_batch_size: int,
                        input_context: tf.distribute.InputContext | None = None, *,
                        masking: str | None = None, max_predictions: int | None = None,
                        mask_rate: float | None = None, max_ngram: int | None = None,
                        tokenizer=None, shuffle: bool = True, shuffle_buffer_size: int = 10000,
                        repeat: bool = True, seed: int = 0, verify: bool = True,
                        skip_corrupt: bool = False,
                        length_buckets: Sequence[int] = (),
                        skip_batches: int = 0,
                        records_format: str = "auto") -> tf.data.Dataset:
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
        records_format: str. `"albert_keras"` (made by `prepare`), `"reference"` (made by a
            reference `create_pretraining_data.py`: read with their static masks, `masking`
            must be None or `"static"`, `max_predictions` None or their length), or `"auto"`:
            ours when there is a manifest, else as the first record's features say. Defaults
            to `"auto"`.

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
    if verify:
        files = verify_shards(files, manifest, skip_corrupt=skip_corrupt)
        if not files:
            raise ValueError(f"Every shard matching {file_pattern!r} is corrupt")
    if stored is None or records_format != "auto":
        records_format = detect_format(files, records_format)
    settings = reader_settings(manifest, files, masking, max_predictions, mask_rate, max_ngram,
                               tokenizer, records_format)
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
                       length_buckets=data.length_buckets, records_format=data.records_format)
    return pretraining_dataset(file_pattern, global_batch_size, input_context, tokenizer=tokenizer,
                               **{**from_config, **kwargs})


def _records(files: list[str], *, shuffle: bool, shuffle_buffer_size: int, repeat: bool,
             seed: int, record_shard: tuple[int, int] | None) -> tf.data.Dataset:
    """Serialized records: shuffled files, interleaved, (this pipeline's share,) shuffled."""
    dataset = tf.data.Dataset.from_tensor_slices(files)
    if shuffle:
        dataset = dataset.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)
    compression_type = compression(files[0])
    dataset = dataset.interleave(
        lambda path: tf.data.TFRecordDataset(path, compression_type=compression_type),
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
