import numpy as np
import pytest

from albert_keras import Encoder
from albert_keras.models.span_extractor import SpanExtractor, best_spans
from tests.helpers import assert_config_round_trip, assert_keras_file_round_trip, tiny_inputs

TINY = dict(vocabulary_size=50, num_layers=2, num_heads=2, hidden_dim=8, intermediate_dim=16,
            max_sequence_length=16, dropout=0.0)


def test_outputs_and_padding_logits():
    reader = SpanExtractor(Encoder(**TINY))
    inputs = tiny_inputs()
    outputs = reader(inputs)
    assert set(outputs) == {"start_logits", "end_logits"}
    for logits in outputs.values():
        assert tuple(logits.shape) == (2, 8) and logits.dtype == "float32"
        assert np.all(np.asarray(logits)[0, -2:] < -1e8)  # Row 0 ends with 2 padding positions.
        assert np.all(np.abs(np.asarray(logits)[1]) < 1e3)


def test_config_and_keras_file_round_trip(tmp_path):
    reader = SpanExtractor(Encoder(**TINY), max_answer_length=5)
    assert assert_config_round_trip(reader).max_answer_length == 5
    assert_keras_file_round_trip(reader, tiny_inputs(), tmp_path)


def _brute_force(start, end, valid, max_answer_length):
    best, where = -np.inf, None
    for i in range(len(start)):
        for j in range(i, min(len(start), i + max_answer_length)):
            if valid[i] and valid[j] and start[i] + end[j] > best:
                best, where = start[i] + end[j], (i, j)
    return where, best


@pytest.mark.parametrize("max_answer_length", [1, 3, 30])
def test_best_spans_is_the_best_legal_span(max_answer_length):
    rng = np.random.default_rng(max_answer_length)
    start, end = rng.normal(size=(6, 12)), rng.normal(size=(6, 12))
    valid = rng.random((6, 12)) < 0.7
    valid[:, 5] = True
    s, e, score = (np.asarray(t) for t in best_spans(start, end, valid, max_answer_length))
    for row in range(6):
        (i, j), best = _brute_force(start[row], end[row], valid[row], max_answer_length)
        assert (s[row], e[row]) == (i, j)
        np.testing.assert_allclose(score[row], best, rtol=1e-5)
        assert 0 <= e[row] - s[row] < max_answer_length


def test_best_spans_never_picks_end_before_start():
    start = np.array([[0.0, 0.0, 9.0, 0.0]])
    end = np.array([[9.0, 0.0, 0.0, 1.0]])  # The best end alone (0) lies before the best start.
    s, e, _ = best_spans(start, end, max_answer_length=4)
    assert (int(s[0]), int(e[0])) == (2, 3)


def test_decode_uses_max_answer_length():
    reader = SpanExtractor(Encoder(**TINY), max_answer_length=2)
    outputs = reader(tiny_inputs())
    start, end, _ = reader.decode(outputs, valid_mask=tiny_inputs()["segment_ids"])
    assert np.all(np.asarray(end) - np.asarray(start) < 2)
    assert np.all(np.asarray(start) >= 4)  # Context = segment 1 = positions 4..7.


def test_bad_max_answer_length():
    with pytest.raises(ValueError, match="max_answer_length"):
        SpanExtractor(Encoder(**TINY), max_answer_length=0)
