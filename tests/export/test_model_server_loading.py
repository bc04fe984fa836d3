"""The exports as the model server sees them: TF1 loader in a fresh tensorflow-only process."""

import os
import re
import subprocess
import sys

import numpy as np
import pytest

from albert_keras.pretraining_data.records import features
from tests.helpers.export_models import PAIRS, TEXTS, keras_outputs, run_model_server_check

pytestmark = pytest.mark.large
SHORT = [b"a dog"]  # fewer tokens than the sequence: the served batch is narrower


def _calls(export):
    ids = {name: value.numpy() for name, value in export.preprocessor(TEXTS, PAIRS).items()}
    examples = np.array([features.serialize_example({n: ids[n][i] for n in ids})
                         for i in range(len(TEXTS))], dtype=object)
    many = [b"text number %d" % i for i in range(256)]
    return [
        ("serving_default", {"text": np.array(TEXTS, dtype=object)}),  # text_pair left out
        ("serving_default", {"text": np.array(TEXTS, dtype=object),
                             "text_pair": np.array(PAIRS, dtype=object)}),
        ("serve_ids", ids),
        ("serve_examples", {"examples": examples}),
        ("serving_default", {"text": np.array(many, dtype=object)}),
        ("serving_default", {"text": np.array(SHORT, dtype=object),
                             "text_pair": np.array([], dtype=object)}),  # [] = no pair
    ]


@pytest.fixture(scope="module", params=["albert_tiny", "bert_classifier"])
def checked(request, saved_models, tmp_path_factory):
    export = saved_models[request.param]
    results = run_model_server_check(export.version_dir, _calls(export),
                                     tmp_path_factory.mktemp(request.param))
    return export, results


def _assert_same(served, expected):
    for name, value in expected.items():
        if name == "sequence_output":  # the served batch drops the columns nobody uses
            value = value[:, :served[name].shape[1]]
        if value.dtype.kind in "UO":
            assert [v.decode() for v in served[name]] == value.tolist(), name
        else:
            np.testing.assert_allclose(served[name], value, atol=2e-5, rtol=1e-4, err_msg=name)


def test_raw_text_outputs_equal_the_keras_model(checked):
    export, results = checked
    single, pair, ids, examples, many, one = results["outputs"]
    _assert_same(single, keras_outputs(export, TEXTS))
    _assert_same(pair, keras_outputs(export, TEXTS, PAIRS))
    _assert_same(one, keras_outputs(export, SHORT))
    # The pair's ids through serve_ids and serve_examples give the pair's answer.
    _assert_same(ids, keras_outputs(export, TEXTS, PAIRS))
    _assert_same(examples, keras_outputs(export, TEXTS, PAIRS))
    assert all(len(value) == 256 for value in many.values())
    if export.name == "albert_tiny":
        used = int(export.preprocessor(SHORT)["padding_mask"].numpy().sum())
        assert one["sequence_output"].shape == (1, used, 8) and used < 16
        assert single["sequence_output"].shape[1] == 16  # the long texts fill the sequence


def test_output_names_and_labels(checked):
    export, results = checked
    outputs = results["outputs"][0]
    if export.name == "albert_tiny":
        assert sorted(outputs) == ["embeddings", "sequence_output"]
        assert outputs["embeddings"].shape == (len(TEXTS), 8)
        assert outputs["sequence_output"].shape == (len(TEXTS), 16, 8)
    else:
        assert sorted(outputs) == ["label_names", "logits", "predicted_label", "probabilities"]
        np.testing.assert_allclose(outputs["probabilities"].sum(-1), 1.0, rtol=1e-5)
        assert outputs["label_names"].shape == (len(TEXTS), 3)
        assert outputs["label_names"][0].tolist() == [b"negative", b"neutral", b"positive"]


def test_loading_imports_neither_albert_keras_nor_keras_hub(checked):
    # (tensorflow imports keras itself when it is installed; the gRPC test serves the export
    # from a process where keras cannot be imported at all.)
    assert checked[1]["modules"] == []


def test_every_op_is_core_tensorflow_or_tensorflow_text(checked):
    results = checked[1]
    assert results["unknown_ops"] == [] and results["forbidden_ops"] == []
    # Tokenization runs in the graph: tensorflow-text ops are there, and only those.
    allowed_text_ops = {"SentencepieceOp", "SentencepieceTokenizeOp", "TFText>RoundRobinTrim",
                        "FastWordpieceTokenizeWithOffsets", "RegexSplitWithOffsets",
                        "CaseFoldUTF8", "NormalizeUTF8"}
    assert results["text_ops"], "no tensorflow-text op: the tokenizer is not in the graph"
    assert set(results["text_ops"]) <= allowed_text_ops, results["text_ops"]


def test_warmup_requests_replay(checked):
    export, results = checked
    replayed = results["warmup"]
    assert {signature for signature, _, _ in replayed} == {
        "serving_default", "serve_ids", "serve_examples"}
    assert ("serving_default", ["text"]) in [(s, i) for s, i, _ in replayed]
    assert ("serving_default", ["text", "text_pair"]) in [(s, i) for s, i, _ in replayed]
    for _, _, shapes in replayed:
        assert len({shape[0] for shape in shapes.values()}) == 1  # one batch size per reply


def test_saved_model_cli_lists_the_three_signatures(saved_models):
    export = saved_models["bert_classifier"]
    cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}
    shown = subprocess.run([cli, "show", "--dir", export.version_dir, "--all"],
                           capture_output=True, text=True, env=env, timeout=300)
    assert shown.returncode == 0, shown.stderr[-2000:]
    signatures = dict(re.findall(r"signature_def\['(\w+)'\]:(.*?)(?=signature_def\[|\Z)",
                                 shown.stdout, re.S))
    assert {"serving_default", "serve_ids", "serve_examples"} <= set(signatures)

    def inputs(name):
        block = signatures[name].split("outputs:")[0]
        return dict(re.findall(r"inputs\['(\w+)'\] tensor_info:\s+dtype: (\w+)", block))

    def outputs(name):
        return dict(re.findall(r"outputs\['(\w+)'\] tensor_info:\s+dtype: (\w+)",
                               signatures[name]))

    assert inputs("serving_default") == {"text": "DT_STRING", "text_pair": "DT_STRING"}
    assert inputs("serve_ids") == {"token_ids": "DT_INT32", "segment_ids": "DT_INT32",
                                   "padding_mask": "DT_INT32"}
    assert inputs("serve_examples") == {"examples": "DT_STRING"}
    for name in ("serving_default", "serve_ids", "serve_examples"):
        assert outputs(name) == {"logits": "DT_FLOAT", "probabilities": "DT_FLOAT",
                                 "label_names": "DT_STRING", "predicted_label": "DT_STRING"}
    assert "tensorflow/serving/predict" in signatures["serving_default"]


def test_a_model_trained_in_bfloat16_is_served_in_float32(tmp_path):
    """Mixed-bfloat16 weights are float32 variables: the export computes in float32 from them
    (TF Serving's CPU builds, clients expecting float32), and the model server loads it."""
    import keras
    import tensorflow as tf

    from albert_keras import Encoder, TextClassifier
    from albert_keras.export import export_for_serving
    from albert_keras.models.dtype_copy import copy_with_dtype
    from albert_keras.tasks.inputs.text_preprocessor import TextPreprocessor
    from tests.helpers import wordpiece
    from tests.helpers.export_models import LABELS

    keras.utils.set_random_seed(2)
    encoder = Encoder(vocabulary_size=wordpiece().vocabulary_size(), num_layers=2, num_heads=2,
                      hidden_dim=8, intermediate_dim=16, max_sequence_length=16,
                      dtype="mixed_bfloat16")
    classifier = TextClassifier(encoder, labels=LABELS, dropout=0.0)
    version_dir = export_for_serving(classifier, wordpiece(), str(tmp_path / "bf16"),
                                     sequence_length=12)
    with open(os.path.join(version_dir, "saved_model.pb"), "rb") as f:
        assert b"DT_BFLOAT16" not in f.read()  # Not one bfloat16 tensor in the graph.
    results = run_model_server_check(
        version_dir, [("serving_default", {"text": np.array(TEXTS, dtype=object)})], tmp_path)
    served = results["outputs"][0]["logits"]
    assert served.dtype == np.float32
    x = TextPreprocessor(wordpiece(), 12)(tf.constant(TEXTS))
    float32 = copy_with_dtype(classifier, "float32")(x).numpy()
    np.testing.assert_allclose(served, float32, atol=2e-5, rtol=1e-4)
    np.testing.assert_allclose(served, classifier(x).numpy(), atol=0.05)  # bf16: 3 digits.
