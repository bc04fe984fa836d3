"""`EncoderConfig` is the one definition of the encoder fields: `Encoder`'s constructor, its
`get_config()` and the pipeline's `ModelConfig` must name the same fields, in the same order,
with the same defaults (DESIGN.md: constructor arg = attribute = get_config key = YAML key)."""

import dataclasses
import inspect

from albert_keras import Encoder, EncoderConfig
from albert_keras.models.model_config import ModelConfig

FIELDS = [field.name for field in dataclasses.fields(EncoderConfig)]


def test_encoder_constructor_takes_exactly_the_config_fields_with_their_defaults():
    parameters = inspect.signature(Encoder.__init__).parameters
    names = [name for name in parameters if name not in ("self", "dtype", "kwargs")]
    assert names == FIELDS
    for field in dataclasses.fields(EncoderConfig):
        expected = inspect.Parameter.empty if field.default is dataclasses.MISSING \
            else field.default
        assert parameters[field.name].default == expected, field.name


def test_get_config_and_attributes_use_the_field_names():
    encoder = Encoder(vocabulary_size=30, num_layers=2, num_heads=2, hidden_dim=8,
                      intermediate_dim=16, embedding_dim=4, share="all", max_sequence_length=16)
    config = encoder.get_config()
    for name in FIELDS:
        assert config[name] == getattr(encoder.encoder_config, name) == getattr(encoder, name)


def test_model_config_is_preset_pretrained_and_every_field():
    names = [field.name for field in dataclasses.fields(ModelConfig)]
    assert names == ["preset", "pretrained", *FIELDS]
    assert all(getattr(ModelConfig(), name) is None for name in FIELDS)
