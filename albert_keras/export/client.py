"""A client for exported models: gRPC `PredictRequest`s, REST JSON bodies, and their replies.

Builds requests for the three signatures (`serving_default`, `serve_ids`, `serve_examples`, see
`albert_keras.export.serving_signatures`) with tensorflow-serving-api's protos, and turns
replies (gRPC `PredictResponse` or REST JSON) into dicts of NumPy arrays; string outputs such
as `predicted_label` come back as `str`.
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any, Mapping, Sequence

import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2

from albert_keras.export.serving_signatures import EXAMPLES_INPUT, ID_INPUTS


def text_request(model_name: str, texts: Sequence[str | bytes],
                 text_pairs: Sequence[str | bytes] | None = None,
                 version: int | None = None) -> predict_pb2.PredictRequest:
    """A `serving_default` request: raw `texts` and, for pair tasks, `text_pairs`."""
    inputs = {"text": _strings(texts, "texts")}
    if text_pairs is not None:
        inputs["text_pair"] = _strings(text_pairs, "text_pairs")
        if len(inputs["text_pair"]) != len(inputs["text"]):
            raise ValueError("`text_pairs` needs one entry per text. Received: "
                             f"{len(inputs['text'])} texts, {len(inputs['text_pair'])} text_pairs")
    return predict_request(model_name, inputs, "serving_default", version)


def ids_request(model_name: str, token_ids, segment_ids, padding_mask,
                version: int | None = None) -> predict_pb2.PredictRequest:
    """A `serve_ids` request from int `[batch, seq]` arrays."""
    arrays = dict(zip(ID_INPUTS, (token_ids, segment_ids, padding_mask)))
    return predict_request(model_name, {name: np.asarray(value, np.int32)
                                        for name, value in arrays.items()}, "serve_ids", version)


def examples_request(model_name: str, serialized_examples: Sequence[bytes],
                     version: int | None = None) -> predict_pb2.PredictRequest:
    """A `serve_examples` request from serialized `tf.train.Example`s."""
    return predict_request(model_name, {EXAMPLES_INPUT: np.array(list(serialized_examples),
                                                                 dtype=object)},
                           "serve_examples", version)


def predict_request(model_name: str, inputs: Mapping[str, Any], signature_name: str,
                    version: int | None = None) -> predict_pb2.PredictRequest:
    """A `PredictRequest` for any signature from a dict of arrays."""
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model_name
    request.model_spec.signature_name = signature_name
    if version is not None:
        request.model_spec.version.value = int(version)
    for name, value in inputs.items():
        request.inputs[name].CopyFrom(tf.make_tensor_proto(value))
    return request


def parse_response(response) -> dict[str, np.ndarray]:
    """`{output name: array}` from a `PredictResponse`."""
    return {name: _decoded(tf.make_ndarray(proto)) for name, proto in response.outputs.items()}


def rest_body(inputs: Mapping[str, Any], signature_name: str = "serving_default") -> dict:
    """A REST `:predict` body in the columnar ("inputs") format.

    Example: `rest_body({"text": ["good movie"]})` ->
    `{"signature_name": "serving_default", "inputs": {"text": ["good movie"]}}`.
    """
    columns = {}
    for name, value in inputs.items():
        array = np.asarray(value)
        if array.dtype.kind in "SO":  # bytes: the REST API wants text (or base64 objects).
            array = np.vectorize(_text, otypes=[object])(array) if array.size else array
        columns[name] = array.tolist()
    return {"signature_name": signature_name, "inputs": columns}


def parse_rest_response(body: str | bytes | Mapping) -> dict[str, np.ndarray]:
    """`{output name: array}` from a REST reply (columnar "outputs" or row "predictions")."""
    reply = json.loads(body) if isinstance(body, (str, bytes)) else dict(body)
    if "error" in reply:
        raise RuntimeError(f"The model server answered with an error: {reply['error']}")
    if "outputs" in reply:
        outputs = reply["outputs"]
        if not isinstance(outputs, dict):  # A signature with a single output.
            return {"outputs": np.asarray(outputs)}
        return {name: np.asarray(value) for name, value in outputs.items()}
    rows = reply.get("predictions")
    if rows is None:
        raise ValueError("A REST reply has `outputs` or `predictions`. "
                         f"Received keys: {sorted(reply)}")
    if rows and isinstance(rows[0], dict):
        return {name: np.asarray([row[name] for row in rows]) for name in rows[0]}
    return {"predictions": np.asarray(rows)}


class ServingClient:
    """Talks to a TensorFlow Serving model server over gRPC (default) or REST.

    Args:
        model_name: str. The served model's name (`models.config`).
        host: str. Server host. Defaults to `"localhost"`.
        grpc_port: int. Defaults to 8500.
        rest_port: int. Defaults to 8501.
        version: int or None. A fixed version; None lets the server choose. Defaults to None.
        timeout: float. Seconds per call. Defaults to 30.

    Example:
    ```python
    # needs: a running tensorflow_model_server
    client = ServingClient("albert_tiny")
    outputs = client.predict(["a first text", ""], text_pairs=["its pair", "x"])
    outputs["embeddings"].shape  # (2, hidden_dim)
    client.predict_rest(["a text"])  # the same over HTTP
    ```
    """

    def __init__(self, model_name: str, host: str = "localhost", grpc_port: int = 8500,
                 rest_port: int = 8501, version: int | None = None, timeout: float = 30.0):
        self.model_name = model_name
        self.host = host
        self.grpc_port = grpc_port
        self.rest_port = rest_port
        self.version = version
        self.timeout = timeout
        self._channel = None
        self._stub = None

    def predict(self, texts, text_pairs=None) -> dict[str, np.ndarray]:
        """Raw text through `serving_default` over gRPC."""
        return self.call(text_request(self.model_name, texts, text_pairs, self.version))

    def predict_ids(self, token_ids, segment_ids, padding_mask) -> dict[str, np.ndarray]:
        """Token ids through `serve_ids` over gRPC."""
        return self.call(ids_request(self.model_name, token_ids, segment_ids, padding_mask,
                                     self.version))

    def call(self, request: predict_pb2.PredictRequest) -> dict[str, np.ndarray]:
        """Sends any `PredictRequest` over gRPC and parses the reply."""
        if self._stub is None:
            import grpc
            from tensorflow_serving.apis import prediction_service_pb2_grpc

            self._channel = grpc.insecure_channel(f"{self.host}:{self.grpc_port}")
            self._stub = prediction_service_pb2_grpc.PredictionServiceStub(self._channel)
        return parse_response(self._stub.Predict(request, timeout=self.timeout))

    def predict_rest(self, texts, text_pairs=None) -> dict[str, np.ndarray]:
        """Raw text through `serving_default` over REST (`POST .../v1/models/NAME:predict`)."""
        inputs = {"text": _strings(texts, "texts")}
        if text_pairs is not None:
            inputs["text_pair"] = _strings(text_pairs, "text_pairs")
        body = json.dumps(rest_body(inputs)).encode("utf-8")
        request = urllib.request.Request(self.rest_url, data=body,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=self.timeout) as reply:
            return parse_rest_response(reply.read())

    @property
    def rest_url(self) -> str:
        version = f"/versions/{self.version}" if self.version is not None else ""
        return f"http://{self.host}:{self.rest_port}/v1/models/{self.model_name}{version}:predict"

    def close(self) -> None:
        if self._channel is not None:
            self._channel.close()
        self._channel = self._stub = None


def _strings(values, name: str) -> np.ndarray:
    if isinstance(values, (str, bytes)):
        raise ValueError(f"`{name}` must be a list of strings, not one string. "
                         f"Received: {name}={values!r}")
    return np.array([v if isinstance(v, bytes) else str(v).encode("utf-8") for v in values],
                    dtype=object)


def _text(value) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _decoded(array: np.ndarray) -> np.ndarray:
    if array.dtype == object:
        return np.vectorize(_text, otypes=[object])(array) if array.size else array
    return array
