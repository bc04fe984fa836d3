import dataclasses
import json
import os

import keras
import numpy as np
import pytest

from albert_keras import Encoder
from albert_keras.jobs.finetune import finetune
from albert_keras.jobs.finetune_grid import finetune_with_grid
from albert_keras.models.text_classifier import TextClassifier
from albert_keras.pipeline import pipeline_from_dict
from albert_keras.tasks import ServingSettings
from albert_keras.tokenizers.tokenizer_files import load_tokenizer
from albert_keras.training.layer_decay_adamw import LayerDecayAdamW, layer_decay_multipliers
from tests.helpers import finetune_data, tiny_inputs


def _config(tmp_path, name="tiny", **finetune_args):
    return pipeline_from_dict({
        "name": name,
        "model": {"preset": "bert_tiny", **finetune_data.TINY_ENCODER, "dropout": 0.0},
        "finetune": {"tokenizer": finetune_data.write_vocabulary(tmp_path),
                     "max_sequence_length": 32, "batch_size": 16, "output_dir": str(tmp_path / "runs"),
                     "tensorboard": False, "verbose": 0, **finetune_args}})


def test_classification_learns_and_writes_a_reloadable_run(tmp_path):
    keras.utils.set_random_seed(0)
    train = finetune_data.write_csv(tmp_path, "train.csv", finetune_data.reviews(320, seed=0))
    validation = finetune_data.write_csv(tmp_path, "val.csv", finetune_data.reviews(48, seed=1))
    report = finetune(_config(tmp_path, train=train, validation=validation, test=validation,
                              epochs=8, learning_rate=3e-3, early_stopping_patience=3))
    run_dir = report["run_dir"]
    assert sorted(os.listdir(run_dir)) == [".published", "labels.json", "model.keras",
                                           "report.json", "report.md", "tokenizer"]
    metrics = report["metrics"]["validation"]
    assert metrics["accuracy"] > 0.9 and metrics["macro_f1"] > 0.9
    assert np.sum(metrics["confusion_matrix"]) == 48
    assert report["metrics"]["test"]["accuracy"] == metrics["accuracy"]
    with open(os.path.join(run_dir, "labels.json")) as f:
        assert json.load(f)["labels"] == ["neg", "pos"]
    with open(os.path.join(run_dir, "report.json")) as f:
        assert json.load(f)["metrics"]["validation"]["accuracy"] == metrics["accuracy"]
    with open(os.path.join(run_dir, "report.md")) as f:
        markdown = f.read()
    assert "| accuracy |" in markdown and "Confusion matrix" in markdown

    # The saved model carries its labels and gives the same answers with the saved tokenizer.
    model = keras.saving.load_model(os.path.join(run_dir, "model.keras"))
    assert isinstance(model, TextClassifier) and model.labels == ("neg", "pos")
    tokenizer = load_tokenizer(os.path.join(run_dir, "tokenizer"))
    from albert_keras.tasks.inputs.text_preprocessor import TextPreprocessor
    x = TextPreprocessor(tokenizer, 32)(np.array(["the film was great", "a very awful movie"]))
    assert list(np.argmax(model(x), -1)) == [1, 0]


def test_best_checkpoint_is_restored_after_early_stopping(tmp_path):
    keras.utils.set_random_seed(0)
    rows = finetune_data.reviews(200, seed=0)
    flipped = [(t, "neg" if l == "pos" else "pos") for t, l in finetune_data.reviews(48, seed=1)]
    train = finetune_data.write_csv(tmp_path, "train.csv", rows)
    validation = finetune_data.write_csv(tmp_path, "flipped.csv", flipped)
    # Validation labels are the opposite of what training teaches: it gets worse as training
    # goes on, so the best epoch comes early and the stop comes later.
    report = finetune(_config(tmp_path, train=train, validation=validation, epochs=12,
                              learning_rate=3e-3, early_stopping_patience=2))
    history = report["history"]["val_accuracy"]
    assert report["epochs_run"] < 12
    assert report["best_epoch"] == int(np.argmax(history)) + 1
    np.testing.assert_allclose(report["metrics"]["validation"]["accuracy"],
                               history[report["best_epoch"] - 1], atol=1e-6)
    assert report["metrics"]["validation"]["accuracy"] > history[-1]


def test_validation_scored_once_after_training_when_asked(tmp_path):
    rows = finetune_data.reviews(64, seed=0)
    train = finetune_data.write_csv(tmp_path, "train.csv", rows)
    validation = finetune_data.write_csv(tmp_path, "val.csv", finetune_data.reviews(32, seed=1))
    report = finetune(_config(tmp_path, train=train, validation=validation, epochs=2,
                              validate_each_epoch=False, early_stopping_patience=0,
                              restore_best_checkpoint=False))
    assert len(report["history"]["loss"]) == 2 and report["best_epoch"] == 2
    assert not any(key.startswith("val_") for key in report["history"])  # Not per epoch,
    assert 0 <= report["metrics"]["validation"]["accuracy"] <= 1  # but once, at the end.


def test_tagging_run_reports_word_metrics(tmp_path):
    keras.utils.set_random_seed(0)
    train = finetune_data.write_tagged(tmp_path, "tags.txt", 200, seed=0)
    report = finetune(_config(tmp_path, task="token_classification", train=train,
                              validation_fraction=0.2, epochs=4, learning_rate=3e-3))
    metrics = report["metrics"]["validation"]
    assert report["examples"] == {"train": 160, "validation": 40}
    assert set(metrics["per_label"]) == {"ADJ", "X"}
    assert metrics["words"] == sum(m["support"] for m in metrics["per_label"].values())
    assert metrics["token_accuracy"] > 0.8
    assert "entity_f1" not in metrics  # Not a B-/I- tag set.


def test_span_run_reports_exact_match_and_f1(tmp_path):
    keras.utils.set_random_seed(0)
    train = finetune_data.write_squad(tmp_path, "train.json", 200, seed=0)
    validation = finetune_data.write_squad(tmp_path, "val.json", 40, seed=1)
    report = finetune(_config(tmp_path, task="span_extraction", train=train, validation=validation,
                              epochs=4, learning_rate=3e-3, max_query_length=8))
    metrics = report["metrics"]["validation"]
    assert metrics["examples"] == 40
    assert metrics["exact_match"] > 50 and metrics["f1"] >= metrics["exact_match"]
    # Short answers always fit a window: none is lost, and the stride is in the report.
    assert report["answers_lost"] == {"train": 0, "validation": 0}
    assert report["doc_stride"] == _config(tmp_path, task="span_extraction",
                                           max_query_length=8).finetune.context_stride()
    # labels.json holds the stride resolved: what the export serves windows with.
    settings = ServingSettings.read(os.path.join(report["run_dir"], "labels.json"))
    assert (settings.task, settings.doc_stride, settings.max_query_length) == (
        "span_extraction", report["doc_stride"], 8)


def test_unknown_validation_label_fails_before_training(tmp_path):
    train = finetune_data.write_csv(tmp_path, "train.csv", [("good", "pos"), ("bad", "neg")])
    validation = finetune_data.write_csv(tmp_path, "val.csv", [("fine", "neutral")])
    with pytest.raises(ValueError, match=r"val\.csv row 2, column 'label': unknown label 'neutral'"):
        finetune(_config(tmp_path, train=train, validation=validation))
    assert not os.path.exists(tmp_path / "runs")


def test_missing_train_and_tokenizer_are_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="finetune.train"):
        finetune(_config(tmp_path))
    config = pipeline_from_dict({"name": "x", "finetune": {"train": "t.csv"}})
    with pytest.raises(ValueError, match="finetune.tokenizer"):
        finetune(config)
    missing = str(tmp_path / "runs" / "nothing" / "encoder.keras")
    config = pipeline_from_dict({"name": "x", "model": {"pretrained": missing},
                                 "finetune": {"train": "t.csv"}})
    with pytest.raises(FileNotFoundError, match=r"`model.pretrained` does not exist.*nothing"):
        finetune(config)


def test_layer_decay_multipliers_follow_depth():
    encoder = Encoder(vocabulary_size=50, num_layers=2, num_heads=2, hidden_dim=8,
                      intermediate_dim=16, max_sequence_length=16)
    model = TextClassifier(encoder, num_classes=2)
    multipliers = layer_decay_multipliers(model, encoder, 0.5)
    assert multipliers["token_embedding/embeddings"] == 0.125
    assert multipliers["transformer_layer_0/self_attention/query/kernel"] == 0.25
    assert multipliers["transformer_layer_1/output_layer_norm/gamma"] == 0.5
    assert multipliers["pooler_dense/kernel"] == multipliers["logits/kernel"] == 1.0
    albert = Encoder(vocabulary_size=50, num_layers=4, num_heads=2, hidden_dim=8,
                     intermediate_dim=16, embedding_dim=4, share="all", num_groups=2)
    shared = layer_decay_multipliers(TextClassifier(albert, num_classes=2), albert, 0.5)
    assert shared["transformer_layer_0/self_attention/query/kernel"] == 0.5 ** 3  # Used at 1, 2.
    assert shared["transformer_layer_1/self_attention/query/kernel"] == 0.5 ** 1  # Used at 3, 4.


def test_layer_decay_optimizer_scales_each_update():
    keras.utils.set_random_seed(0)
    encoder = Encoder(vocabulary_size=50, num_layers=2, num_heads=2, hidden_dim=8,
                      intermediate_dim=16, max_sequence_length=16, dropout=0.0)
    model = TextClassifier(encoder, num_classes=2, dropout=0.0)
    multipliers = {v.path: 1.0 for v in model.trainable_variables}
    multipliers["token_embedding/embeddings"] = 0.0
    multipliers["logits/kernel"] = 0.5
    optimizer = LayerDecayAdamW(learning_rate=1e-2, weight_decay=0.0,
                                learning_rate_multipliers=multipliers)
    model.compile(optimizer, keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    before = {v.path: np.array(v) for v in model.trainable_variables}
    model.train_on_batch(tiny_inputs(), np.array([0, 1]))
    after = {v.path: np.array(v) for v in model.trainable_variables}
    np.testing.assert_array_equal(after["token_embedding/embeddings"],
                                  before["token_embedding/embeddings"])
    step = np.abs(after["logits/kernel"] - before["logits/kernel"])
    # Adam's first step moves each weight by ~lr (where the gradient is not tiny): 0.5 * 1e-2.
    np.testing.assert_allclose(np.median(step), 0.5e-2, rtol=0.05)
    assert np.median(np.abs(after["pooler_dense/kernel"] - before["pooler_dense/kernel"])) > 0.9e-2


def test_cli_fine_tunes_our_own_albert_checkpoint(tmp_path, capsys):
    from albert_keras.cli import main
    from albert_keras.tokenizers.tokenizer_files import save_tokenizer

    # The layout `pretrain` writes: encoder.keras with tokenizer/ beside it.
    keras.utils.set_random_seed(0)
    checkpoint = tmp_path / "albert_tiny"
    encoder = Encoder(vocabulary_size=len(finetune_data.VOCABULARY), embedding_dim=8,
                      share="all", dropout=0.0, **finetune_data.TINY_ENCODER)
    checkpoint.mkdir()
    encoder.save(str(checkpoint / "encoder.keras"))
    save_tokenizer(finetune_data.tokenizer(), str(checkpoint / "tokenizer"))
    rows = finetune_data.reviews(64, seed=0)
    rows[3:3] = [("", "pos"), ("   ", "neg")]  # Rows 5 and 6 of the file (after the header).
    train = finetune_data.write_csv(tmp_path, "train.csv", rows)
    config = os.path.join(os.path.dirname(__file__), "..", "..", "pipelines", "finetune_classifier.yaml")
    code = main(["finetune", "--config", config,
                 "--set", f"model.pretrained={checkpoint / 'encoder.keras'}",
                 "--set", f"finetune.train={train}", "--set", "finetune.epochs=1",
                 "--set", "finetune.max_sequence_length=32", "--set", "finetune.verbose=0",
                 "--set", "finetune.tensorboard=false",
                 "--set", f"finetune.output_dir={tmp_path / 'runs'}"])
    assert code == 0
    with open(tmp_path / "runs" / "finetune_classifier" / "report.json") as f:
        report = json.load(f)
    assert report["examples"] == {"train": 58, "validation": 6}  # The empty rows left out...
    assert report["skipped_empty_text"] == [f"{train} row 5", f"{train} row 6"]  # ...and named.
    assert f"left out 2 row(s) with empty text: {train} row 5" in capsys.readouterr().err
    model = keras.saving.load_model(str(tmp_path / "runs" / "finetune_classifier" / "model.keras"))
    assert model.encoder.share == "all" and model.encoder.embedding_dim == 8


def test_cli_reports_bad_data_in_one_line(tmp_path, capsys):
    from albert_keras.cli import main

    empty = tmp_path / "empty.csv"
    empty.write_text("")
    config = os.path.join(os.path.dirname(__file__), "..", "..", "pipelines", "finetune_classifier.yaml")
    code = main(["finetune", "--config", config, "--set", f"finetune.train={empty}",
                 "--set", "model.pretrained=null",
                 "--set", f"finetune.tokenizer={finetune_data.write_vocabulary(tmp_path)}"])
    assert code == 2
    assert "empty.csv: no examples" in capsys.readouterr().err


def test_a_run_on_a_url_is_published_whole_and_reloads(tmp_path):
    """`finetune.output_dir` on a URL (`ram://`, standing in for `gs://`): backups, the best
    epoch's weights and the published run go through TensorFlow's file systems."""
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    train = finetune_data.write_csv(tmp_path, "train.csv", finetune_data.reviews(96, seed=0))
    validation = finetune_data.write_csv(tmp_path, "val.csv", finetune_data.reviews(32, seed=1))
    config = _config(tmp_path, train=train, validation=validation, epochs=2,
                     learning_rate=3e-3, early_stopping_patience=2)
    config = dataclasses.replace(config, finetune=dataclasses.replace(
        config.finetune, output_dir="ram://finetune-run/runs", learning_rates=(1e-3, 3e-3)))
    report = finetune_with_grid(config)
    run_dir = "ram://finetune-run/runs/tiny"
    names = {name.rstrip("/") for name in tf.io.gfile.listdir(run_dir)}
    assert {"model.keras", "labels.json", "tokenizer", "report.json", "report.md",
            "run.json", "learning_rates"} <= names
    assert not any(name.startswith(".partial-") for name in names)  # No staging left.
    assert not os.path.exists("ram:") and not (tmp_path / "ram:").exists()
    model = keras.saving.load_model(f"{run_dir}/model.keras")
    assert model.labels == ("neg", "pos")
    assert report["learning_rate_grid"]["chosen"] in (1e-3, 3e-3)
