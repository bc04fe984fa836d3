"""`pretrain` on records made by a reference `create_pretraining_data.py`, as they are.

The records are written with the reference feature spec (`write_reference_records`); the
tokenizer is a `vocab.txt` (BERT) or a SentencePiece `.model` (ALBERT) given as
`data.tokenizer_path`, since such records have no manifest or `tokenizer/` of ours.
"""

import json

import numpy as np
import pytest

from albert_keras.pipeline import pipeline_from_dict
from tests.helpers.pipeline_records import write_reference_records
from tests.helpers import WORDPIECE_VOCAB, sentencepiece_proto, tiny_pretraining_config


def _tokenizer_file(tmp_path, kind: str) -> tuple[str, int]:
    """(path, vocabulary size) of a tiny `vocab.txt` or `.model` written for the test."""
    if kind == "wordpiece":
        path = tmp_path / "vocab.txt"
        path.write_text("\n".join(WORDPIECE_VOCAB) + "\n", encoding="utf-8")
        return str(path), len(WORDPIECE_VOCAB)
    path = tmp_path / "30k-clean.model"
    path.write_bytes(sentencepiece_proto())
    return str(path), 48


def _reference_run(tmp_path, kind="sentencepiece", vocabulary_size=None, shards=2, **data):
    """A tiny pipeline over `shards` reference shards (ALBERT's for SentencePiece, BERT's for
    WordPiece), sequence 16, 4 predictions; returns (config, the shards' paths)."""
    tokenizer_path, size = _tokenizer_file(tmp_path, kind)
    files = [str(tmp_path / "reference" / f"wiki_{i}.tfrecord") for i in range(shards)]
    (tmp_path / "reference").mkdir()
    for i, path in enumerate(files):
        write_reference_records(path, num_records=24, max_sequence_length=16, max_predictions=4,
                                vocabulary_size=vocabulary_size or size,
                                albert=kind == "sentencepiece", seed=i, masked_lm_prob=0.25)
    raw = tiny_pretraining_config(tmp_path, records=str(tmp_path / "reference" / "*.tfrecord"),
                                  global_batch_size=4)
    raw["data"].update({"max_sequence_length": 16, "max_predictions": 4,
                        "tokenizer_path": tokenizer_path,
                        "pair_task": "sop" if kind == "sentencepiece" else "nsp", **data})
    return pipeline_from_dict(raw), files


@pytest.mark.parametrize("kind", ["sentencepiece", "wordpiece"])
def test_pretrain_trains_on_reference_records_and_writes_its_run(tmp_path, capsys, kind):
    from albert_keras.pipeline import prepare_and_pretrain
    from albert_keras.tokenizers.tokenizer_files import load_tokenizer

    config, _ = _reference_run(tmp_path, kind)
    summary = prepare_and_pretrain(config)
    run = tmp_path / "runs" / "tiny"
    for name in ("encoder.keras", "pretrainer.keras", "summary.json", "tokenizer/tokenizer.json"):
        assert (run / name).exists(), name
    assert not (tmp_path / "records").exists()  # Nothing was prepared.
    assert summary["status"] == "completed" and summary["steps_run"] == 4
    assert summary["pair_task"] == ("sop" if kind == "sentencepiece" else "nsp")
    for scores in (summary["initial"], summary["final"]):
        assert np.isfinite(scores["mlm_loss"]) and np.isfinite(scores["pair_loss"])
    saved = json.loads((run / "tokenizer" / "tokenizer.json").read_text())
    assert saved["kind"] == kind
    assert load_tokenizer(str(run / "tokenizer")).get_vocabulary() == \
        load_tokenizer(config.data.tokenizer_path).get_vocabulary()
    assert "records made by create_pretraining_data.py (2 shard(s)" in capsys.readouterr().out


def test_settings_of_reference_records_come_from_the_records(tmp_path):
    from albert_keras.jobs.pretrain import resume_settings
    from albert_keras.jobs.pretrain_records import checked_records

    config, files = _reference_run(tmp_path)
    found = checked_records(config)
    assert (found.masking, found.verified) == ("static", True)
    assert found.tokenizer_path == config.data.tokenizer_path
    settings = resume_settings(config, found.pattern, found.tokenizer, "float32", "sop")
    assert settings["records_sha256"]  # Of the shards' names and sizes: no manifest.
    with open(files[0], "ab") as f:
        f.write(b"\0")  # Other records: a backup made with the old ones does not apply.
    assert resume_settings(config, found.pattern, found.tokenizer, "float32",
                           "sop")["records_sha256"] != settings["records_sha256"]


@pytest.mark.parametrize("key, value, message", [
    ("max_sequence_length", 32, "data.max_sequence_length=32 but the records have 16"),
    ("max_predictions", 5, "data.max_predictions=5 but the records have 4")])
def test_other_lengths_than_the_records_are_one_line_before_any_work(tmp_path, key, value,
                                                                      message):
    from albert_keras.jobs.pretrain import pretrain

    config, files = _reference_run(tmp_path, **{key: value})
    with pytest.raises(ValueError, match=f"{files[0]}.*{message}") as error:
        pretrain(config)
    assert "\n" not in str(error.value)
    assert not (tmp_path / "runs").exists()


def test_a_vocabulary_smaller_than_the_records_ids_is_named(tmp_path):
    from albert_keras.jobs.pretrain import pretrain

    config, files = _reference_run(tmp_path, "wordpiece", vocabulary_size=60, shards=1)
    with pytest.raises(ValueError, match=f"{files[0]}.*holds token id 5[0-9].*vocab.txt.*"
                                         f"vocabulary_size={len(WORDPIECE_VOCAB)}") as error:
        pretrain(config)
    assert "\n" not in str(error.value)


def test_a_corrupt_reference_shard_is_named(tmp_path):
    from albert_keras.jobs.pretrain import pretrain

    config, files = _reference_run(tmp_path)
    data = open(files[1], "rb").read()
    with open(files[1], "wb") as f:
        f.write(data[:200] + bytes(b ^ 0xFF for b in data[200:216]) + data[216:])
    with pytest.raises(ValueError, match=f"Corrupt TFRecord shard {files[1]!r}"):
        pretrain(config)


def test_reference_records_need_a_tokenizer_and_train_records(tmp_path):
    from albert_keras.jobs.pretrain import find_records

    config, _ = _reference_run(tmp_path, tokenizer_path=None)
    with pytest.raises(ValueError, match="set data.tokenizer_path.*Received: "
                                         "data.tokenizer_path=None"):
        find_records(config)
    config = pipeline_from_dict({"name": "x", "data": {"records_format": "reference"}})
    with pytest.raises(ValueError, match="train.records: set it.*train.records=None"):
        find_records(config)
    (tmp_path / "ours").mkdir()
    config, _ = _reference_run(tmp_path / "ours", records_format="albert_keras")
    with pytest.raises(ValueError, match="No tokenizer/ next to the records"):
        find_records(config)
