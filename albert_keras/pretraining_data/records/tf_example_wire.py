"""`tf.train.Example` protos for many rows at once, encoded with numpy (no per-row Python).

`features.serialize_example` builds one protobuf message per row: ~0.2 ms a pretraining row,
most of `prepare`'s writing time. The records here hold int64 and float lists of fixed width
per feature, so the protobuf wire format of a whole batch can be laid out with array
operations: each row is a sequence of pieces (tags, the varint lengths, the feature names,
the packed values), every piece a ragged column over the rows, interleaved into one buffer.

The bytes are what protobuf's own serializer writes for the same message with the features in
the given order (packed repeated fields, proto3); `tests/pretraining_data/records/
test_features.py` checks that both parse to equal `Example` messages and that TensorFlow's
parser reads them.

Layout (field numbers from tensorflow/core/example/{example,feature}.proto):
    Example  = 0x0A len Features
    Features = (0x0A len Entry)*                  map<string, Feature> feature = 1
    Entry    = 0x0A len name  0x12 len Feature    key = 1, value = 2
    Feature  = 0x1A len Int64List | 0x12 len FloatList
    *List    = 0x0A len packed values             repeated value = 1 [packed]
"""

from __future__ import annotations

from typing import Mapping, NamedTuple

import numpy as np

_INT64_LIST, _FLOAT_LIST = 0x1A, 0x12  # Feature: (3 << 3) | 2 and (2 << 3) | 2.
_LENGTH_DELIMITED_1 = 0x0A  # Field 1, wire type 2.
_ENTRY_VALUE = 0x12  # Map entry value: field 2, wire type 2.


def encode_examples(columns: Mapping[str, np.ndarray],
                    float_features: frozenset[str] | set[str]) -> tuple[bytes, np.ndarray]:
    """Serialized `Example`s of every row: (one buffer, offsets `(rows + 1,)` into it).

    The features are written in sorted name order, as `SerializeToString(deterministic=True)`
    does, so the bytes equal protobuf's for the same message.

    Args:
        columns: name -> array `(rows,)` or `(rows, width)`; ints become int64 lists, the
            names in `float_features` float lists (float32).
        float_features: names written as float lists.
    """
    names = sorted(columns)
    num_rows = len(columns[names[0]]) if names else 0
    pieces: list[_Piece] = []  # In row order: row r = piece 0 of row r, piece 1, ...
    features_length = np.zeros(num_rows, np.int64)
    for name in names:
        values = np.asarray(columns[name]).reshape(num_rows, -1)  # (rows, width)
        if name in float_features:
            data = np.ascontiguousarray(values.astype("<f4")).view(np.uint8)  # (rows, 4 width)
            payload = _Piece(data, None, np.full(num_rows, data.shape[1], np.int64))
            list_tag = _FLOAT_LIST
        else:
            payload = _varints(values if values.dtype.kind in "iu" else values.astype(np.int64))
            list_tag = _INT64_LIST
        inner = []  # An empty list has no field inside (what protobuf writes).
        if values.shape[1]:
            inner = [_constant(bytes([_LENGTH_DELIMITED_1]), num_rows),
                     _varints(payload.lengths[:, None]), payload]
        head = [_constant(bytes([list_tag]), num_rows), _varints(_total(inner, num_rows)[:, None])]
        key = name.encode("utf-8")
        key_piece = _constant(bytes([_LENGTH_DELIMITED_1]) + _varint_bytes(len(key)) + key +
                              bytes([_ENTRY_VALUE]), num_rows)
        entry = [key_piece, _varints(_total(head + inner, num_rows)[:, None]), *head, *inner]
        entry[:0] = [_constant(bytes([_LENGTH_DELIMITED_1]), num_rows),
                     _varints(_total(entry, num_rows)[:, None])]
        features_length += _total(entry, num_rows)
        pieces.extend(entry)
    pieces[:0] = [_constant(bytes([_LENGTH_DELIMITED_1]), num_rows),
                  _varints(features_length[:, None])]
    return _concatenate_rows(pieces, num_rows)


class _Piece(NamedTuple):
    """A part of every row: bytes `(rows, width)`, which of them count (None: all), lengths."""

    data: np.ndarray
    valid: np.ndarray | None
    lengths: np.ndarray


def _total(pieces: list[_Piece], num_rows: int) -> np.ndarray:
    return sum((piece.lengths for piece in pieces), np.zeros(num_rows, np.int64))


def _concatenate_rows(pieces: list[_Piece], num_rows: int) -> tuple[bytes, np.ndarray]:
    """Row r of the output is piece 0's bytes of row r, then piece 1's, ...: (buffer, offsets).

    All pieces side by side in one `(rows, width)` block; the valid bytes, read row by row,
    are the records one after the other.
    """
    offsets = np.zeros(num_rows + 1, np.int64)
    np.cumsum(_total(pieces, num_rows), out=offsets[1:])
    block = np.concatenate([piece.data for piece in pieces], axis=1)
    if all(piece.valid is None for piece in pieces):
        return block.tobytes(), offsets
    valid = np.concatenate([np.ones(piece.data.shape, bool) if piece.valid is None
                            else piece.valid for piece in pieces], axis=1)
    return block[valid].tobytes(), offsets


def _constant(value: bytes, num_rows: int) -> _Piece:
    data = np.broadcast_to(np.frombuffer(value, np.uint8), (num_rows, len(value)))
    return _Piece(data, None, np.full(num_rows, len(value), np.int64))


def _varints(values: np.ndarray) -> _Piece:
    """Each row's values as consecutive varints (integers `(rows, width)`).

    Values below 128 take one byte each; longer ones leave unused bytes, marked not valid.
    """
    if values.dtype.kind == "i" and values.size and values.min() < 0:
        values = values.astype(np.int64).view(np.uint64)  # Two's complement: 10 bytes.
    top = int(values.max()) if values.size else 0
    if top < 0x80:
        return _Piece(values.astype(np.uint8), None,
                      np.full(len(values), values.shape[1], np.int64))
    values = values.astype(np.uint32) if top <= 0xFFFFFFFF else values
    most = (top.bit_length() + 6) // 7  # Bytes of the largest value (7 bits a byte).
    groups = np.empty(values.shape + (most,), np.uint8)  # (rows, width, most)
    num_bytes = np.ones(values.shape, np.uint8)
    for k in range(most):
        group = (values >> (7 * k)) & 0x7F
        if k + 1 < most:
            more = values >= (1 << (7 * (k + 1)))  # Another byte follows.
            num_bytes += more
            group |= more.astype(group.dtype) << 7
        groups[..., k] = group
    valid = np.arange(most) < num_bytes[..., None]  # (rows, width, most)
    return _Piece(groups.reshape(len(values), -1), valid.reshape(len(values), -1),
                  num_bytes.sum(axis=1, dtype=np.int64))


def _varint_bytes(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)
