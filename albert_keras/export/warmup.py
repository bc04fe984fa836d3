"""Warmup requests: `assets.extra/tf_serving_warmup_requests`, replayed by the model server at load.

The file is a TFRecord of `PredictionLog`s (tensorflow-serving-api). The model server runs each
request once before it marks the version available, so the first real request does not pay for
graph optimization. The requests cover every signature and the inputs that must not fail.
"""

from __future__ import annotations

import os
from typing import Sequence

import tensorflow as tf
from tensorflow_serving.apis import prediction_log_pb2

from albert_keras.export import client
from albert_keras.pretraining_data.records import features
from albert_keras.utils import file_io

WARMUP_FILE = os.path.join("assets.extra", "tf_serving_warmup_requests")

# Real traffic: plain text, empty text, a very long text, invalid UTF-8, emoji and other scripts.
SAMPLE_TEXTS = (
    "TensorFlow Serving answers requests with the exported model.".encode("utf-8"),
    b"",
    ("A very long request. " * 480).encode("utf-8"),  # about 10,000 characters
    b"invalid \xff\xfe utf-8 \xc3",
    "emoji 😀🦊 and scripts: Ελληνικά, 日本語, العربية".encode("utf-8"),
)


def warmup_requests(model_name: str, preprocessor,
                    texts: Sequence[str | bytes] = SAMPLE_TEXTS) -> list:
    """`PredictRequest`s for `serving_default` (single and pair), `serve_ids`, `serve_examples`."""
    texts = [t if isinstance(t, bytes) else t.encode("utf-8") for t in texts]
    if not texts:
        raise ValueError("Warmup needs at least one text. Received: texts=[]")
    ids = {name: value.numpy() for name, value in preprocessor(tf.constant(texts)).items()}
    examples = [features.serialize_example({name: ids[name][i] for name in ids})
                for i in range(len(texts))]
    return [
        client.text_request(model_name, texts),
        client.text_request(model_name, texts, text_pairs=texts[::-1]),
        client.text_request(model_name, texts[:1]),  # batch of one
        client.ids_request(model_name, ids["token_ids"], ids["segment_ids"], ids["padding_mask"]),
        client.examples_request(model_name, examples),
    ]


def write_warmup_file(version_dir: str, requests: Sequence) -> str:
    """Writes `requests` as `PredictionLog`s to `{version_dir}/assets.extra/`; returns the file."""
    path = os.path.join(version_dir, WARMUP_FILE)
    file_io.makedirs(os.path.dirname(path))
    with tf.io.TFRecordWriter(path) as writer:
        for request in requests:
            log = prediction_log_pb2.PredictionLog(
                predict_log=prediction_log_pb2.PredictLog(request=request))
            writer.write(log.SerializeToString())
    return path


def read_warmup_file(path: str) -> list:
    """The `PredictionLog`s of a warmup file (errors name the file and the record)."""
    logs = []
    for index, record in enumerate(tf.data.TFRecordDataset(path).as_numpy_iterator()):
        log = prediction_log_pb2.PredictionLog()
        try:
            log.ParseFromString(record)
        except Exception as error:  # protobuf raises its own DecodeError
            raise ValueError(f"{path}: record {index} is not a PredictionLog ({error})") from None
        logs.append(log)
    return logs

