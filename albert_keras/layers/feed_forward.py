"""`FeedForward`: the two-layer position-wise network of a transformer block."""

import keras

from albert_keras.layers.activations import get_activation
from albert_keras.layers.initializers import truncated_normal


@keras.saving.register_keras_serializable(package="albert_keras")
class FeedForward(keras.layers.Layer):
    """Dense to `intermediate_dim` with an activation, then dense back to `hidden_dim`.

    A layer of its own so that several `SharedTransformerLayer`s can hold the same instance
    (ALBERT's shared-FFN ablation).

    Args:
        hidden_dim: int. Input and output width.
        intermediate_dim: int. Inner width.
        activation: str. `"gelu_approximate"` or `"gelu"`. Defaults to `"gelu_approximate"`.
        kernel_initializer: initializer for both kernels. Defaults to truncated normal (0.02).

    Example:
    ```python
    ffn = FeedForward(hidden_dim=16, intermediate_dim=64)
    y = ffn(keras.random.normal((2, 8, 16)))
    assert y.shape == (2, 8, 16)
    ```
    """

    def __init__(self, hidden_dim, intermediate_dim, activation="gelu_approximate",
                 kernel_initializer=None, **kwargs):
        super().__init__(**kwargs)
        self.hidden_dim = hidden_dim
        self.intermediate_dim = intermediate_dim
        self.activation = activation
        self.kernel_initializer = keras.initializers.get(
            kernel_initializer or truncated_normal())
        self.intermediate_dense = keras.layers.Dense(
            intermediate_dim, activation=get_activation(activation),
            kernel_initializer=self.kernel_initializer, dtype=self.dtype_policy,
            name="intermediate_dense")
        self.output_dense = keras.layers.Dense(
            hidden_dim, kernel_initializer=self.kernel_initializer, dtype=self.dtype_policy,
            name="output_dense")

    def build(self, input_shape):
        self.intermediate_dense.build(input_shape)
        self.output_dense.build((*input_shape[:-1], self.intermediate_dim))
        self.built = True

    def call(self, x):
        return self.output_dense(self.intermediate_dense(x))  # (batch, seq, hidden)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.hidden_dim)

    def get_config(self):
        return {**super().get_config(), "hidden_dim": self.hidden_dim,
                "intermediate_dim": self.intermediate_dim, "activation": self.activation,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer)}
