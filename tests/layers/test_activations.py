import numpy as np
import pytest
import tensorflow as tf

from albert_keras.layers.activations import gelu, gelu_approximate, get_activation


def test_exact_gelu_equals_tensorflows_and_is_built_from_erf():
    x = tf.constant(np.linspace(-8.0, 8.0, 401), tf.float32)
    np.testing.assert_allclose(gelu(x), tf.nn.gelu(x, approximate=False), atol=1e-6)
    graph = tf.function(gelu).get_concrete_function(tf.TensorSpec([None], tf.float32)).graph
    ops = {op.type for op in graph.get_operations()}
    assert "Erf" in ops and "Erfc" not in ops  # ONNX has Erf, not Erfc.


def test_approximate_gelu_is_the_tanh_form():
    x = tf.constant(np.linspace(-8.0, 8.0, 401), tf.float32)
    tanh_form = 0.5 * x * (1 + tf.tanh(0.7978845608028654 * (x + 0.044715 * x ** 3)))
    np.testing.assert_allclose(gelu_approximate(x), tanh_form, atol=1e-6)
    assert np.abs(np.asarray(gelu_approximate(x) - gelu(x))).max() > 1e-4  # Two different forms.


def test_unknown_activation_is_named():
    with pytest.raises(ValueError, match="activation='relu'"):
        get_activation("relu")
