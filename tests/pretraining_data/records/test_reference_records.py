"""Records made by the reference `create_pretraining_data.py` scripts, read as they are.

The records are written here with the reference feature names, dtypes and lengths
(`write_reference_records`): google-research/bert, google-research/albert (`token_boundary`)
and the Model Garden's v2 names.
"""

import os

import numpy as np
import pytest

from albert_keras.pipeline import ConfigError, pipeline_from_dict
from albert_keras.pretraining_data.masking.masking_config import MaskingConfig
from albert_keras.pretraining_data.reader.pretraining_dataset import (ReaderOptions,
                                                                      pretraining_dataset)
from albert_keras.pretraining_data.records.reference_records import (check_vocabulary,
                                                                     largest_token_ids, read_layout,
                                                                     records_format)
from albert_keras.pretraining_data.records.writer import write_shards
from tests.helpers.pipeline_records import write_reference_records


@pytest.mark.parametrize("kind", ["bert", "albert", "model_garden_v2"])
def test_the_format_is_recognised_from_the_first_record(tmp_path, kind):
    path = tmp_path / "reference.tfrecord"
    write_reference_records(path, albert=kind == "albert", v2_names=kind == "model_garden_v2")
    assert records_format([str(path)]) == "reference"
    assert records_format([str(path)], "reference") == "reference"
    layout = read_layout([str(path)])
    assert (layout.max_sequence_length, layout.max_predictions) == (16, 4)
    assert layout.token_boundary == (kind == "albert")
    assert layout.token_feature == ("input_word_ids" if kind == "model_garden_v2" else "input_ids")
    with pytest.raises(ValueError,
                       match=f"{path}.*reference record.*records_format='albert_keras'"):
        records_format([str(path)], "albert_keras")


def test_our_records_are_recognised_and_empty_shards_are_passed_over(tmp_path):
    rows = {"token_ids": np.ones((4, 8), np.int64), "segment_ids": np.zeros((4, 8), np.int64),
            "padding_mask": np.ones((4, 8), np.int64), "pair_label": np.zeros(4, np.int64)}
    write_shards(rows, str(tmp_path), num_shards=1)
    ours = sorted(str(p) for p in tmp_path.glob("*.tfrecord"))
    assert records_format(ours) == "albert_keras"
    with pytest.raises(ValueError, match="albert_keras record.*records_format='reference'"):
        records_format(ours, "reference")
    empty = tmp_path / "empty" / "a-empty.tfrecord"
    empty.parent.mkdir()
    empty.write_bytes(b"")
    write_reference_records(tmp_path / "empty" / "b.tfrecord")
    assert records_format([str(empty), str(tmp_path / "empty" / "b.tfrecord")]) == "reference"


@pytest.mark.parametrize("albert, v2_names, length, predictions, seed", [
    (True, False, 16, 4, 0), (False, False, 24, 6, 1), (False, True, 12, 3, 2),
    (True, False, 9, 2, 3)])
def test_the_reader_yields_the_records_contents(tmp_path, albert, v2_names, length,
                                                predictions, seed):
    rows = write_reference_records(tmp_path / "r.tfrecord", num_records=10,
                                   max_sequence_length=length, max_predictions=predictions,
                                   albert=albert, v2_names=v2_names, seed=seed,
                                   masked_lm_prob=0.3)
    dataset = pretraining_dataset(str(tmp_path / "*.tfrecord"), 5,
                                  masking=MaskingConfig(max_predictions=predictions),
                                  options=ReaderOptions(shuffle=False, repeat=False))
    batches = list(dataset.as_numpy_iterator())
    assert len(batches) == 2

    def stacked(part, name):
        return np.concatenate([batch[part][name] for batch in batches])

    expected = {  # Our name -> the reference feature it is read from.
        (0, "token_ids"): "input_ids", (0, "segment_ids"): "segment_ids",
        (0, "padding_mask"): "input_mask", (0, "mask_positions"): "masked_lm_positions",
        (1, "mlm"): "masked_lm_ids", (2, "mlm"): "masked_lm_weights"}
    for (part, name), theirs in expected.items():
        np.testing.assert_array_equal(stacked(part, name), rows[theirs], err_msg=name)
    # The pair label means the same in both (1 = random next for NSP, 1 = swapped for SOP).
    np.testing.assert_array_equal(stacked(1, "pair"), rows["next_sentence_labels"][:, 0])
    assert batches[0][0]["token_ids"].dtype == np.int32
    assert batches[0][2]["mlm"].dtype == np.float32


def test_length_buckets_cut_reference_batches_without_losing_predictions(tmp_path):
    rows = write_reference_records(tmp_path / "r.tfrecord", num_records=40,
                                   max_sequence_length=24, max_predictions=3, seed=4)
    dataset = pretraining_dataset(str(tmp_path / "*.tfrecord"), 4, options=ReaderOptions(
        shuffle=False, repeat=False, length_buckets=(12, 24)))
    seen = 0
    for x, y, w in dataset.as_numpy_iterator():
        length, slots = x["token_ids"].shape[1], w["mlm"].shape[1]
        for tokens, ids, weights in zip(x["token_ids"], y["mlm"], w["mlm"]):
            (row,) = np.flatnonzero((rows["input_ids"][:, :length] == tokens).all(axis=1)
                                    & (rows["input_mask"].sum(axis=1) <= length))
            assert rows["masked_lm_weights"][row, slots:].sum() == 0  # Nothing cut off.
            np.testing.assert_array_equal(ids, rows["masked_lm_ids"][row, :slots])
            np.testing.assert_array_equal(weights, rows["masked_lm_weights"][row, :slots])
            seen += 1
    assert seen >= 32  # Full batches of 4 per bucket.


def test_other_lengths_or_dynamic_masking_are_one_line_errors(tmp_path):
    path = tmp_path / "r.tfrecord"
    write_reference_records(path, max_predictions=4)
    with pytest.raises(ValueError,
                       match=f"{path}.*max_predictions=7 but the records have 4") as error:
        pretraining_dataset(str(path), 2, masking=MaskingConfig(max_predictions=7))
    assert "\n" not in str(error.value)
    with pytest.raises(ValueError, match="static_masking=True.*Received: static_masking=False"):
        pretraining_dataset(str(path), 2, static_masking=False)


def test_the_largest_ids_are_found_and_a_small_vocabulary_is_named(tmp_path):
    files = []
    for i, vocabulary_size in enumerate((20, 35)):
        files.append(str(tmp_path / f"r-{i}.tfrecord"))
        rows = write_reference_records(files[-1], vocabulary_size=vocabulary_size, seed=i)
    largest = largest_token_ids(files, read_layout(files))
    assert largest[files[1]] == max(rows["input_ids"].max(), rows["masked_lm_ids"].max())
    assert largest[files[0]] < 20
    check_vocabulary(largest, 35, "vocab.txt")
    with pytest.raises(ValueError, match=f"{files[1]}.*token id {largest[files[1]]}.*"
                                         "vocab.txt.*vocabulary_size=30") as error:
        check_vocabulary(largest, 30, "vocab.txt")
    assert "\n" not in str(error.value)


def test_a_corrupt_or_other_length_shard_is_named(tmp_path):
    good, bad = str(tmp_path / "r-0.tfrecord"), str(tmp_path / "r-1.tfrecord")
    write_reference_records(good)
    write_reference_records(bad, num_records=30)
    data = open(bad, "rb").read()
    middle = len(data) // 2  # Flipped bytes fail a checksum (a shard cut at its end reads as
    with open(bad, "wb") as f:  # shorter: without a manifest, no count tells).
        f.write(data[:middle] + bytes(b ^ 0xFF for b in data[middle:middle + 16])
                + data[middle + 16:])
    layout = read_layout([good, bad])
    with pytest.raises(ValueError, match=f"Corrupt TFRecord shard {bad!r}"):
        largest_token_ids([good, bad], layout)
    with pytest.raises(ValueError, match=f"Corrupt TFRecord shard {bad!r}"):
        pretraining_dataset(str(tmp_path / "*.tfrecord"), 2)
    os.remove(bad)
    write_reference_records(bad, max_sequence_length=20)  # Another set's length.
    with pytest.raises(ValueError,
                       match=f"{bad!r}, or one with other lengths.*max_sequence_length=16"):
        largest_token_ids([good, bad], layout)


def test_records_format_is_a_checked_config_key():
    assert pipeline_from_dict({"name": "x"}).data.records_format == "auto"
    config = pipeline_from_dict({"name": "x", "data": {"records_format": "reference"}})
    assert config.data.records_format == "reference"
    with pytest.raises(ConfigError, match=r"`data.records_format` must be one of \['auto', "
                                          r"'albert_keras', 'reference'\]\. Received: "
                                          r"data.records_format='tf1'") as error:
        pipeline_from_dict({"name": "x", "data": {"records_format": "tf1"}})
    assert "\n" not in str(error.value)
