"""`MaskedLMHead`: the masked-LM head of BERT and ALBERT, decoding through the token embedding."""

import keras

from albert_keras.layers.activations import get_activation
from albert_keras.layers.initializers import truncated_normal


@keras.saving.register_keras_serializable(package="albert_keras")
class MaskedLMHead(keras.layers.Layer):
    """Predicts the original token at each masked position, with a decoder tied to the embedding.

    The encoder's output is gathered at `mask_positions` only (the other positions cost
    nothing), then `dense` (hidden -> embedding width, with the activation), `layer_norm`, a
    matmul with the transposed token-embedding matrix and an own `bias`, as in BERT
    (https://arxiv.org/abs/1810.04805) and ALBERT. The decoder is the embedding variable
    itself, not a copy: the head creates only `dense`, `layer_norm` and `bias`.

    Args:
        token_embedding: `keras.layers.Embedding`. The encoder's token embedding, whose
            `embeddings` `(vocabulary_size, embedding_dim)` is the decoder. Not part of
            `get_config`: the owning model passes it again when it is rebuilt.
        activation: str. `"gelu_approximate"` or `"gelu"`. Defaults to `"gelu_approximate"`.
        layer_norm_epsilon: float. Defaults to 1e-12.
        kernel_initializer: initializer for `dense`. Defaults to truncated normal (0.02).

    Example:
    ```python
    embedding = keras.layers.Embedding(50, 8)
    embedding.build((None,))
    head = MaskedLMHead(embedding)
    logits = head(keras.random.normal((2, 16, 12)), mask_positions=[[1, 5], [0, 3]])
    assert logits.shape == (2, 2, 50)  # (batch, predictions, vocabulary)
    ```
    """

    def __init__(self, token_embedding, activation="gelu_approximate", layer_norm_epsilon=1e-12,
                 kernel_initializer=None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(token_embedding, keras.layers.Embedding):
            raise ValueError("`token_embedding` must be a keras.layers.Embedding. "
                             f"Received: token_embedding={token_embedding!r}")
        get_activation(activation)
        self.token_embedding = token_embedding
        self.activation = activation
        self.layer_norm_epsilon = layer_norm_epsilon
        self.kernel_initializer = keras.initializers.get(
            kernel_initializer or truncated_normal())
        self.vocabulary_size = token_embedding.input_dim
        self.embedding_dim = token_embedding.output_dim

    def build(self, inputs_shape, mask_positions_shape=None):
        # inputs_shape: (batch, seq, hidden)
        if not self.token_embedding.built:
            self.token_embedding.build((None,))
        self.dense = keras.layers.Dense(
            self.embedding_dim, activation=get_activation(self.activation),
            kernel_initializer=self.kernel_initializer, dtype=self.dtype_policy, name="dense")
        self.dense.build(inputs_shape)
        self.layer_norm = keras.layers.LayerNormalization(
            epsilon=self.layer_norm_epsilon, dtype=self.dtype_policy, name="layer_norm")
        self.layer_norm.build((*inputs_shape[:-1], self.embedding_dim))
        self.bias = self.add_weight(
            shape=(self.vocabulary_size,), initializer="zeros", name="bias")
        self.built = True

    @property
    def decoder(self):
        """The tied decoder: the token-embedding variable `(vocabulary_size, embedding_dim)`."""
        return self.token_embedding.embeddings

    def call(self, inputs, mask_positions):
        mask_positions = keras.ops.cast(mask_positions, "int32")  # (batch, predictions)
        x = keras.ops.take_along_axis(
            inputs, keras.ops.expand_dims(mask_positions, -1), axis=1)  # (batch, predictions, hidden)
        x = self.layer_norm(self.dense(x))  # (batch, predictions, embedding)
        decoder = keras.ops.cast(self.decoder, x.dtype)  # (vocabulary, embedding)
        logits = keras.ops.matmul(x, keras.ops.transpose(decoder))  # (batch, predictions, vocabulary)
        return logits + keras.ops.cast(self.bias, x.dtype)

    def compute_output_shape(self, inputs_shape, mask_positions_shape):
        return (*mask_positions_shape, self.vocabulary_size)

    def get_config(self):
        return {**super().get_config(), "activation": self.activation,
                "layer_norm_epsilon": self.layer_norm_epsilon,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer)}
