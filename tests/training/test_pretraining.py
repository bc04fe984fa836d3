"""The reusable pretraining pieces: the most-frequent-token baseline (compile and distribute are
exercised by tests/models/test_pretrainer.py and tests/training/test_distributed.py)."""

import numpy as np
import pytest

from albert_keras.training.pretraining import most_frequent_token_accuracy


def test_most_frequent_token_accuracy_counts_weighted_targets():
    import tensorflow as tf

    y = {"mlm": np.array([[7, 7, 3], [3, 7, 9]], "int32"), "pair": np.zeros(2, "int32")}
    w = {"mlm": np.array([[1, 1, 0], [1, 1, 0]], "float32")}
    dataset = tf.data.Dataset.from_tensors(({"token_ids": np.zeros((2, 4), "int32")}, y, w))
    assert most_frequent_token_accuracy(dataset) == pytest.approx(3 / 4)
