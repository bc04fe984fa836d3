"""The whole pretraining job on a tiny model: prepare -> fit -> files and summary."""

import json

import keras
import numpy as np
import pytest

from albert_keras.pipeline import pipeline_from_dict
from albert_keras.training.pretrain import most_frequent_token_accuracy
from tests.helpers import tiny_inputs


def _tiny_pipeline(tmp_path, **train):
    return pipeline_from_dict({
        "name": "tiny",
        "model": {"preset": "albert_tiny", "num_layers": 2, "num_heads": 2, "hidden_dim": 16,
                  "intermediate_dim": 32, "embedding_dim": 8, "max_sequence_length": 32},
        "data": {"corpus": "stdlib", "max_documents": 12, "vocabulary_size": 200,
                 "max_sequence_length": 32, "max_predictions": 5, "num_shards": 2,
                 "num_workers": 1, "output_dir": str(tmp_path / "records")},
        "train": {"global_batch_size": 8, "steps": 4, "steps_per_epoch": 2, "warmup_steps": 1,
                  "learning_rate": 0.01, "eval_batches": 2, "verbose": 0,
                  "output_dir": str(tmp_path / "runs"), **train},
    })


@pytest.mark.large
def test_pretrain_prepares_trains_and_saves(tmp_path, capsys):
    from albert_keras.training.pretrain import pretrain

    summary = pretrain(_tiny_pipeline(tmp_path))
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


def test_most_frequent_token_accuracy_counts_weighted_targets():
    import tensorflow as tf

    y = {"mlm": np.array([[7, 7, 3], [3, 7, 9]], "int32"), "pair": np.zeros(2, "int32")}
    w = {"mlm": np.array([[1, 1, 0], [1, 1, 0]], "float32")}
    dataset = tf.data.Dataset.from_tensors(({"token_ids": np.zeros((2, 4), "int32")}, y, w))
    assert most_frequent_token_accuracy(dataset) == pytest.approx(3 / 4)
