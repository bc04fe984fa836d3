import keras
import numpy as np

from albert_keras import Encoder, SharedTransformerLayer
from albert_keras.layers import Float32SoftmaxAttention


def _inputs():
    rng = np.random.default_rng(0)
    x = (3 * rng.normal(size=(2, 128, 16))).astype("float32")  # (batch, seq, hidden)
    mask = np.ones((2, 1, 128), bool)
    mask[1, :, 100:] = False  # the second row has 28 padded keys
    return x, mask


def _pair(policy):
    """Keras' layer and ours under `policy`, with the same weights."""
    # Seeded weights: the bf16 tolerance below holds for these, whatever ran before.
    init = dict(kernel_initializer=keras.initializers.GlorotUniform(seed=0))
    keras_layer = keras.layers.MultiHeadAttention(num_heads=2, key_dim=8, dtype=policy, **init)
    ours = Float32SoftmaxAttention(num_heads=2, key_dim=8, dtype=policy, **init)
    x, _ = _inputs()
    keras_layer(x, x)
    ours(x, x)
    ours.set_weights(keras_layer.get_weights())
    return keras_layer, ours


def test_bfloat16_probabilities_are_float32_and_rows_sum_to_one():
    x, mask = _inputs()
    keras_layer, ours = _pair("mixed_bfloat16")
    output, probabilities = ours(x, x, attention_mask=mask, return_attention_scores=True)
    assert output.dtype == "bfloat16"
    assert probabilities.dtype == "float32"
    sums = keras.ops.convert_to_numpy(keras.ops.sum(probabilities, axis=-1))
    np.testing.assert_allclose(sums, 1.0, atol=1e-6)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(probabilities)[1, :, :, 100:], 0.0)
    # Keras' own layer takes this softmax in bfloat16: its rows miss 1 by the bf16 rounding.
    _, keras_probabilities = keras_layer(x, x, attention_mask=mask, return_attention_scores=True)
    keras_sums = keras.ops.convert_to_numpy(
        keras.ops.sum(keras.ops.cast(keras_probabilities, "float32"), axis=-1))
    assert np.abs(keras_sums - 1.0).max() > 1e-3


def test_bfloat16_output_is_close_to_float32():
    x, mask = _inputs()
    reference, _ = _pair("float32")
    _, ours = _pair("mixed_bfloat16")
    ours.set_weights(reference.get_weights())
    expected = keras.ops.convert_to_numpy(reference(x, x, attention_mask=mask))
    got = keras.ops.convert_to_numpy(keras.ops.cast(ours(x, x, attention_mask=mask), "float32"))
    np.testing.assert_allclose(got, expected, atol=0.05 * np.abs(expected).max())


def test_float32_is_keras_layer_exactly_with_dropout():
    x, mask = _inputs()
    keras_layer = keras.layers.MultiHeadAttention(num_heads=2, key_dim=8, dropout=0.1, seed=3)
    ours = Float32SoftmaxAttention(num_heads=2, key_dim=8, dropout=0.1, seed=3)
    keras_layer(x, x)
    ours(x, x)
    ours.set_weights(keras_layer.get_weights())
    for training in (False, True):
        np.testing.assert_array_equal(
            keras.ops.convert_to_numpy(ours(x, x, attention_mask=mask, training=training)),
            keras.ops.convert_to_numpy(keras_layer(x, x, attention_mask=mask, training=training)))


def test_blocks_and_encoders_use_it_under_every_sharing_mode():
    block = SharedTransformerLayer(hidden_dim=16, num_heads=2, intermediate_dim=32)
    block(keras.random.normal((1, 4, 16), seed=1))
    assert isinstance(block.self_attention, Float32SoftmaxAttention)
    for share in ("none", "all", "attention", "ffn"):
        encoder = Encoder(vocabulary_size=30, num_layers=2, num_heads=2, hidden_dim=16,
                          intermediate_dim=32, max_sequence_length=16, share=share)
        blocks = [layer for layer in encoder.layers if isinstance(layer, SharedTransformerLayer)]
        assert blocks, share
        assert all(isinstance(b.self_attention, Float32SoftmaxAttention) for b in blocks), share
