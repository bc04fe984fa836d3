"""`finetune.learning_rates`: one run per rate, the best on validation kept, test never used."""

import json
import os

import keras
import numpy as np
import pytest

from albert_keras.jobs.finetune_grid import finetune_with_grid
from albert_keras.pipeline import ConfigError, pipeline_from_dict
from tests.helpers import finetune_data


def _config(tmp_path, **finetune_args):
    return pipeline_from_dict({
        "name": "grid",
        "model": {"preset": "bert_tiny", **finetune_data.TINY_ENCODER, "dropout": 0.0},
        "finetune": {"tokenizer": finetune_data.write_vocabulary(tmp_path),
                     "max_sequence_length": 32, "batch_size": 16,
                     "output_dir": str(tmp_path / "runs"), "tensorboard": False, "verbose": 0,
                     "epochs": 3, "early_stopping_patience": 0, **finetune_args}})


@pytest.mark.large
def test_the_rate_with_the_best_validation_score_is_kept(tmp_path):
    train = finetune_data.write_csv(tmp_path, "train.csv", finetune_data.reviews(160, seed=0))
    validation = finetune_data.write_csv(tmp_path, "val.csv", finetune_data.reviews(40, seed=1))
    # The test rows have their labels flipped: a choice made on test would pick the worst rate.
    flipped = [(text, {"pos": "neg", "neg": "pos"}[label])
               for text, label in finetune_data.reviews(40, seed=1)]
    test = finetune_data.write_csv(tmp_path, "test.csv", flipped)
    rates = [1e-6, 3e-3]
    report = finetune_with_grid(_config(tmp_path, train=train, validation=validation, test=test,
                                        learning_rates=rates))
    grid = report["learning_rate_grid"]
    assert set(grid["validation"]) == {"1e-06", "0.003"}
    assert grid["chosen"] == 3e-3 == max(rates, key=lambda r: grid["validation"][repr(r)])
    assert grid["validation"]["0.003"] > grid["validation"]["1e-06"]
    run_dir = str(tmp_path / "runs" / "grid")
    assert report["run_dir"] == run_dir
    assert {"model.keras", "labels.json", "tokenizer", "report.json", "report.md",
            "learning_rates"} <= set(os.listdir(run_dir))
    kept = keras.saving.load_model(os.path.join(run_dir, "model.keras"))
    chosen = keras.saving.load_model(os.path.join(grid["runs"]["0.003"], "model.keras"))
    for ours, theirs in zip(kept.weights, chosen.weights):
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    with open(os.path.join(run_dir, "report.json")) as f:
        assert json.load(f)["learning_rate_grid"]["chosen"] == 3e-3
    assert report["metrics"]["test"]["accuracy"] < 0.5  # Scored, not used for choosing.


def test_grid_settings_are_checked_before_any_work():
    with pytest.raises(ConfigError, match=r"finetune.learning_rates=\[0.001, 0.001\]"):
        pipeline_from_dict({"name": "x", "finetune": {"learning_rates": [1e-3, 1e-3]}})
    with pytest.raises(ConfigError, match=r"validation rows.*validation_fraction=0.0"):
        pipeline_from_dict({"name": "x", "finetune": {
            "train": "t.csv", "learning_rates": [1e-3, 1e-4], "validation_fraction": 0.0}})
    config = pipeline_from_dict({"name": "x", "finetune": {"learning_rate": 2e-5}})
    assert config.finetune.grid() == [2e-5]
