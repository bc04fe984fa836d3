"""Two tiny exports shared by the export tests: an ALBERT encoder and a BERT classifier."""

import dataclasses
import os
import pickle
import subprocess
import sys
from typing import Callable

import keras
import numpy as np
import pytest
import tensorflow as tf

from albert_keras import Encoder
from albert_keras.data.text_preprocessor import TextPreprocessor
from albert_keras.export import export_for_serving
from tests.helpers import BAD_TEXTS, sentencepiece, wordpiece

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


@pytest.fixture(scope="session")
def saved_models(tmp_path_factory):
    """`{name: Export}` for `albert_tiny` (SentencePiece, ALBERT encoder, sequence 16) and
    `bert_classifier` (WordPiece, labels, sequence 12), both in one `saved_models/`."""
    base_dir = tmp_path_factory.mktemp("saved_models")
    keras.utils.set_random_seed(1)
    albert = Encoder(vocabulary_size=sentencepiece().vocabulary_size(), num_layers=2,
                     num_heads=2, hidden_dim=8, intermediate_dim=16, embedding_dim=4,
                     max_sequence_length=16, share="all")
    classifier = tiny_classifier(wordpiece().vocabulary_size())
    exports = {}
    for name, model, make_tokenizer, length, labels in (
            ("albert_tiny", albert, sentencepiece, 16, None),
            ("bert_classifier", classifier, wordpiece, 12, LABELS)):
        version_dir = export_for_serving(model, make_tokenizer(), str(base_dir / name),
                                         sequence_length=length, label_names=labels)
        exports[name] = Export(name, model, make_tokenizer, length, version_dir)
    return exports


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


@pytest.fixture(scope="session")
def site_without_keras(tmp_path_factory):
    """A site-packages view without keras, keras_hub and albert_keras (links to the rest)."""
    site = tmp_path_factory.mktemp("site_without_keras")
    packages = os.path.dirname(os.path.dirname(tf.__file__))
    for entry in os.listdir(packages):
        if entry.split("-")[0].split(".")[0] in ("keras", "keras_hub", "tf_keras", "albert_keras") \
                or entry.endswith(".pth") or entry.startswith("__editable__"):
            continue
        os.symlink(os.path.join(packages, entry), site / entry)
    return str(site)
