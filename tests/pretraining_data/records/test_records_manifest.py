"""`RecordsManifest`: manifest.json as a typed object, old and new manifests alike."""

import json

import pytest

from albert_keras.pretraining_data.masking.masking_config import MaskingConfig
from albert_keras.pretraining_data.records.records_manifest import (RecordsManifest, read_manifest,
                                                                    write_manifest)


def test_round_trip_through_json(tmp_path):
    manifest = RecordsManifest(
        max_sequence_length=64, pair_task="sop", static_masking=True,
        masking=MaskingConfig(mode="ngram", max_predictions=9), compression="GZIP",
        special_token_ids={"pad": 0, "unk": 1, "cls": 2, "sep": 3, "mask": 4},
        vocabulary_size=300, sequences=12,
        shard_files=[{"file": "a.tfrecord", "num_sequences": 7, "num_bytes": 10},
                     {"file": "b.tfrecord", "num_sequences": 5, "num_bytes": 9}])
    write_manifest(str(tmp_path), manifest)
    stored = json.load(open(tmp_path / "manifest.json"))
    assert stored["masking"] == {"mode": "ngram", "mask_rate": 0.15, "max_predictions": 9,
                                 "max_ngram": 3}
    assert "other" not in stored and stored["runner"] == "local"
    assert read_manifest(str(tmp_path)) == manifest
    assert manifest.shard_counts() == {"a.tfrecord": 7, "b.tfrecord": 5}


def test_an_old_manifest_loads_with_defaults_and_keeps_unknown_keys(tmp_path):
    old = {"max_sequence_length": 32, "vocabulary_size": 50, "masking": {"mode": "whole_word"},
           "written_by": "an older version"}
    (tmp_path / "manifest.json").write_text(json.dumps(old))
    manifest = read_manifest(str(tmp_path))
    assert manifest.masking == MaskingConfig(mode="whole_word")
    assert (manifest.static_masking, manifest.tokenizer, manifest.shard_files) == (
        False, "tokenizer", [])
    assert manifest.other == {"written_by": "an older version"}
    write_manifest(str(tmp_path), manifest)
    assert json.load(open(tmp_path / "manifest.json"))["written_by"] == "an older version"


def test_missing_and_malformed_manifests(tmp_path):
    assert read_manifest(str(tmp_path)) is None
    (tmp_path / "manifest.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match=r"must hold a JSON object. Received: list"):
        read_manifest(str(tmp_path))
    with pytest.raises(TypeError, match=r"RecordsManifest. Received: dict"):
        write_manifest(str(tmp_path), {"vocabulary_size": 3})


@pytest.mark.parametrize("text,message", [
    ('{"max_sequence_length": 128, "pair_ta', r"manifest.json is not valid JSON"),
    ('{"max_sequence_length": "128"}',
     r"manifest.json: `max_sequence_length` must be an integer or null. "
     r"Received: max_sequence_length='128'"),
    ('{"static_masking": 1}', r"`static_masking` must be true or false"),
    ('{"shard_files": {"a": 1}}', r"`shard_files` must be a list"),
    ('{"masking": {"mode": "sometimes"}}', r"manifest.json: `masking`: .*sometimes"),
])
def test_a_manifest_that_is_not_json_or_has_wrong_types_is_named(tmp_path, text, message):
    (tmp_path / "manifest.json").write_text(text)
    with pytest.raises(ValueError, match=message) as error:
        read_manifest(str(tmp_path))
    assert str(tmp_path / "manifest.json") in str(error.value)


def test_numbers_and_nulls_still_load(tmp_path):
    (tmp_path / "manifest.json").write_text(
        '{"max_sequence_length": 64, "seconds": 3, "held_out": null, "masking": null}')
    manifest = read_manifest(str(tmp_path))
    assert (manifest.max_sequence_length, manifest.seconds, manifest.held_out) == (64, 3, None)
    assert manifest.masking == MaskingConfig()
