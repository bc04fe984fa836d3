"""Two tiny exports shared by the export tests: an ALBERT encoder and a BERT classifier."""

import os

import keras
import pytest
import tensorflow as tf

from albert_keras import Encoder
from albert_keras.export import export_for_serving
from albert_keras.tasks import ServingSettings
from tests.helpers.export_models import Export, LABELS, tiny_classifier
from tests.helpers import sentencepiece, wordpiece


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
                                         sequence_length=length,
                                         settings=ServingSettings(labels=labels))
        exports[name] = Export(name, model, make_tokenizer, length, version_dir)
    return exports


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
