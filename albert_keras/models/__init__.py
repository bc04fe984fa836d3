from albert_keras.models.encoder import Encoder
from albert_keras.models.encoder_config import PRESETS, EncoderConfig
from albert_keras.models.pretrainer import Pretrainer
from albert_keras.models.span_extractor import SpanExtractor, best_spans
from albert_keras.models.text_classifier import TextClassifier
from albert_keras.models.token_classifier import TokenClassifier
