"""Models: the one `Encoder`, its configuration and presets, and the task models."""

from albert_keras.utils.lazy_exports import lazy_exports

__all__ = ["Encoder", "PRESETS", "EncoderConfig", "Pretrainer", "SpanExtractor", "best_spans",
           "TextClassifier", "TokenClassifier", "copy_with_dtype", "save_float32"]
lazy_exports(__name__, {
    "Encoder": ".encoder",
    "PRESETS": ".encoder_config",
    "EncoderConfig": ".encoder_config",
    "Pretrainer": ".pretrainer",
    "SpanExtractor": ".span_extractor",
    "best_spans": ".span_extractor",
    "TextClassifier": ".text_classifier",
    "TokenClassifier": ".token_classifier",
    **dict.fromkeys(["copy_with_dtype", "save_float32"], ".dtype_copy"),
})
