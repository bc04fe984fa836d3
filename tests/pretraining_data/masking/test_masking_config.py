import dataclasses
import inspect

import pytest

from albert_keras.pretraining_data.data_config import DataConfig
from albert_keras.pretraining_data.masking.mask_tokens import mask_tokens
from albert_keras.pretraining_data.masking.masking_config import MaskingConfig
from albert_keras.pretraining_data.reader.reader_settings import ReaderSettings, reader_settings
from albert_keras.pretraining_data.records.records_manifest import RecordsManifest

SPECIAL = {"pad": 0, "unk": 1, "cls": 2, "sep": 3, "mask": 4}


def test_the_defaults_live_in_one_place():
    defaults = MaskingConfig()
    assert (defaults.mode, defaults.mask_rate, defaults.max_predictions, defaults.max_ngram) == (
        "ngram", 0.15, 20, 3)
    data = DataConfig()  # A pipeline's `data` section: the same defaults, `data.masking` too.
    assert (data.masking, data.mask_rate, data.max_predictions, data.max_ngram) == (
        defaults.mode, defaults.mask_rate, defaults.max_predictions, defaults.max_ngram)
    assert data.masking_config() == defaults
    assert DataConfig(masking="token", max_predictions=7).masking_config() == MaskingConfig(
        mode="token", max_predictions=7)
    assert list(inspect.signature(mask_tokens).parameters) == [
        "token_ids", "seed", "masking", "padding_mask"]


def test_binding_a_vocabulary_keeps_the_settings():
    table = [False] * 50
    bound = MaskingConfig(mode="whole_word").with_vocabulary(50, SPECIAL, table)
    assert (bound.vocabulary_size, bound.mask_id) == (50, 4)
    assert bound.special_token_ids == (0, 1, 2, 3, 4)
    assert bound.bound and not MaskingConfig().bound and bound.is_continuation is table
    assert bound.to_dict() == MaskingConfig(mode="whole_word").to_dict()
    # Token masking needs no word table: it is not kept.
    assert MaskingConfig(mode="token").with_vocabulary(50, SPECIAL, table).is_continuation is None


def test_the_reader_falls_back_on_the_manifest_settings():
    manifest = RecordsManifest(max_sequence_length=8, special_token_ids=SPECIAL,
                               vocabulary_size=50, masking=MaskingConfig(mode="token"))
    settings = reader_settings(manifest, ["unused"], None, None, None)
    expected = MaskingConfig(mode="token").with_vocabulary(50, SPECIAL)
    assert settings == ReaderSettings(static_masking=False, masking=expected,
                                      max_sequence_length=8)
    assert settings.masking.is_continuation is None


def test_the_reader_takes_arguments_then_the_manifest():
    manifest = RecordsManifest.from_dict(
        {"max_sequence_length": 8, "static_masking": True,
         "masking": {"mode": "ngram", "mask_rate": 0.2, "max_predictions": 6}})
    stored = MaskingConfig(mode="ngram", mask_rate=0.2, max_predictions=6, max_ngram=3)
    assert reader_settings(manifest, ["unused"], None, None, None) == ReaderSettings(
        static_masking=True, max_sequence_length=8, masking=stored)
    given = dataclasses.replace(stored, mask_rate=0.3)
    assert reader_settings(manifest, ["unused"], given, None, None) == ReaderSettings(
        static_masking=True, max_sequence_length=8, masking=given)
    with pytest.raises(TypeError, match=r"`masking` must be a MaskingConfig or None .*"
                                        "Received: masking='token'"):
        reader_settings(manifest, ["unused"], "token", None, None)


def test_manifest_entry_round_trip_keeps_the_key_order():
    config = MaskingConfig(mode="whole_word", max_predictions=5)
    assert list(config.to_dict()) == ["mode", "mask_rate", "max_predictions", "max_ngram"]
    assert MaskingConfig.from_dict({**config.to_dict(), "other": 1}) == config
    assert MaskingConfig.from_dict({}) == MaskingConfig()


@pytest.mark.parametrize("kwargs, message", [
    ({"mode": "span"}, "mode='span'"), ({"mask_rate": 0.0}, "mask_rate=0.0"),
    ({"max_predictions": 0}, "max_predictions=0"), ({"max_ngram": 0}, "max_ngram=0"),
    ({"random_token_rate": -0.1}, "random_token_rate=-0.1"),
    ({"vocabulary_size": 0}, "vocabulary_size=0")])
def test_bad_settings_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MaskingConfig(**kwargs)
