"""Layers: the shared transformer block, its attention and feed-forward sublayers, the masked-LM head."""

from albert_keras.utils.lazy_exports import lazy_exports

__all__ = ["FeedForward", "Float32SoftmaxAttention", "MaskedLMHead", "SharedTransformerLayer"]
lazy_exports(__name__, {
    "FeedForward": ".feed_forward",
    "Float32SoftmaxAttention": ".float32_softmax_attention",
    "MaskedLMHead": ".masked_lm_head",
    "SharedTransformerLayer": ".shared_transformer_layer",
})
