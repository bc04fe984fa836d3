import numpy as np
import pytest
from tensorflow.core.example import example_pb2

from albert_keras.pretraining_data.records import features


def _columns(num_rows=64, seq=16, max_predictions=5, seed=0):
    rng = np.random.default_rng(seed)
    return {
        "token_ids": rng.integers(0, 30000, (num_rows, seq)).astype(np.int32),
        "segment_ids": rng.integers(0, 2, (num_rows, seq)).astype(np.int32),
        "padding_mask": rng.integers(0, 2, (num_rows, seq)).astype(np.int32),
        "pair_label": rng.integers(0, 2, num_rows).astype(np.int32),
        "mask_positions": rng.integers(0, seq, (num_rows, max_predictions)),
        "mask_ids": rng.integers(0, 2**40, (num_rows, max_predictions)),
        "mask_weights": rng.random((num_rows, max_predictions)).astype(np.float32),
    }


def test_batch_serialization_writes_protobufs_own_bytes():
    columns = _columns()
    columns["mask_ids"][0, :3] = [-1, -2**63, 2**63 - 1]  # Negative ints: 10-byte varints.
    records = features.serialize_examples(columns)
    assert len(records) == 64
    for row, record in enumerate(records):
        one = features.serialize_example({name: value[row] for name, value in columns.items()})
        expected = example_pb2.Example.FromString(one)
        assert example_pb2.Example.FromString(record) == expected
        assert record == expected.SerializeToString(deterministic=True)


def test_batch_records_parse_in_tensorflow():
    columns = _columns(num_rows=9, seq=12, max_predictions=4, seed=1)
    columns["mask_ids"] %= 30000  # int32 after parsing.
    parsed = features.parse_examples(features.serialize_examples(columns), 12, 4)
    for name, value in columns.items():
        expected = value.astype(np.float32) if name == "mask_weights" else value
        np.testing.assert_array_equal(parsed[name].numpy(), expected.astype(parsed[name].dtype.as_numpy_dtype))


@pytest.mark.parametrize("width", [0, 1, 300])
def test_any_width_and_small_values(width):
    columns = {"token_ids": np.arange(3 * width).reshape(3, width) % 200, "pair_label": np.array([0, 1, 127])}
    for row, record in enumerate(features.serialize_examples(columns)):
        one = features.serialize_example({name: value[row] for name, value in columns.items()})
        assert example_pb2.Example.FromString(record) == example_pb2.Example.FromString(one)


def test_document_id_is_read_when_asked_and_optional():
    """Records with `document_id` give it back; records without it (older ones, or made
    elsewhere) parse as before, and with `NO_DOCUMENT` when it is asked for."""
    columns = _columns(num_rows=6, seq=8, max_predictions=2, seed=2)
    del columns["mask_positions"], columns["mask_ids"], columns["mask_weights"]
    with_ids = features.serialize_examples({**columns, "document_id": np.array([0, 0, 3, 3, 3, 9])})
    without = features.serialize_examples(columns)
    parsed = features.parse_examples(with_ids, 8, with_document_id=True)
    np.testing.assert_array_equal(parsed["document_id"].numpy(), [0, 0, 3, 3, 3, 9])
    assert "document_id" not in features.parse_examples(with_ids, 8)  # The reader's default.
    old = features.parse_examples(without, 8, with_document_id=True)
    np.testing.assert_array_equal(old["document_id"].numpy(), [features.NO_DOCUMENT] * 6)
    np.testing.assert_array_equal(old["token_ids"].numpy(), parsed["token_ids"].numpy())
