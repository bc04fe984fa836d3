"""Tiny Hugging Face models made with torch + transformers (test-only), saved once per session."""

from __future__ import annotations

import pytest

from tests.helpers.convert_models import TINY_HF, save_hf_model, randomize


@pytest.fixture(scope="session")
def hf_albert(tmp_path_factory):
    """(directory, model) of a random `AlbertForPreTraining`: E=8, 4 layers in 2 groups."""
    transformers = pytest.importorskip("transformers")
    pytest.importorskip("torch")
    config = transformers.AlbertConfig(**TINY_HF, embedding_size=8, num_hidden_groups=2,
                                       hidden_act="gelu_new", hidden_dropout_prob=0.0,
                                       attention_probs_dropout_prob=0.0)
    model = transformers.AlbertForPreTraining(config)
    randomize(model, seed=1)
    model.tie_weights()  # the decoder is the (randomized) word embedding matrix
    return save_hf_model(model, tmp_path_factory.mktemp("hf_albert")), model


@pytest.fixture(scope="session")
def hf_bert(tmp_path_factory):
    """(directory, model) of a random `BertForPreTraining` with exact GELU, 2 layers."""
    transformers = pytest.importorskip("transformers")
    pytest.importorskip("torch")
    config = transformers.BertConfig(**{**TINY_HF, "num_hidden_layers": 2}, hidden_act="gelu",
                                     hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    model = transformers.BertForPreTraining(config)
    randomize(model, seed=2)
    model.tie_weights()
    return save_hf_model(model, tmp_path_factory.mktemp("hf_bert")), model
