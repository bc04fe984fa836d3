"""The whole pretraining job on a tiny model: prepare -> fit -> files and summary."""

import dataclasses
import json
import re

import keras
import numpy as np
import pytest

from albert_keras.pipeline import pipeline_from_dict
from tests.helpers import tiny_inputs, tiny_pretraining_config


def _tiny_pipeline(tmp_path, **train):
    return pipeline_from_dict(tiny_pretraining_config(tmp_path, **train))


@pytest.mark.large
def test_pretrain_prepares_trains_and_saves(tmp_path, capsys):
    from albert_keras.pipeline import prepare_and_pretrain

    summary = prepare_and_pretrain(_tiny_pipeline(tmp_path))
    run = tmp_path / "runs" / "tiny"
    for name in ("encoder.keras", "pretrainer.keras", "summary.json",
                 "tokenizer/tokenizer.json", "checkpoints/epoch-002.weights.h5"):
        assert (run / name).exists(), name
    assert not (run / "backup").exists()  # A finished run leaves no backup to resume from.
    assert (tmp_path / "records" / "tiny" / "manifest.json").exists()
    stored = json.loads((run / "summary.json").read_text())
    assert stored["pair_task"] == "sop" and stored["steps"] == 4
    for scores in (stored["initial"], stored["final"]):
        assert {"mlm_loss", "mlm_accuracy", "pair_loss", "pair_accuracy"} <= set(scores)
        assert np.isfinite(scores["mlm_loss"])
    assert 0 < stored["most_frequent_token_accuracy"] < 1
    assert len(stored["history"]["mlm_loss"]) == 2
    assert summary["final"] == stored["final"]
    printed = capsys.readouterr().out
    assert "MLM loss" in printed and "most-frequent-token baseline" in printed

    encoder = keras.saving.load_model(run / "encoder.keras")
    pretrainer = keras.saving.load_model(run / "pretrainer.keras")
    assert type(encoder).__name__ == "Encoder" and encoder.vocabulary_size == 200
    inputs = tiny_inputs(vocabulary_size=200)
    np.testing.assert_allclose(encoder(inputs)["pooled_output"],
                               pretrainer.encoder(inputs)["pooled_output"], atol=1e-6)


def _bucketed_dataset(directory, batch_size=4, seed=1):
    from albert_keras.pretraining_data.reader.pretraining_dataset import (ReaderOptions,
                                                                          pretraining_dataset)

    return pretraining_dataset(directory, batch_size,
                               options=ReaderOptions(length_buckets=(8, 16, 24), seed=seed))


def _tiny_pretrainer(train_config):
    from albert_keras.jobs.pretrain import compile_pretrainer
    from albert_keras.models.encoder import Encoder
    from albert_keras.models.pretrainer import Pretrainer

    keras.utils.set_random_seed(2)
    encoder = Encoder(vocabulary_size=300, num_layers=2, num_heads=2, hidden_dim=16,
                      intermediate_dim=32, embedding_dim=8, share="all", dropout=0.0,
                      max_sequence_length=32)
    pretrainer = Pretrainer(encoder, pair_task="sop")
    compile_pretrainer(pretrainer, train_config)
    return pretrainer


def test_length_bucketed_batches_give_the_loss_of_padded_ones_and_train_under_jit(tmp_path):
    from albert_keras.jobs.train_config import TrainConfig
    from tests.helpers import write_varied_length_records

    directory = write_varied_length_records(tmp_path)
    train = TrainConfig(global_batch_size=4, steps=6, steps_per_epoch=6, warmup_steps=1,
                        learning_rate=0.01, verbose=0)
    pretrainer = _tiny_pretrainer(train)
    widths = set()
    for x, y, w in _bucketed_dataset(directory).take(8).as_numpy_iterator():
        width = x["token_ids"].shape[1]
        widths.add(width)
        padded = {k: np.pad(v, [(0, 0), (0, 32 - width)]) if k != "mask_positions" else v
                  for k, v in x.items()}
        cut_loss = pretrainer.test_on_batch(x, y, w, return_dict=True)["loss"]
        padded_loss = pretrainer.test_on_batch(padded, y, w, return_dict=True)["loss"]
        assert cut_loss == pytest.approx(padded_loss, rel=1e-5), width
    assert len(widths) >= 3, widths

    jitted = _tiny_pretrainer(dataclasses.replace(train, jit_compile=True))
    start = np.array(jitted.encoder.token_embedding.embeddings)
    history = jitted.fit(_bucketed_dataset(directory), epochs=1, steps_per_epoch=6, verbose=0,
                         shuffle=False)
    assert np.all(np.isfinite(history.history["loss"]))
    assert np.abs(np.array(jitted.encoder.token_embedding.embeddings) - start).max() > 0


def test_length_buckets_are_refused_on_tpu_before_any_work():
    from albert_keras.pipeline import ConfigError, pipeline_from_dict

    with pytest.raises(ConfigError, match=r"data\.length_buckets=\[32, 64\]"):
        pipeline_from_dict({"name": "x", "data": {"length_buckets": [32, 64]},
                            "train": {"strategy": "tpu"}})


@pytest.mark.large
def test_scores_are_held_out_when_the_records_have_held_out_documents(tmp_path, capsys):
    from albert_keras.pipeline import prepare_and_pretrain

    raw = tiny_pretraining_config(tmp_path)
    raw["data"] = {**raw["data"], "held_out_fraction": 0.25}
    summary = prepare_and_pretrain(pipeline_from_dict(raw))
    assert summary["eval_source"] == "held_out"
    assert summary["eval_batches"] == 2 and summary["eval_pairs"] == 16
    printed = capsys.readouterr().out
    assert "fixed batches of the held-out records: documents never trained on" in printed
    assert re.search(r"SOP: (learned|not learned) \(accuracy \d\.\d{3} over 16 pairs", printed)


def test_pair_task_verdict_counts_standard_errors():
    from albert_keras.jobs.pretrain_report import pair_task_verdict

    assert pair_task_verdict(0.56, 400).startswith("learned")  # 2.4 standard errors
    assert pair_task_verdict(0.54, 400).startswith("not learned")  # 1.6
    assert pair_task_verdict(0.8, 16).startswith("learned")  # 2.4
    assert pair_task_verdict(0.7, 16).startswith("not learned")  # 1.6
    assert pair_task_verdict(float("nan"), 16) == "not scored"
    assert pair_task_verdict(0.9, 0) == "not scored"
