"""Tiny inputs for the tests: encoder inputs, a pretraining pipeline, pretraining records."""

from __future__ import annotations

import numpy as np


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
    from albert_keras.pretraining_data.masking.masking_config import MaskingConfig
    from albert_keras.pretraining_data.records.records_manifest import (RecordsManifest,
                                                                        write_manifest)
    from albert_keras.pretraining_data.records.writer import write_shards

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
