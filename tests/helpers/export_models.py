"""Helpers of the export tests: tiny models, the requests they get, the model-server check."""

import dataclasses
import os
import pickle
import subprocess
import sys
from typing import Callable

import keras
import numpy as np
import tensorflow as tf

from albert_keras import Encoder
from albert_keras.tasks.inputs.text_preprocessor import TextPreprocessor
from tests.helpers.tiny_tokenizers import BAD_TEXTS

MODEL_SERVER = os.path.join(os.path.dirname(__file__), "model_server.py")
LABELS = ("negative", "neutral", "positive")
TEXTS = [b"the quick brown fox", b"a lazy dog sings", *BAD_TEXTS]
PAIRS = [b"old stone bridges", b"", *BAD_TEXTS[::-1]]


@dataclasses.dataclass
class Export:
    name: str
    model: keras.Model
    make_tokenizer: Callable
    sequence_length: int
    version_dir: str

    @property
    def preprocessor(self) -> TextPreprocessor:
        # A fresh tokenizer each time: `keras.backend.clear_session()` (after every test)
        # clears TF's kernel cache, and with it the SentencePiece resource of older tokenizers.
        return TextPreprocessor(self.make_tokenizer(), self.sequence_length)


def tiny_classifier(vocabulary_size):
    """A functional BERT classifier: the pooled output through a Dense(3) head."""
    encoder = Encoder(vocabulary_size=vocabulary_size, num_layers=2, num_heads=2, hidden_dim=8,
                      intermediate_dim=16, max_sequence_length=16)
    inputs = {name: keras.Input(shape=(None,), dtype="int32", name=name)
              for name in ("token_ids", "segment_ids", "padding_mask")}
    logits = keras.layers.Dense(len(LABELS), name="logits")(encoder(inputs)["pooled_output"])
    return keras.Model(inputs, logits, name="bert_classifier")


def keras_outputs(export, texts, pairs=None):
    """What the Keras model answers for raw text, named like the serving outputs."""
    x = export.preprocessor(tf.constant(texts), None if pairs is None else tf.constant(pairs))
    outputs = export.model(x, training=False)
    if isinstance(outputs, dict):
        return {"embeddings": outputs["pooled_output"].numpy(),
                "sequence_output": outputs["sequence_output"].numpy()}
    logits = outputs.numpy()
    return {"logits": logits, "probabilities": tf.nn.softmax(logits).numpy(),
            "predicted_label": np.array(LABELS)[logits.argmax(-1)]}


def run_model_server_check(version_dir, calls, tmp_path):
    """Runs `model_server.py check` in a fresh process; returns its results dict."""
    calls_path, results_path = tmp_path / "calls.pkl", tmp_path / "results.pkl"
    with open(calls_path, "wb") as f:
        pickle.dump(calls, f)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}
    process = subprocess.run(
        [sys.executable, MODEL_SERVER, "check", version_dir, str(calls_path), str(results_path)],
        capture_output=True, text=True, env=env, timeout=300)
    assert process.returncode == 0, process.stderr[-3000:]
    with open(results_path, "rb") as f:
        return pickle.load(f)


def tiny_encoder(tokenizer, **overrides):
    """A 2-layer BERT encoder of width 8 for `tokenizer`, sequence 16."""
    config = dict(vocabulary_size=tokenizer.vocabulary_size(), num_layers=2, num_heads=2,
                  hidden_dim=8, intermediate_dim=16, max_sequence_length=16)
    return Encoder(**{**config, **overrides})
