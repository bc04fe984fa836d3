"""`SharedTransformerLayer`: the post-LayerNorm transformer block of BERT and ALBERT."""

import keras

from albert_keras.layers.activations import get_activation
from albert_keras.layers.feed_forward import FeedForward
from albert_keras.layers.float32_softmax_attention import Float32SoftmaxAttention
from albert_keras.layers.initializers import truncated_normal


@keras.saving.register_keras_serializable(package="albert_keras")
class SharedTransformerLayer(keras.layers.Layer):
    """One post-LayerNorm transformer block whose sublayers may be shared with other blocks.

    `x = LayerNorm(x + Dropout(SelfAttention(x)))`, then `x = LayerNorm(x + Dropout(FFN(x)))`,
    as in BERT (https://arxiv.org/abs/1810.04805). The block knows nothing about which model it
    belongs to: hand it a `self_attention` (`keras.layers.MultiHeadAttention`) or a `feedforward`
    (`FeedForward`) owned by another block and the two blocks use the same variables (ALBERT's
    cross-layer sharing, https://arxiv.org/abs/1909.11942). Calling one block several times
    shares everything.

    Args:
        hidden_dim: int. Input and output width.
        num_heads: int. Attention heads; must divide `hidden_dim`.
        intermediate_dim: int. Inner width of the feed-forward network.
        activation: str. `"gelu_approximate"` or `"gelu"`. Defaults to `"gelu_approximate"`.
        dropout: float. Rate for attention probabilities and both residual branches.
            Defaults to 0.0.
        layer_norm_epsilon: float. Defaults to 1e-12.
        kernel_initializer: initializer for every kernel. Defaults to truncated normal (0.02).
        self_attention: optional `keras.layers.MultiHeadAttention` to share. Defaults to None
            (the block makes its own `Float32SoftmaxAttention`: under mixed precision its
            softmax runs in float32). Not part of `get_config`: the owner rebuilds sharing.
        feedforward: optional `FeedForward` to share. Defaults to None (the block makes its own).

    Example:
    ```python
    block = SharedTransformerLayer(hidden_dim=16, num_heads=2, intermediate_dim=64)
    x = keras.random.normal((2, 8, 16))
    mask = keras.ops.ones((2, 8), dtype="int32")
    y = block(x, padding_mask=mask)
    assert y.shape == (2, 8, 16)
    ```
    """

    def __init__(self, hidden_dim, num_heads, intermediate_dim, activation="gelu_approximate",
                 dropout=0.0, layer_norm_epsilon=1e-12, kernel_initializer=None,
                 self_attention=None, feedforward=None, **kwargs):
        super().__init__(**kwargs)
        for arg, value in (("hidden_dim", hidden_dim), ("num_heads", num_heads),
                           ("intermediate_dim", intermediate_dim)):
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"`{arg}` must be a positive integer. Received: {arg}={value!r}")
        if hidden_dim % num_heads:
            raise ValueError("`hidden_dim` must be divisible by `num_heads`. "
                             f"Received: hidden_dim={hidden_dim}, num_heads={num_heads}")
        get_activation(activation)
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"`dropout` must be in [0, 1). Received: dropout={dropout!r}")
        if self_attention is not None and not isinstance(
                self_attention, keras.layers.MultiHeadAttention):
            raise ValueError("`self_attention` must be a keras.layers.MultiHeadAttention. "
                             f"Received: self_attention={self_attention!r}")
        if feedforward is not None and not isinstance(feedforward, FeedForward):
            raise ValueError(f"`feedforward` must be a FeedForward. Received: feedforward={feedforward!r}")
        self.hidden_dim = hidden_dim
        self.num_heads = num_heads
        self.intermediate_dim = intermediate_dim
        self.activation = activation
        self.dropout = dropout
        self.layer_norm_epsilon = layer_norm_epsilon
        self.kernel_initializer = keras.initializers.get(
            kernel_initializer or truncated_normal())
        self.self_attention = self_attention
        self.feedforward = feedforward
        self.supports_masking = True

    def build(self, input_shape):
        # input_shape: (batch, seq, hidden)
        if self.self_attention is None:
            self.self_attention = Float32SoftmaxAttention(
                num_heads=self.num_heads, key_dim=self.hidden_dim // self.num_heads,
                dropout=self.dropout, kernel_initializer=self.kernel_initializer,
                dtype=self.dtype_policy, name="self_attention")
        if not self.self_attention.built:
            self.self_attention.build(input_shape, input_shape)
        self.attention_dropout = keras.layers.Dropout(
            self.dropout, dtype=self.dtype_policy, name="attention_dropout")
        self.attention_layer_norm = keras.layers.LayerNormalization(
            epsilon=self.layer_norm_epsilon, dtype=self.dtype_policy, name="attention_layer_norm")
        self.attention_layer_norm.build(input_shape)
        if self.feedforward is None:
            self.feedforward = FeedForward(
                self.hidden_dim, self.intermediate_dim, activation=self.activation,
                kernel_initializer=self.kernel_initializer, dtype=self.dtype_policy,
                name="feedforward")
        if not self.feedforward.built:
            self.feedforward.build(input_shape)
        self.output_dropout = keras.layers.Dropout(
            self.dropout, dtype=self.dtype_policy, name="output_dropout")
        self.output_layer_norm = keras.layers.LayerNormalization(
            epsilon=self.layer_norm_epsilon, dtype=self.dtype_policy, name="output_layer_norm")
        self.output_layer_norm.build(input_shape)
        self.built = True

    def call(self, x, padding_mask=None, training=None):
        attention_mask = None
        if padding_mask is not None:
            # (batch, 1, seq): every query position may attend to every unpadded key.
            attention_mask = keras.ops.expand_dims(keras.ops.cast(padding_mask, "bool"), axis=1)
        attended = self.self_attention(
            x, x, attention_mask=attention_mask, training=training)  # (batch, seq, hidden)
        x = self.attention_layer_norm(x + self.attention_dropout(attended, training=training))
        transformed = self.feedforward(x)  # (batch, seq, hidden)
        return self.output_layer_norm(x + self.output_dropout(transformed, training=training))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "hidden_dim": self.hidden_dim,
                "num_heads": self.num_heads, "intermediate_dim": self.intermediate_dim,
                "activation": self.activation, "dropout": self.dropout,
                "layer_norm_epsilon": self.layer_norm_epsilon,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer)}
