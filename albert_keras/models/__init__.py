from albert_keras.models.encoder import Encoder
from albert_keras.models.encoder_config import PRESETS, EncoderConfig
