import dataclasses
import inspect

import pytest

from albert_keras.data.data_config import DataConfig
from albert_keras.data.masking import mask_tokens
from albert_keras.data.masking_config import MaskingConfig
from albert_keras.data.reader_settings import ReaderSettings, reader_settings
from albert_keras.data.records_manifest import RecordsManifest

SPECIAL = {"pad": 0, "unk": 1, "cls": 2, "sep": 3, "mask": 4}


def test_the_defaults_live_in_one_place():
    defaults = MaskingConfig()
    assert (defaults.mask_rate, defaults.max_predictions, defaults.max_ngram) == (0.15, 20, 3)
    data = DataConfig()
    assert (data.mask_rate, data.max_predictions, data.max_ngram) == (
        defaults.mask_rate, defaults.max_predictions, defaults.max_ngram)
    assert data.masking_config() == dataclasses.replace(defaults, mode=data.masking)
    parameters = inspect.signature(mask_tokens).parameters
    for field in dataclasses.fields(MaskingConfig):
        assert parameters[field.name].default == getattr(defaults, field.name), field.name


def test_the_reader_falls_back_on_the_defaults_without_manifest_settings():
    manifest = RecordsManifest(max_sequence_length=8, special_token_ids=SPECIAL,
                               vocabulary_size=50)
    settings = reader_settings(manifest, ["unused"], None, None, None, None, None)
    assert settings == ReaderSettings(static_masking=False, masking=MaskingConfig(),
                                      max_sequence_length=8, vocabulary_size=50, mask_id=4,
                                      special_token_ids=(0, 1, 2, 3, 4))
    assert settings.is_continuation is None


def test_the_reader_takes_arguments_then_the_manifest():
    manifest = RecordsManifest.from_dict(
        {"max_sequence_length": 8, "static_masking": True,
         "masking": {"mode": "ngram", "mask_rate": 0.2, "max_predictions": 6}})
    settings = reader_settings(manifest, ["unused"], None, None, 0.3, None, None)
    assert settings == ReaderSettings(
        static_masking=True, max_sequence_length=8,
        masking=MaskingConfig(mode="ngram", mask_rate=0.3, max_predictions=6, max_ngram=3))


def test_manifest_entry_round_trip_keeps_the_key_order():
    config = MaskingConfig(mode="whole_word", max_predictions=5)
    assert list(config.to_dict()) == ["mode", "mask_rate", "max_predictions", "max_ngram"]
    assert MaskingConfig.from_dict({**config.to_dict(), "other": 1}) == config
    assert MaskingConfig.from_dict({}) == MaskingConfig()


@pytest.mark.parametrize("kwargs, message", [
    ({"mode": "span"}, "mode='span'"), ({"mask_rate": 0.0}, "mask_rate=0.0"),
    ({"max_predictions": 0}, "max_predictions=0"), ({"max_ngram": 0}, "max_ngram=0")])
def test_bad_settings_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MaskingConfig(**kwargs)
