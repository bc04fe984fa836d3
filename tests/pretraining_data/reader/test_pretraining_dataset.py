import collections
import dataclasses
import json
import logging
import os
import shutil

import numpy as np
import pytest
import tensorflow as tf

from albert_keras.pretraining_data.masking.masking_config import MaskingConfig
from albert_keras.pretraining_data.reader.length_buckets import check_length_buckets
from albert_keras.pretraining_data.reader.pretraining_dataset import (ReaderOptions,
                                                                      pretraining_dataset)
from albert_keras.pretraining_data.records.features import parse_examples
from albert_keras.pretraining_data.records.records_manifest import RecordsManifest, write_manifest
from albert_keras.pretraining_data.records.writer import write_shards
from tests.helpers import write_varied_length_records

MAX_PREDICTIONS = 5


def _unmasked_rows(dataset, width=32):
    """Rows of the original records, rebuilt from masked batches: Counter of token tuples.

    Rows of length-bucketed batches are padded back to `width` with zeros (the padding id).
    """
    rows = collections.Counter()
    for batch in dataset:
        rows.update(_batch_rows(*batch, width=width))
    return rows


def _batch_rows(x, y, weights, width=None) -> list[tuple]:
    """One batch's rows in order, masked tokens put back (padded to `width` when given), each
    a tuple of token ids and the pair label."""
    token_ids = x["token_ids"].numpy().copy()
    positions = x["mask_positions"].numpy()
    labels = np.where(weights["mlm"].numpy() > 0, y["mlm"].numpy(),
                      np.take_along_axis(token_ids, positions, axis=1))
    np.put_along_axis(token_ids, positions, labels, axis=1)
    if width is not None:
        token_ids = np.pad(token_ids, [(0, 0), (0, width - token_ids.shape[1])])
    return [tuple(ids) + (int(label),) for ids, label in zip(token_ids, y["pair"].numpy())]


def _shard_counts(directory):
    manifest = json.load(open(os.path.join(directory, "manifest.json")))
    return [entry["num_sequences"] for entry in manifest["shard_files"]]


def _records(directory, skip=()):
    rows = collections.Counter()
    for name in sorted(os.listdir(directory)):
        if name.endswith(".tfrecord") and name not in skip:
            for batch in tf.data.TFRecordDataset(os.path.join(directory, name)).batch(256):
                parsed = parse_examples(batch, 32)
                for ids, label in zip(parsed["token_ids"].numpy(), parsed["pair_label"].numpy()):
                    rows[tuple(ids) + (int(label),)] += 1
    return rows


def test_batches_have_the_contract_shapes_and_types(prepared):
    summary, directory = prepared
    dataset = pretraining_dataset(directory, global_batch_size=8)
    x, y, sample_weight = dataset.element_spec
    assert {k: (v.shape.as_list(), v.dtype) for k, v in x.items()} == {
        "token_ids": ([8, 32], tf.int32), "segment_ids": ([8, 32], tf.int32),
        "padding_mask": ([8, 32], tf.int32), "mask_positions": ([8, MAX_PREDICTIONS], tf.int32)}
    assert (y["mlm"].shape.as_list(), y["mlm"].dtype) == ([8, MAX_PREDICTIONS], tf.int32)
    assert (y["pair"].shape.as_list(), y["pair"].dtype) == ([8], tf.int32)
    assert sample_weight["mlm"].dtype == tf.float32
    x, y, sample_weight = next(iter(dataset))
    assert (x["token_ids"].numpy() == 4).sum() > 0  # [MASK] appears
    assert sample_weight["mlm"].numpy().sum() > 8


def test_writer_reader_round_trip_covers_every_record(prepared):
    summary, directory = prepared
    # One batch of every record (drop_remainder=True would drop a partial batch).
    dataset = pretraining_dataset(directory, global_batch_size=summary["sequences"],
                                  options=ReaderOptions(shuffle=False, repeat=False))
    assert _unmasked_rows(dataset) == _records(directory)
    assert sum(_records(directory).values()) == summary["sequences"]


@pytest.mark.parametrize("files", ["all", "one"])
def test_two_workers_read_disjoint_data_that_covers_everything(prepared, tmp_path, files):
    _, directory = prepared
    if files == "one":  # Fewer files than workers: sharded by record.
        shutil.copytree(directory, tmp_path / "one")
        directory = str(tmp_path / "one")
        for name in os.listdir(directory):
            if name.endswith(".tfrecord") and not name.startswith("pretraining-00000"):
                os.remove(os.path.join(directory, name))
    counts = _shard_counts(prepared[1])
    if files == "one":
        per_worker = [(counts[0] + 1) // 2, counts[0] // 2]
    else:
        per_worker = [sum(counts[0::2]), sum(counts[1::2])]
    seen = []
    for worker in range(2):
        context = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=worker,
                                             num_replicas_in_sync=2)
        # Batch = everything this worker holds, so drop_remainder drops nothing.
        dataset = pretraining_dataset(os.path.join(directory, "*.tfrecord"),
                                      2 * per_worker[worker], context,
                                      options=ReaderOptions(repeat=False, verify=False))
        seen.append(_unmasked_rows(dataset))
    everything = _records(directory)
    assert seen[0] + seen[1] == everything
    assert [sum(seen[0].values()), sum(seen[1].values())] == per_worker


def test_static_masks_are_read_as_stored(tmp_path, corpus_file):
    from albert_keras.pretraining_data.prepare import prepare
    from tests.helpers.pipeline_records import tiny_pipeline

    prepare(tiny_pipeline(tmp_path, corpus_file, name="static", compression="gzip",
                          masking="token", dupe_factor=1),
            static_masking=True, progress=False)
    directory = str(tmp_path / "static")
    manifest = json.load(open(os.path.join(directory, "manifest.json")))
    assert manifest["static_masking"] and manifest["compression"] == "GZIP"
    stored = collections.Counter()
    for shard in manifest["shard_files"]:
        path = os.path.join(directory, shard["file"])
        for batch in tf.data.TFRecordDataset(path, compression_type="GZIP").batch(256):
            parsed = parse_examples(batch, 32, MAX_PREDICTIONS)
            for row in zip(*(parsed[k].numpy() for k in ("token_ids", "mask_positions", "mask_ids"))):
                stored[tuple(np.concatenate(row))] += 1
    assert sum(stored.values()) == manifest["sequences"]
    dataset = pretraining_dataset(directory, manifest["sequences"],
                                  options=ReaderOptions(repeat=False))
    x, y, weights = next(iter(dataset))
    read = collections.Counter(tuple(np.concatenate(row)) for row in zip(
        x["token_ids"].numpy(), x["mask_positions"].numpy(), y["mlm"].numpy()))
    assert read == stored
    assert (x["token_ids"].numpy() == 4).sum() > 0.5 * weights["mlm"].numpy().sum()


def _corrupt_copy(directory, tmp_path, how):
    target = tmp_path / how
    shutil.copytree(directory, target)
    path = target / "pretraining-00001-of-00003.tfrecord"
    data = path.read_bytes()
    if how == "truncated":
        data = data[: len(data) // 2]
    else:
        middle = len(data) // 2
        data = data[:middle] + bytes(b ^ 0xFF for b in data[middle:middle + 16]) + data[middle + 16:]
    path.write_bytes(data)
    return str(target), str(path)


@pytest.mark.parametrize("how", ["truncated", "flipped"])
def test_corrupt_shard_is_named_or_skipped_and_counted(prepared, tmp_path, how, caplog):
    _, directory = prepared
    target, bad = _corrupt_copy(directory, tmp_path, how)
    with pytest.raises(ValueError, match="pretraining-00001-of-00003.tfrecord"):
        pretraining_dataset(target, 4)
    counts = _shard_counts(directory)
    with caplog.at_level(logging.WARNING):
        dataset = pretraining_dataset(target, counts[0] + counts[2], options=ReaderOptions(
            shuffle=False, repeat=False, skip_corrupt=True))
    assert "Skipped 1 corrupt shard(s) of 3" in caplog.text and bad in caplog.text
    assert _unmasked_rows(dataset) == _records(directory, skip=[os.path.basename(bad)])


def test_missing_files_error_names_the_pattern(tmp_path):
    with pytest.raises(FileNotFoundError, match="no-such-"):
        pretraining_dataset(str(tmp_path / "no-such-*.tfrecord"), 8)


def test_shards_without_manifest_need_only_special_ids(prepared, tmp_path):
    _, directory = prepared
    rows = {"token_ids": np.array([[2, 10, 11, 3, 12, 13, 3, 0]] * 6, np.int32),
            "segment_ids": np.array([[0, 0, 0, 0, 1, 1, 1, 0]] * 6, np.int32),
            "padding_mask": np.array([[1, 1, 1, 1, 1, 1, 1, 0]] * 6, np.int32),
            "pair_label": np.arange(6, dtype=np.int32) % 2}
    write_shards(rows, str(tmp_path), num_shards=2, compression="GZIP")
    with pytest.raises(ValueError, match="tokenizer"):
        pretraining_dataset(str(tmp_path), 3)
    dataset = pretraining_dataset(str(tmp_path), 3, tokenizer=os.path.join(directory, "tokenizer"),
                                  masking=MaskingConfig(mode="token", max_predictions=2),
                                  options=ReaderOptions(repeat=False))
    x, y, weights = next(iter(dataset))
    assert x["token_ids"].shape == (3, 8) and y["mlm"].shape == (3, 2)
    write_manifest(str(tmp_path), RecordsManifest(
        special_token_ids={"pad": 0, "unk": 1, "cls": 2, "sep": 3, "mask": 4}, vocabulary_size=20,
        masking=MaskingConfig(mode="token")))  # Token masking needs no tokenizer.
    assert len(list(pretraining_dataset(str(tmp_path), 3,
                                        options=ReaderOptions(repeat=False)))) == 2


BUCKETS = (8, 16, 24)  # + 32, the records' length


@pytest.fixture(scope="module")
def varied_lengths(tmp_path_factory):
    """(number of records, directory): 400 records of real lengths 5..32 (seq 32)."""
    return 400, write_varied_length_records(tmp_path_factory.mktemp("varied"), count=400,
                                            max_predictions=MAX_PREDICTIONS)


def test_length_buckets_cut_only_padding_and_keep_every_record(varied_lengths):
    count, directory = varied_lengths
    # Batches of one row: nothing is dropped by drop_remainder, and each row is cut alone.
    dataset = pretraining_dataset(directory, 1, options=ReaderOptions(
        shuffle=False, repeat=False, length_buckets=BUCKETS))
    assert dataset.element_spec[0]["token_ids"].shape.as_list() == [1, None]
    widths = collections.Counter()
    for x, _, _ in dataset:
        width, length = x["token_ids"].shape[1], int(x["padding_mask"].numpy().sum())
        assert width == min(b for b in (*BUCKETS, 32) if b >= length), (width, length)
        widths[width] += 1
    assert len(widths) == 4, widths  # The test records fill every bucket.
    assert _unmasked_rows(dataset) == _records(directory)
    assert sum(widths.values()) == count


def test_length_buckets_batch_rows_of_one_bucket_and_keep_every_prediction(varied_lengths):
    _, directory = varied_lengths
    once = ReaderOptions(shuffle=False, repeat=False)
    padded = pretraining_dataset(directory, 1, options=once)
    bucketed = pretraining_dataset(directory, 1,
                                   options=dataclasses.replace(once, length_buckets=BUCKETS))
    # Token masking predicts round(15% of the maskable tokens) of every row, whatever its
    # batch: the totals match only if cutting the prediction slots lost none.
    total = lambda dataset: sum(float(w["mlm"].numpy().sum()) for _, _, w in dataset)  # noqa: E731
    assert total(bucketed) == total(padded) > 0

    batches = pretraining_dataset(directory, 4,
                                  options=ReaderOptions(length_buckets=BUCKETS, seed=3))
    real_share = {"bucketed": [], "padded": []}
    for x, y, weights in batches.take(40):
        width = x["token_ids"].shape[1]
        lengths = x["padding_mask"].numpy().sum(axis=1)
        lower = max([b for b in BUCKETS if b < width], default=0)
        assert np.all((lengths > lower) & (lengths <= width)), (width, lengths)
        slots = min(MAX_PREDICTIONS, int(np.ceil(width * 0.15)))
        assert x["mask_positions"].shape == y["mlm"].shape == weights["mlm"].shape == (4, slots)
        assert np.all(x["mask_positions"].numpy() < lengths[:, None])
        real_share["bucketed"].append(lengths.sum() / x["padding_mask"].numpy().size)
    for x, _, _ in pretraining_dataset(directory, 4, options=ReaderOptions(seed=3)).take(40):
        real_share["padded"].append(x["padding_mask"].numpy().mean())
    # Lengths are uniform in 5..32: padded batches are ~58% real, bucketed ones ~85%.
    assert np.mean(real_share["bucketed"]) > np.mean(real_share["padded"]) + 0.2, real_share


def test_length_buckets_end_at_the_sequence_length():
    assert check_length_buckets((8, 40), 32) == (8, 32)
    assert check_length_buckets([16, 32, 64], 32) == (16, 32)
    assert check_length_buckets((), 32) == ()


@pytest.mark.parametrize("buckets", [(16, 8), (8, 8), (0, 8), (8.5,)])
def test_bad_length_buckets_are_named_with_their_value(prepared, buckets):
    from albert_keras.pipeline import ConfigError, pipeline_from_dict

    _, directory = prepared
    with pytest.raises(ValueError, match=r"`length_buckets` must be increasing integer lengths "
                                         r">= 1. Received: length_buckets="):
        pretraining_dataset(directory, 4, options=ReaderOptions(length_buckets=buckets))
    with pytest.raises(ConfigError, match=r"data\.length_buckets"):
        pipeline_from_dict({"name": "x", "data": {"max_sequence_length": 32,
                                                   "length_buckets": list(buckets)}})


def test_document_ids_come_in_the_order_of_the_unshuffled_batches(prepared, tmp_path):
    """`record_document_ids` names the document of each row of the unshuffled batches (3
    shards, interleaved); records without the feature give None."""
    from albert_keras.pretraining_data.reader.pretraining_dataset import record_document_ids
    from tests.helpers.pipeline_records import write_reference_records

    summary, directory = prepared
    documents = collections.defaultdict(set)  # Original row -> its documents.
    for name in sorted(os.listdir(directory)):
        if name.endswith(".tfrecord"):
            for batch in tf.data.TFRecordDataset(os.path.join(directory, name)).batch(256):
                parsed = parse_examples(batch, 32, with_document_id=True)
                for ids, label, document in zip(parsed["token_ids"].numpy(),
                                                parsed["pair_label"].numpy(),
                                                parsed["document_id"].numpy()):
                    documents[tuple(ids) + (int(label),)].add(int(document))
    batches = list(pretraining_dataset(directory, 8, options=ReaderOptions(
        shuffle=False, repeat=False)).take(20))
    ids = record_document_ids(directory, 8 * len(batches))
    assert ids.dtype == np.int64 and len(ids) == 8 * len(batches) == 160
    ordered = []  # The batches' rows with their masked tokens put back, in order.
    for batch in batches:
        ordered += _batch_rows(*batch)
    assert all(int(document) in documents[row] for row, document in zip(ordered, ids))
    assert len(set(ids.tolist())) > 10 and 0 <= ids.min() and ids.max() < summary["documents"]
    assert len(record_document_ids(directory, 10**9)) == summary["sequences"]

    old = tmp_path / "old"  # Written before the feature: no `document_id` column.
    x, y, _ = batches[0]
    write_shards({"token_ids": x["token_ids"].numpy(), "segment_ids": x["segment_ids"].numpy(),
                  "padding_mask": x["padding_mask"].numpy(), "pair_label": y["pair"].numpy()},
                 str(old), num_shards=1)
    assert record_document_ids(str(old), 8) is None
    write_reference_records(tmp_path / "reference.tfrecord")
    assert record_document_ids(str(tmp_path / "reference.tfrecord"), 12) is None
