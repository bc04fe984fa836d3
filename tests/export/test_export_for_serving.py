import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from albert_keras.export import export_for_serving, read_models_config
from albert_keras.export.warmup import WARMUP_FILE, read_warmup_file
from albert_keras.tasks import ServingSettings
from albert_keras.tasks.inputs.padding import trim_padding
from tests.helpers import wordpiece
from tests.helpers.export_models import LABELS, tiny_classifier, tiny_encoder


def test_layout_assets_and_warmup(saved_models):
    albert, bert = saved_models["albert_tiny"], saved_models["bert_classifier"]
    assert os.path.basename(albert.version_dir) == "1"
    for export in (albert, bert):
        listing = sorted(os.listdir(export.version_dir))
        assert listing == ["assets", "assets.extra", "fingerprint.pb", "saved_model.pb",
                           "variables"]
        assert not [e for e in os.listdir(os.path.dirname(export.version_dir))
                    if e.startswith(".")]  # no staging directory left behind
    assert sorted(os.listdir(os.path.join(albert.version_dir, "assets"))) == [
        "spiece.model", "tokenizer.json"]
    assert sorted(os.listdir(os.path.join(bert.version_dir, "assets"))) == [
        "labels.txt", "tokenizer.json", "vocab.txt"]
    with open(os.path.join(bert.version_dir, "assets", "labels.txt")) as f:
        assert f.read().split() == list(LABELS)
    with open(os.path.join(albert.version_dir, "assets", "tokenizer.json")) as f:
        assert json.load(f)["kind"] == "sentencepiece"
    logs = read_warmup_file(os.path.join(albert.version_dir, WARMUP_FILE))
    requests = [log.predict_log.request for log in logs]
    assert [r.model_spec.signature_name for r in requests] == [
        "serving_default", "serving_default", "serving_default", "serve_ids", "serve_examples"]
    assert all(r.model_spec.name == "albert_tiny" for r in requests)
    texts = tf.make_ndarray(requests[0].inputs["text"]).tolist()
    assert b"" in texts and any(len(t) >= 10_000 for t in texts)
    assert any(b"\xff" in t for t in texts)  # invalid UTF-8 is warmed up too


def test_models_config_lists_the_albert_and_the_bert_export(saved_models):
    base_dir = os.path.dirname(os.path.dirname(saved_models["albert_tiny"].version_dir))
    config = read_models_config(os.path.join(base_dir, "models.config"))
    entries = {c.name: c for c in config.model_config_list.config}
    assert sorted(entries) == ["albert_tiny", "bert_classifier"]
    for name, entry in entries.items():
        assert entry.base_path == os.path.join(os.path.abspath(base_dir), name)
        assert entry.model_platform == "tensorflow"


def test_versions_are_never_overwritten_silently(tmp_path):
    tokenizer = wordpiece()
    model = tiny_encoder(tokenizer)
    model_dir = str(tmp_path / "bert_tiny")
    first = export_for_serving(model, tokenizer, model_dir, sequence_length=8)
    assert first == os.path.join(model_dir, "1")
    with open(os.path.join(first, "saved_model.pb"), "rb") as f:
        original = f.read()
    other = tiny_encoder(tokenizer, num_layers=1)
    with pytest.raises(FileExistsError, match=r"Version 1 of model 'bert_tiny' already exists"):
        export_for_serving(other, tokenizer, model_dir, version=1, sequence_length=8)
    with open(os.path.join(first, "saved_model.pb"), "rb") as f:
        assert f.read() == original  # untouched
    assert sorted(os.listdir(model_dir)) == ["1"]  # and nothing half-written next to it
    replaced = export_for_serving(other, tokenizer, model_dir, version=1, overwrite=True,
                                  sequence_length=8)
    with open(os.path.join(replaced, "saved_model.pb"), "rb") as f:
        assert f.read() != original
    config = read_models_config(str(tmp_path / "models.config"))
    assert [c.name for c in config.model_config_list.config] == ["bert_tiny"]


def test_label_names_come_from_the_model(tmp_path):
    tokenizer = wordpiece()
    classifier = tiny_classifier(tokenizer.vocabulary_size())
    classifier.labels = ("x", "y", "z")  # as TextClassifier(labels=...) has them
    version_dir = export_for_serving(classifier, tokenizer, str(tmp_path / "clf"),
                                     sequence_length=8)
    with open(os.path.join(version_dir, "assets", "labels.txt")) as f:
        assert f.read().split() == ["x", "y", "z"]
    served = tf.saved_model.load(version_dir).signatures["serving_default"]
    outputs = served(text=tf.constant(["the dog"]), text_pair=tf.constant([], tf.string))
    assert outputs["label_names"].numpy()[0].tolist() == [b"x", b"y", b"z"]
    assert outputs["predicted_label"].numpy()[0] in (b"x", b"y", b"z")


def test_dict_outputs_get_logits_and_probabilities(tmp_path):
    tokenizer = wordpiece()
    encoder = tiny_encoder(tokenizer)
    inputs = {name: keras.Input(shape=(None,), dtype="int32", name=name)
              for name in ("token_ids", "segment_ids", "padding_mask")}
    sequence = encoder(inputs)["sequence_output"]
    spans = keras.Model(inputs, {"start_logits": keras.layers.Dense(1)(sequence)[..., 0],
                                 "end_logits": keras.layers.Dense(1)(sequence)[..., 0]})
    version_dir = export_for_serving(spans, tokenizer, str(tmp_path / "spans"), sequence_length=8)
    served = tf.saved_model.load(version_dir).signatures["serving_default"]
    outputs = served(text=tf.constant(["who runs"]), text_pair=tf.constant(["the fox runs"]))
    assert sorted(outputs) == ["end_logits", "end_probabilities", "start_logits",
                               "start_probabilities"]
    assert outputs["start_probabilities"].shape == outputs["start_logits"].shape
    assert abs(float(tf.reduce_sum(outputs["end_probabilities"])) - 1.0) < 1e-5


def test_errors_name_the_value(tmp_path):
    tokenizer = wordpiece()
    encoder = tiny_encoder(tokenizer)
    with pytest.raises(ValueError, match="max_sequence_length=16. Received: sequence_length=32"):
        export_for_serving(encoder, tokenizer, str(tmp_path / "m"), sequence_length=32)
    with pytest.raises(ValueError, match="Received: version=0"):
        export_for_serving(encoder, tokenizer, str(tmp_path / "m"), version=0)
    classifier = tiny_classifier(tokenizer.vocabulary_size())
    with pytest.raises(ValueError, match="3 classes but 2 label names"):
        export_for_serving(classifier, tokenizer, str(tmp_path / "c"), sequence_length=8,
                           settings=ServingSettings(labels=("a", "b")))
    assert not os.path.exists(tmp_path / "c" / "1")


def test_settings_are_completed_from_the_model_and_checked():
    from albert_keras.export.serving_signatures import complete_settings
    from albert_keras.models import SpanExtractor, TextClassifier

    tokenizer = wordpiece()
    classifier = TextClassifier(tiny_encoder(tokenizer), labels=["a", "b"], multi_label=True)
    assert complete_settings(classifier, None, 12) == ServingSettings(
        task="text_classification", labels=("a", "b"), multi_label=True, max_sequence_length=12)
    with pytest.raises(ValueError, match=r"for task 'span_extraction' but the model is a "
                                         r"TextClassifier \('text_classification'\)"):
        complete_settings(classifier, ServingSettings(task="span_extraction"), 12)
    reader = SpanExtractor(tiny_encoder(tokenizer))
    # A stride left unset is the training default at the served length: (16 - 3 - 5) // 2.
    assert complete_settings(reader, ServingSettings(max_query_length=5), 16).doc_stride == 4
    # A run's settings keep the stride of the length it trained at: (32 - 3 - 5) // 2.
    trained = ServingSettings(task="span_extraction", max_sequence_length=32, max_query_length=5)
    assert complete_settings(reader, trained, 16).doc_stride == 12


def test_trim_padding_keeps_every_used_column():
    x = {"padding_mask": tf.constant([[1, 1, 0, 0, 0], [1, 0, 1, 0, 0]]),
         "token_ids": tf.constant([[2, 7, 0, 0, 0], [2, 0, 3, 0, 0]])}
    trimmed = trim_padding(x)
    assert trimmed["token_ids"].numpy().tolist() == [[2, 7, 0], [2, 0, 3]]
    empty = trim_padding({"padding_mask": tf.zeros([0, 5], tf.int32)})
    assert empty["padding_mask"].shape == (0, 1)


@pytest.mark.large
@pytest.mark.parametrize("task", ["pretrainer", "multi_label_classifier", "tagger"])
def test_the_task_models_export(task, tmp_path):
    from albert_keras.models.pretrainer import Pretrainer
    from albert_keras.models.text_classifier import TextClassifier
    from albert_keras.models.token_classifier import TokenClassifier

    tokenizer = wordpiece()
    encoder = tiny_encoder(tokenizer, num_layers=1)
    model, expected = {
        "pretrainer": (Pretrainer(encoder), {"mlm_logits": (2, 4, tokenizer.vocabulary_size()),
                                             "mlm_probabilities": None, "pair_logits": (2, 2),
                                             "pair_probabilities": None}),
        "multi_label_classifier": (TextClassifier(encoder, labels=["a", "b"], multi_label=True),
                                   {"logits": (2, 2), "probabilities": None,
                                    "label_names": (2, 2)}),
        "tagger": (TokenClassifier(encoder, labels=["O", "X", "Y"]),
                   {"logits": (2, 4, 3), "probabilities": None, "label_names": (2, 3),
                    "predicted_label": (2, 4), "words": (2, 2), "word_tags": (2, 2)}),
    }[task]
    version_dir = export_for_serving(model, tokenizer, str(tmp_path / task), sequence_length=8)
    served = tf.saved_model.load(version_dir).signatures["serving_default"]
    outputs = served(text=tf.constant(["the dog", "a fox"]), text_pair=tf.constant([], tf.string))
    assert sorted(outputs) == sorted(expected)
    for name, shape in expected.items():
        if shape is not None:
            assert tuple(outputs[name].shape) == shape, name
    if task == "multi_label_classifier":  # independent sigmoids, not a softmax
        np.testing.assert_allclose(outputs["probabilities"], tf.sigmoid(outputs["logits"]),
                                   atol=1e-6)


def test_staging_folders_of_killed_exports_are_cleaned(tmp_path):
    from albert_keras.export.export_for_serving import remove_stale_staging

    (tmp_path / ".3.staging-999999999").mkdir()  # No such process.
    (tmp_path / f".4.staging-{os.getpid()}").mkdir()  # A live export's: left alone.
    (tmp_path / "1").mkdir()
    assert remove_stale_staging(str(tmp_path)) == [".3.staging-999999999"]
    assert sorted(os.listdir(tmp_path)) == [f".4.staging-{os.getpid()}", "1"]
