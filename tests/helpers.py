"""Shared assertions (config, `.keras` and SavedModel round-trips), tiny inputs and tokenizers."""

from __future__ import annotations

import functools
import os

import keras
import keras_hub
import numpy as np
import tensorflow as tf


def tiny_inputs(batch_size=2, sequence_length=8, vocabulary_size=50, num_padded=2, seed=0):
    """A dict of encoder inputs; the last `num_padded` positions of row 0 are padding."""
    rng = np.random.default_rng(seed)
    token_ids = rng.integers(5, vocabulary_size, size=(batch_size, sequence_length)).astype("int32")
    segment_ids = np.zeros((batch_size, sequence_length), "int32")
    segment_ids[:, sequence_length // 2:] = 1
    padding_mask = np.ones((batch_size, sequence_length), "int32")
    if num_padded:
        padding_mask[0, -num_padded:] = 0
        token_ids[0, -num_padded:] = 0
        segment_ids[0, -num_padded:] = 0
    return {"token_ids": token_ids, "segment_ids": segment_ids, "padding_mask": padding_mask}


def tiny_pretraining_config(tmp_path, **train) -> dict:
    """A pretraining pipeline (as a dict) small enough for a test: 12 documents, a 2-layer
    ALBERT of width 16, 4 steps of 8 sequences; `train` overrides the train section."""
    return {
        "name": "tiny",
        "model": {"preset": "albert_tiny", "num_layers": 2, "num_heads": 2, "hidden_dim": 16,
                  "intermediate_dim": 32, "embedding_dim": 8, "max_sequence_length": 32},
        "data": {"corpus": "stdlib", "max_documents": 12, "vocabulary_size": 200,
                 "max_sequence_length": 32, "max_predictions": 5, "num_shards": 2,
                 "num_workers": 1, "output_dir": str(tmp_path / "records")},
        "train": {"global_batch_size": 8, "steps": 4, "steps_per_epoch": 2, "warmup_steps": 1,
                  "learning_rate": 0.01, "eval_batches": 2, "verbose": 0,
                  "output_dir": str(tmp_path / "runs"), **train},
    }


def write_varied_length_records(directory, count=400, sequence_length=32, vocabulary_size=300,
                                max_predictions=5, seed=5):
    """Pretraining shards + manifest whose rows have real lengths uniform in 5..sequence_length.

    Rows are `[CLS] A [SEP] B [SEP]` then padding, with SentencePiece-style special ids
    (pad 0, unk 1, [CLS] 2, [SEP] 3, [MASK] 4) and token masking in the manifest.
    """
    from albert_keras.data.masking_config import MaskingConfig
    from albert_keras.data.records_manifest import RecordsManifest, write_manifest
    from albert_keras.data.writer import write_shards

    rng = np.random.default_rng(seed)
    lengths = rng.integers(5, sequence_length + 1, count)
    positions = np.arange(sequence_length)[None, :]
    first = lengths // 2
    token_ids = rng.integers(5, vocabulary_size, (count, sequence_length))
    token_ids[:, 0] = 2
    token_ids[positions == first[:, None]] = 3
    token_ids[positions == lengths[:, None] - 1] = 3
    padding_mask = (positions < lengths[:, None]).astype(np.int32)
    rows = {"token_ids": token_ids * padding_mask,
            "segment_ids": ((positions > first[:, None]) * padding_mask).astype(np.int32),
            "padding_mask": padding_mask, "pair_label": rng.integers(0, 2, count)}
    write_shards(rows, str(directory), num_shards=2)
    write_manifest(str(directory), RecordsManifest(
        special_token_ids={"pad": 0, "unk": 1, "cls": 2, "sep": 3, "mask": 4},
        vocabulary_size=vocabulary_size,
        masking=MaskingConfig(mode="token", max_predictions=max_predictions)))
    return str(directory)


def assert_config_round_trip(obj):
    """`from_config(get_config())` gives an object with the same config."""
    config = obj.get_config()
    clone = obj.__class__.from_config(config)
    assert clone.get_config() == config
    return clone


def assert_outputs_close(actual, expected, atol=1e-6):
    if isinstance(expected, dict):
        assert set(actual) == set(expected)
        for key in expected:
            np.testing.assert_allclose(
                np.asarray(actual[key]), np.asarray(expected[key]), atol=atol, err_msg=key)
    else:
        np.testing.assert_allclose(np.asarray(actual), np.asarray(expected), atol=atol)


def assert_keras_file_round_trip(model, inputs, directory, atol=1e-6):
    """Saves to `.keras`, loads it back, and checks the class and the outputs."""
    path = os.path.join(str(directory), "model.keras")
    model.save(path)
    restored = keras.saving.load_model(path)
    assert type(restored) is type(model)
    assert_outputs_close(restored(inputs), model(inputs), atol=atol)
    return restored


def assert_saved_model_round_trip(model, inputs, directory, atol=1e-6):
    """Exports with `model.export` and checks the reloaded function's outputs."""
    path = os.path.join(str(directory), "saved_model")
    model.export(path, verbose=False)
    reloaded = tf.saved_model.load(path)
    assert_outputs_close(reloaded.serve(inputs), model(inputs), atol=atol)
    return reloaded


# --- Tiny tokenizers, shared by the tests ------------------------------------------------------

WORDS = ("the quick brown fox jumps over a lazy dog and then it runs far away from "
         "every river while birds sing songs about old stone bridges").split()
WORDPIECE_VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + WORDS + ["##s", "##ing", "."]
CLS, SEP, PAD = 2, 3, 0
BAD_TEXTS = [
    b"",
    b"\xff\xfe invalid \xc3 utf-8",
    "😀🦊 emoji and other scripts: Ελληνικά, 日本語, עברית".encode(),
    ("the fox " * 1250).encode(),  # 10,000 characters
    b"x" * 10_000,  # one 10,000-character word
    b"null \x00 byte",
]


def wordpiece():
    """A WordPiece tokenizer over `WORDPIECE_VOCAB` (BERT's special tokens first)."""
    return keras_hub.tokenizers.WordPieceTokenizer(vocabulary=WORDPIECE_VOCAB, lowercase=True)


def sentencepiece():
    """A SentencePiece tokenizer (48 pieces) trained on sentences of `WORDS`."""
    return keras_hub.tokenizers.SentencePieceTokenizer(proto=_sentencepiece_proto())


@functools.lru_cache(maxsize=1)
def _sentencepiece_proto():
    from albert_keras.data.tokenizers import train_tokenizer

    rng = np.random.default_rng(0)
    sentences = [" ".join(rng.choice(WORDS, size=12)) for _ in range(300)]
    return train_tokenizer(sentences, "sentencepiece", vocabulary_size=48).proto


def free_ports(count: int) -> list[int]:
    """`count` localhost ports free right now (for the workers of a local cluster)."""
    import socket

    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def load_script(path: str, name: str):
    """A script of the repository (a benchmark, a CI tool) imported as a module by its path."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
