"""Layers: the shared transformer block, its feed-forward sublayer and the masked-LM head."""

from albert_keras.utils.lazy_exports import lazy_exports

__all__ = ["FeedForward", "MaskedLMHead", "SharedTransformerLayer"]
lazy_exports(__name__, {
    "FeedForward": ".feed_forward",
    "MaskedLMHead": ".masked_lm_head",
    "SharedTransformerLayer": ".shared_transformer_layer",
})
