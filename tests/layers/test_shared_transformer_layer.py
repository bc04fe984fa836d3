import math

import keras
import numpy as np
import pytest

from albert_keras import FeedForward, SharedTransformerLayer
from tests.helpers import assert_config_round_trip


def _block(**kwargs):
    args = dict(hidden_dim=16, num_heads=2, intermediate_dim=32)
    return SharedTransformerLayer(**{**args, **kwargs})


def test_output_shape_and_sublayer_names():
    block = _block()
    x = keras.random.normal((2, 8, 16), seed=1)
    y = block(x, padding_mask=np.ones((2, 8), "int32"))
    assert tuple(y.shape) == (2, 8, 16)
    names = {w.path.split("/")[1] for w in block.weights}
    assert names == {"self_attention", "attention_layer_norm", "feedforward", "output_layer_norm"}


def test_padding_mask_hides_padded_keys():
    block = _block()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1, 6, 16)).astype("float32")
    mask = np.array([[1, 1, 1, 1, 0, 0]], "int32")
    changed = x.copy()
    changed[:, 4:] = rng.normal(size=(1, 2, 16))
    np.testing.assert_allclose(block(x, padding_mask=mask)[:, :4],
                               block(changed, padding_mask=mask)[:, :4], atol=1e-6)
    # Without the mask the padded positions do leak in.
    assert not np.allclose(block(x)[:, :4], block(changed)[:, :4], atol=1e-4)


def test_given_sublayers_are_shared_variables():
    attention = keras.layers.MultiHeadAttention(num_heads=2, key_dim=8, name="shared")
    feedforward = FeedForward(16, 32)
    first = _block(self_attention=attention)
    second = _block(self_attention=attention, feedforward=feedforward)
    third = _block(feedforward=feedforward)
    x = keras.random.normal((1, 4, 16), seed=2)
    for block in (first, second, third):
        block(x)
    assert first.self_attention is second.self_attention
    assert first.self_attention.weights[0] is second.self_attention.weights[0]
    assert second.feedforward.weights[0] is third.feedforward.weights[0]
    assert first.feedforward is not third.feedforward


def test_activation_is_the_requested_gelu():
    x = np.linspace(-3, 3, 7).astype("float32")
    exact = _block(activation="gelu")
    approximate = _block(activation="gelu_approximate")
    exact.build((1, 7, 16))
    approximate.build((1, 7, 16))
    act_exact = exact.feedforward.intermediate_dense.activation
    act_approx = approximate.feedforward.intermediate_dense.activation
    erf = np.vectorize(math.erf)
    np.testing.assert_allclose(act_exact(x), 0.5 * x * (1 + erf(x / np.sqrt(2))), atol=1e-6)
    tanh_form = 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)))
    np.testing.assert_allclose(act_approx(x), tanh_form, atol=1e-6)


@pytest.mark.parametrize("kwargs,message", [
    (dict(hidden_dim=10, num_heads=3), "Received: hidden_dim=10, num_heads=3"),
    (dict(intermediate_dim=0), "intermediate_dim=0"),
    (dict(activation="swish"), "activation='swish'"),
    (dict(dropout=-0.1), "dropout=-0.1"),
    (dict(self_attention="attention"), "self_attention='attention'"),
])
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError) as error:
        _block(**kwargs)
    assert message in str(error.value)


def test_config_round_trip():
    clone = assert_config_round_trip(_block(dropout=0.1, activation="gelu"))
    assert clone.activation == "gelu" and clone.dropout == 0.1
