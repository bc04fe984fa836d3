"""albert_keras: BERT and ALBERT from one SharedTransformerLayer, in Keras 3 / TensorFlow.

`import albert_keras` registers every Keras class the package saves, so
`keras.saving.load_model` loads any `.keras` file it wrote, as after `import keras_hub`. Saved
models compute in float32 (their training precision is in the run's `run.json`); to compute
in bfloat16 again: `albert_keras.copy_with_dtype(model, "mixed_bfloat16")`. The command line
registers them only once its config is read (albert_keras/utils/lazy_exports.py says how).
"""

from albert_keras.utils.lazy_exports import lazy_exports

__version__ = "0.1.0"
__all__ = ["FeedForward", "MaskedLMHead", "SharedTransformerLayer", "PRESETS", "Encoder",
           "EncoderConfig", "Pretrainer", "SpanExtractor", "TextClassifier", "TokenClassifier",
           "copy_with_dtype"]
lazy_exports(__name__, {
    **dict.fromkeys(["FeedForward", "MaskedLMHead", "SharedTransformerLayer"], ".layers"),
    **dict.fromkeys(["PRESETS", "Encoder", "EncoderConfig", "Pretrainer", "SpanExtractor",
                     "TextClassifier", "TokenClassifier", "copy_with_dtype"], ".models"),
}, keras_modules=[  # Every module with `register_keras_serializable` (tests/test_loading.py).
    "albert_keras.layers.activations",
    "albert_keras.layers.feed_forward",
    "albert_keras.layers.float32_softmax_attention",
    "albert_keras.layers.masked_lm_head",
    "albert_keras.layers.shared_transformer_layer",
    "albert_keras.models.encoder",
    "albert_keras.models.pretrainer",
    "albert_keras.models.span_extractor",
    "albert_keras.models.text_classifier",
    "albert_keras.models.token_classifier",
    "albert_keras.tasks.inputs.text_preprocessor",
    "albert_keras.tokenizers.sentence_piece_tokenizer",
    "albert_keras.tokenizers.word_piece_tokenizer",
    "albert_keras.training.adamw",
    "albert_keras.training.lamb",
    "albert_keras.training.layer_decay_adamw",
    "albert_keras.training.masked_lm_loss",
    "albert_keras.training.time_budget",
    "albert_keras.training.warmup_polynomial_decay",
])
