import pytest

from albert_keras import Encoder
from albert_keras.models.token_classifier import TokenClassifier
from tests.helpers import assert_config_round_trip, assert_keras_file_round_trip, tiny_inputs

TINY = dict(vocabulary_size=80, num_layers=2, num_heads=2, hidden_dim=8, intermediate_dim=16,
            max_sequence_length=16, dropout=0.0)
TAGS = ("ADJ", "X")


def _tagger(**kwargs):
    return TokenClassifier(Encoder(**TINY), labels=TAGS, **kwargs)


def test_logits_shape():
    logits = _tagger()(tiny_inputs())
    assert tuple(logits.shape) == (2, 8, 2) and logits.dtype == "float32"


def test_labels_and_config_survive_keras_file(tmp_path):
    tagger = _tagger(dropout=0.0)
    assert_config_round_trip(tagger)
    restored = assert_keras_file_round_trip(tagger, tiny_inputs(), tmp_path)
    assert restored.labels == TAGS


def test_bad_arguments_name_the_argument():
    with pytest.raises(ValueError, match="num_classes"):
        TokenClassifier(Encoder(**TINY))
