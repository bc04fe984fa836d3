import json
import os
import subprocess
import sys

import grpc
import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2

from albert_keras.export import ServingClient, client
from tests.helpers.export_models import LABELS, MODEL_SERVER, PAIRS, TEXTS, keras_outputs


def test_text_request_has_the_signature_inputs():
    request = client.text_request("bert", ["a", b"\xff"], text_pairs=["b", ""], version=3)
    assert request.model_spec.name == "bert" and request.model_spec.version.value == 3
    assert request.model_spec.signature_name == "serving_default"
    assert tf.make_ndarray(request.inputs["text"]).tolist() == [b"a", b"\xff"]
    assert tf.make_ndarray(request.inputs["text_pair"]).tolist() == [b"b", b""]
    assert "text_pair" not in client.text_request("bert", ["a"]).inputs


def test_ids_and_examples_requests():
    request = client.ids_request("m", [[2, 5, 3]], [[0, 0, 0]], [[1, 1, 1]])
    assert request.model_spec.signature_name == "serve_ids"
    token_ids = tf.make_ndarray(request.inputs["token_ids"])
    assert token_ids.dtype == np.int32 and token_ids.tolist() == [[2, 5, 3]]
    request = client.examples_request("m", [b"x", b"y"])
    assert request.model_spec.signature_name == "serve_examples"
    assert tf.make_ndarray(request.inputs["examples"]).tolist() == [b"x", b"y"]


def test_request_errors_name_the_argument():
    with pytest.raises(ValueError, match="texts="):
        client.text_request("m", "one string")
    with pytest.raises(ValueError, match="2 texts, 1 text_pairs"):
        client.text_request("m", ["a", "b"], text_pairs=["c"])


def test_parse_response_decodes_strings():
    response = predict_pb2.PredictResponse()
    response.outputs["probabilities"].CopyFrom(tf.make_tensor_proto(np.eye(2, dtype="float32")))
    response.outputs["predicted_label"].CopyFrom(tf.make_tensor_proto([b"pos", b"neg"]))
    parsed = client.parse_response(response)
    np.testing.assert_array_equal(parsed["probabilities"], np.eye(2))
    assert parsed["predicted_label"].tolist() == ["pos", "neg"]


def test_rest_body_and_replies():
    body = client.rest_body({"text": np.array([b"caf\xc3\xa9", b"\xff"], dtype=object)})
    assert json.loads(json.dumps(body)) == {
        "signature_name": "serving_default", "inputs": {"text": ["café", "\ufffd"]}}
    columnar = client.parse_rest_response(json.dumps(
        {"outputs": {"logits": [[1.0, 2.0]], "predicted_label": ["pos"]}}))
    assert columnar["logits"].shape == (1, 2) and columnar["predicted_label"].tolist() == ["pos"]
    rows = client.parse_rest_response({"predictions": [{"logits": [1.0]}, {"logits": [2.0]}]})
    assert rows["logits"].tolist() == [[1.0], [2.0]]
    with pytest.raises(RuntimeError, match="input size does not match"):
        client.parse_rest_response({"error": "input size does not match signature"})
    assert ServingClient("m", host="h", rest_port=9, version=2).rest_url == \
        "http://h:9/v1/models/m/versions/2:predict"


@pytest.fixture
def grpc_server(saved_models, site_without_keras):
    """`model_server.py serve` for bert_classifier, in a process where keras can't be imported."""
    export = saved_models["bert_classifier"]
    env = {**os.environ, "PYTHONPATH": site_without_keras, "TF_CPP_MIN_LOG_LEVEL": "2",
           "CUDA_VISIBLE_DEVICES": ""}
    process = subprocess.Popen([sys.executable, "-S", MODEL_SERVER, "serve", export.version_dir,
                                "bert_classifier"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=env)
    try:
        first_line = process.stdout.readline().split()
        assert first_line, process.stderr.read()[-3000:]
        yield export, int(first_line[0]), first_line[1]
    finally:
        process.kill()
        process.wait(timeout=30)


@pytest.mark.large
def test_grpc_round_trip_against_a_prediction_service(grpc_server):
    export, port, keras_loaded = grpc_server
    assert keras_loaded == "False"  # served without keras
    serving = ServingClient("bert_classifier", host="127.0.0.1", grpc_port=port)
    try:
        outputs = serving.predict(TEXTS, text_pairs=PAIRS)
        expected = keras_outputs(export, TEXTS, PAIRS)
        np.testing.assert_allclose(outputs["probabilities"], expected["probabilities"],
                                   atol=2e-5, rtol=1e-4)
        assert outputs["predicted_label"].tolist() == expected["predicted_label"].tolist()
        assert outputs["label_names"][0].tolist() == list(LABELS)
        single = serving.predict(TEXTS[:2])
        np.testing.assert_allclose(single["logits"], keras_outputs(export, TEXTS[:2])["logits"],
                                   atol=2e-5, rtol=1e-4)
        ids = export.preprocessor(TEXTS[:2])
        by_ids = serving.predict_ids(ids["token_ids"], ids["segment_ids"], ids["padding_mask"])
        np.testing.assert_allclose(by_ids["logits"], single["logits"], atol=1e-6)
        mismatched = client.predict_request(
            "bert_classifier", {"text": np.array([b"a", b"b"], dtype=object),
                                "text_pair": np.array([b"c"], dtype=object)}, "serving_default")
        with pytest.raises(grpc.RpcError, match="one entry per `text`"):
            serving.call(mismatched)
    finally:
        serving.close()
