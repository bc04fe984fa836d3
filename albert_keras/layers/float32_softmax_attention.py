"""`Float32SoftmaxAttention`: multi-head attention whose softmax runs in float32."""

import keras


@keras.saving.register_keras_serializable(package="albert_keras")
class Float32SoftmaxAttention(keras.layers.MultiHeadAttention):
    """`keras.layers.MultiHeadAttention` that takes the softmax in float32 under mixed precision.

    Under `mixed_bfloat16` Keras computes the attention softmax in bfloat16, whose 8-bit mantissa
    rounds each probability to ~0.4% and lets a row of 128 or 512 of them sum visibly away from 1.
    Mixed-precision recipes (https://arxiv.org/abs/1710.03740) keep reductions such as softmax in
    float32. This layer computes the scores with the layer's compute dtype (a bf16 matmul), casts
    them to float32 for the masked softmax, and casts the probabilities back for the product with
    the values. Variables, their names and the float32 computation are those of the Keras layer:
    under a float32 policy it is the Keras layer.

    Args: those of `keras.layers.MultiHeadAttention`.

    Example:
    ```python
    attention = Float32SoftmaxAttention(num_heads=2, key_dim=8, dtype="mixed_bfloat16")
    x = keras.random.normal((2, 6, 16))
    y, probabilities = attention(x, x, return_attention_scores=True)
    assert y.shape == (2, 6, 16) and keras.backend.standardize_dtype(y.dtype) == "bfloat16"
    assert probabilities.shape == (2, 2, 6, 6) and probabilities.dtype == "float32"
    assert np.allclose(keras.ops.sum(probabilities, axis=-1), 1.0)  # Rows sum to 1.
    ```
    """

    def _compute_attention(self, query, key, value, attention_mask=None, training=None,
                           return_attention_scores=False, use_causal_mask=False):
        # query: (batch, target, heads, key_dim); key, value: (batch, source, heads, key_dim)
        if self.compute_dtype == "float32" or use_causal_mask or len(query.shape) != 4:
            return super()._compute_attention(
                query, key, value, attention_mask=attention_mask, training=training,
                return_attention_scores=return_attention_scores, use_causal_mask=use_causal_mask)
        query = query * keras.ops.cast(1.0 / float(self.key_dim) ** 0.5, query.dtype)
        scores = keras.ops.einsum("btnh,bsnh->bnts", query, key)  # (batch, heads, target, source)
        scores = keras.ops.cast(scores, "float32")
        if attention_mask is not None:
            # attention_mask: (batch, target, source) -> (batch, 1, target, source)
            attention_mask = keras.ops.expand_dims(keras.ops.cast(attention_mask, "bool"), axis=1)
            scores = keras.ops.where(attention_mask, scores, -1e9)
        probabilities = keras.ops.softmax(scores, axis=-1)  # float32
        if attention_mask is not None:
            # A row whose keys are all masked gets zeros, as in the Keras layer.
            probabilities = keras.ops.where(attention_mask, probabilities, 0.0)
        dropped = self._dropout_layer(
            keras.ops.cast(probabilities, self.compute_dtype), training=training)
        output = keras.ops.einsum("bnts,bsnh->btnh", dropped, value)  # (batch, target, heads, dim)
        return output, probabilities
