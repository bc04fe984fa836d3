"""The shared assertions: config, `.keras` and SavedModel round-trips, outputs close."""

from __future__ import annotations

import os

import keras
import numpy as np
import tensorflow as tf


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
