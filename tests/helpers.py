"""Shared assertions: config, `.keras` and SavedModel round-trips, tiny inputs."""

from __future__ import annotations

import os

import keras
import numpy as np
import tensorflow as tf


def tiny_inputs(batch_size=2, sequence_length=8, vocabulary_size=50, num_padded=2, seed=0):
    """A dict of encoder inputs; the last `num_padded` positions of row 0 are padding."""
    rng = np.random.default_rng(seed)
    token_ids = rng.integers(5, vocabulary_size, size=(batch_size, sequence_length)).astype("int32")
    segment_ids = np.zeros((batch_size, sequence_length), "int32")
    segment_ids[:, sequence_length // 2:] = 1
    padding_mask = np.ones((batch_size, sequence_length), "int32")
    if num_padded:
        padding_mask[0, -num_padded:] = 0
        token_ids[0, -num_padded:] = 0
        segment_ids[0, -num_padded:] = 0
    return {"token_ids": token_ids, "segment_ids": segment_ids, "padding_mask": padding_mask}


def assert_config_round_trip(obj):
    """`from_config(get_config())` gives an object with the same config."""
    config = obj.get_config()
    clone = obj.__class__.from_config(config)
    assert clone.get_config() == config
    return clone


def assert_outputs_close(actual, expected, atol=1e-6):
    if isinstance(expected, dict):
        assert set(actual) == set(expected)
        for key in expected:
            np.testing.assert_allclose(
                np.asarray(actual[key]), np.asarray(expected[key]), atol=atol, err_msg=key)
    else:
        np.testing.assert_allclose(np.asarray(actual), np.asarray(expected), atol=atol)


def assert_keras_file_round_trip(model, inputs, directory, atol=1e-6):
    """Saves to `.keras`, loads it back, and checks the class and the outputs."""
    path = os.path.join(str(directory), "model.keras")
    model.save(path)
    restored = keras.saving.load_model(path)
    assert type(restored) is type(model)
    assert_outputs_close(restored(inputs), model(inputs), atol=atol)
    return restored


def assert_saved_model_round_trip(model, inputs, directory, atol=1e-6):
    """Exports with `model.export` and checks the reloaded function's outputs."""
    path = os.path.join(str(directory), "saved_model")
    model.export(path, verbose=False)
    reloaded = tf.saved_model.load(path)
    assert_outputs_close(reloaded.serve(inputs), model(inputs), atol=atol)
    return reloaded
