"""albert_keras: BERT and ALBERT from one SharedTransformerLayer, in Keras 3 / TensorFlow."""

from albert_keras.utils.lazy_exports import lazy_exports

__version__ = "0.1.0"
__all__ = ["FeedForward", "MaskedLMHead", "SharedTransformerLayer", "PRESETS", "Encoder",
           "EncoderConfig", "Pretrainer", "SpanExtractor", "TextClassifier", "TokenClassifier"]
lazy_exports(__name__, {
    **dict.fromkeys(["FeedForward", "MaskedLMHead", "SharedTransformerLayer"], ".layers"),
    **dict.fromkeys(["PRESETS", "Encoder", "EncoderConfig", "Pretrainer", "SpanExtractor",
                     "TextClassifier", "TokenClassifier"], ".models"),
})
