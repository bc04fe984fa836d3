import keras
import numpy as np
import pytest

from albert_keras import Encoder
from albert_keras.models.text_classifier import TextClassifier
from tests.helpers import (assert_config_round_trip, assert_keras_file_round_trip,
                           assert_outputs_close, tiny_inputs)

TINY = dict(vocabulary_size=50, num_layers=2, num_heads=2, hidden_dim=8, intermediate_dim=16,
            max_sequence_length=16, dropout=0.0)


def _encoder(**kwargs):
    return Encoder(**{**TINY, **kwargs})


@pytest.mark.parametrize("encoder_args", [{}, {"embedding_dim": 4, "share": "all"}])
def test_logits_shape_and_dtype(encoder_args):
    classifier = TextClassifier(_encoder(**encoder_args), num_classes=3)
    logits = classifier(tiny_inputs())
    assert tuple(logits.shape) == (2, 3)
    assert logits.dtype == "float32"


def test_labels_give_num_classes_and_survive_keras_file(tmp_path):
    classifier = TextClassifier(_encoder(), labels=["neg", "neutral", "pos"], dropout=0.0)
    assert classifier.num_classes == 3
    restored = assert_keras_file_round_trip(classifier, tiny_inputs(), tmp_path)
    assert restored.labels == ("neg", "neutral", "pos")
    assert restored.multi_label is False


def test_config_round_trip_keeps_multi_label_dropout_and_pooling():
    classifier = TextClassifier(_encoder(), num_classes=4, multi_label=True, dropout=0.2,
                                pooling="mean")
    clone = assert_config_round_trip(classifier)
    assert clone.multi_label and clone.dropout == 0.2 and clone.pooling == "mean"
    assert clone.encoder.get_config() == classifier.encoder.get_config()


@pytest.mark.parametrize("pooling", ["cls", "mean"])
def test_padding_does_not_change_logits(pooling):
    classifier = TextClassifier(_encoder(), num_classes=2, pooling=pooling)
    inputs = tiny_inputs(batch_size=1, num_padded=0)
    longer = {k: np.concatenate([v, np.zeros((1, 4), "int32")], axis=1) for k, v in inputs.items()}
    assert_outputs_close(classifier(longer), classifier(inputs), atol=1e-5)


def test_mean_pooling_is_the_masked_mean_of_the_sequence():
    encoder = _encoder()
    classifier = TextClassifier(encoder, num_classes=2, pooling="mean", dropout=0.0)
    inputs = tiny_inputs()  # Row 0 has 2 padding positions.
    sequence = np.asarray(encoder(inputs)["sequence_output"])
    mask = inputs["padding_mask"][:, :, None]
    mean = (sequence * mask).sum(1) / mask.sum(1)
    head = classifier.get_layer("logits")
    expected = mean @ np.asarray(head.kernel) + np.asarray(head.bias)
    assert_outputs_close(classifier(inputs), expected, atol=1e-5)


def test_from_pretrained_keras_encoder_keeps_its_weights(tmp_path):
    encoder = _encoder()
    path = str(tmp_path / "encoder.keras")
    encoder.save(path)
    classifier = TextClassifier.from_pretrained(path, num_classes=5)
    assert tuple(classifier(tiny_inputs()).shape) == (2, 5)
    assert_outputs_close(classifier.encoder(tiny_inputs()), encoder(tiny_inputs()))


def test_from_pretrained_takes_the_encoder_of_a_task_file(tmp_path):
    first = TextClassifier(_encoder(), num_classes=2)
    path = str(tmp_path / "classifier.keras")
    first.save(path)
    second = TextClassifier.from_pretrained(path, num_classes=3)
    assert_outputs_close(second.encoder(tiny_inputs()), first.encoder(tiny_inputs()))


@pytest.mark.parametrize("kwargs,message", [
    ({"num_classes": 0}, "num_classes"),
    ({"num_classes": 3, "labels": ["a", "b"]}, "num_classes"),
    ({"labels": ["a", "a"]}, "labels"),
    ({"num_classes": 2, "dropout": 1.0}, "dropout"),
    ({"num_classes": 2, "pooling": "max"}, "pooling"),
])
def test_bad_arguments_name_the_argument(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TextClassifier(_encoder(), **kwargs)


def test_fits_a_separable_batch():
    keras.utils.set_random_seed(0)
    classifier = TextClassifier(_encoder(), num_classes=2, dropout=0.0)
    classifier.compile(keras.optimizers.Adam(1e-2),
                       keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x = tiny_inputs(batch_size=4, num_padded=0)
    x["token_ids"][:, 0] = [5, 6, 5, 6]
    y = np.array([0, 1, 0, 1])
    history = classifier.fit(x, y, epochs=30, verbose=0)
    assert history.history["loss"][-1] < 0.1 * history.history["loss"][0]
