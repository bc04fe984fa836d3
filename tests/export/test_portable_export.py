"""ONNX and LiteRT exports of token-ids models: ONNX Runtime and the LiteRT interpreter compute
the Keras model's outputs (1e-4) at any batch size and sequence length, with no Flex ops."""

import json
import os

import numpy as np
import pytest

from albert_keras import Encoder
from albert_keras.export.portable_export import export_portable
from albert_keras.models import SpanExtractor, TextClassifier
from tests.helpers import tiny_inputs, wordpiece

ATOL = 1e-4
ENCODER = dict(vocabulary_size=60, num_layers=2, num_heads=2, hidden_dim=16, intermediate_dim=32,
               max_sequence_length=32, dropout=0.0)
MODELS = {
    "albert_encoder": lambda: Encoder(**ENCODER, embedding_dim=8, share="all"),
    "bert_classifier": lambda: TextClassifier(Encoder(**ENCODER, activation="gelu"),
                                              labels=("neg", "pos", "neutral")),
    "mean_pooling_classifier": lambda: TextClassifier(Encoder(**ENCODER), num_classes=2,
                                                      pooling="mean"),
    "span_extractor": lambda: SpanExtractor(Encoder(**ENCODER, embedding_dim=8, share="all"),
                                            max_answer_length=5),
}


def _named(outputs):
    if isinstance(outputs, dict):
        return {name: np.asarray(value) for name, value in outputs.items()}
    return {"output_0": np.asarray(outputs)}


def _run_onnx(path, x):
    ort = pytest.importorskip("onnxruntime")
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    names = [output.name for output in session.get_outputs()]
    return dict(zip(names, session.run(None, {i.name: x[i.name] for i in session.get_inputs()})))


def _run_litert(path, x):
    interpreter_module = pytest.importorskip("ai_edge_litert.interpreter")
    interpreter = interpreter_module.Interpreter(model_path=path)
    return interpreter.get_signature_runner()(**x)


def _compare(expected, actual):
    if len(expected) == 1 and len(actual) == 1:  # One unnamed output: names differ by format.
        actual = {"output_0": next(iter(actual.values()))}
    assert sorted(actual) == sorted(expected)
    for name, value in expected.items():
        np.testing.assert_allclose(actual[name], value, atol=ATOL, rtol=0, err_msg=name)


@pytest.mark.parametrize("format", ["onnx", "litert"])
@pytest.mark.parametrize("kind", sorted(MODELS))
def test_runtime_computes_the_keras_outputs(kind, format, tmp_path):
    import keras

    keras.utils.set_random_seed(7)
    model = MODELS[kind]()
    path = export_portable(model, str(tmp_path / kind), format, tokenizer=wordpiece(),
                           labels=getattr(model, "labels", None))
    run = _run_onnx if format == "onnx" else _run_litert
    for batch_size, length in ((2, 12), (3, 32)):  # Dynamic batch and sequence length.
        x = tiny_inputs(batch_size=batch_size, sequence_length=length, vocabulary_size=60,
                        num_padded=3, seed=length)
        x = {name: np.asarray(value, np.int32) for name, value in x.items()}
        _compare(_named(model(x)), run(path, x))
    if format == "litert":
        with open(path, "rb") as f:
            assert b"Flex" not in f.read()  # Built-in ops only: no Flex delegate needed.
    info = json.loads((tmp_path / kind / "model_info.json").read_text())
    assert info["inputs"] == ["token_ids", "segment_ids", "padding_mask"]
    assert info["format"] == format and info["max_sequence_length"] == 32
    assert os.path.isfile(tmp_path / kind / "tokenizer" / "vocab.txt")


def test_dynamic_int8_litert_is_smaller_and_close(tmp_path):
    import keras

    keras.utils.set_random_seed(8)
    model = TextClassifier(Encoder(**{**ENCODER, "hidden_dim": 64, "intermediate_dim": 256}),
                           labels=("a", "b"))
    full = export_portable(model, str(tmp_path / "full"), "litert")
    small = export_portable(model, str(tmp_path / "int8"), "litert", quantize="dynamic_int8")
    assert os.path.getsize(small) < 0.5 * os.path.getsize(full)
    x = {k: np.asarray(v, np.int32) for k, v in tiny_inputs(batch_size=4, sequence_length=16,
                                                              vocabulary_size=60).items()}
    expected = np.asarray(model(x))
    quantized = next(iter(_run_litert(small, x).values()))
    assert np.abs(quantized - expected).max() < 0.1 * np.abs(expected).max() + 1e-3


@pytest.mark.parametrize("arguments, error, message", [
    (dict(format="onnx", quantize="dynamic_int8"), ValueError, "quantize.*LiteRT only"),
    (dict(format="tflite"), ValueError, "format='tflite'"),
    (dict(format="litert", quantize="int4"), ValueError, "quantize='int4'"),
])
def test_bad_arguments_are_named(arguments, error, message, tmp_path):
    with pytest.raises(error, match=message):
        export_portable(Encoder(**ENCODER), str(tmp_path / "out"), **arguments)
    assert not (tmp_path / "out").exists()


def test_an_existing_directory_is_kept(tmp_path):
    (tmp_path / "out").mkdir()
    with pytest.raises(FileExistsError, match="overwrite"):
        export_portable(Encoder(**ENCODER), str(tmp_path / "out"), "onnx")
