"""albert_keras: BERT and ALBERT from one SharedTransformerLayer, in Keras 3 / TensorFlow."""

from albert_keras.layers import FeedForward, MaskedLMHead, SharedTransformerLayer
from albert_keras.models import (PRESETS, Encoder, EncoderConfig, Pretrainer, SpanExtractor,
                                 TextClassifier, TokenClassifier)

__version__ = "0.1.0"
