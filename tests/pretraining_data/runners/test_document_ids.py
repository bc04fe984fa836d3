"""Both runners write each pair's `document_id`: the index of the document it comes from in
its record set (training or held out), the same for every pair of one document."""

from __future__ import annotations

import glob
import json
import os

import numpy as np
import pytest

from albert_keras.pipeline import pipeline_from_dict
from albert_keras.pretraining_data.prepare import prepare

SYLLABLES = ("ka", "lo", "mi", "nu", "pe", "ra", "si", "tu")
NUM_DOCUMENTS = 24


def _documents() -> list[list[str]]:
    """Documents of 3-6 sentences, each written with three words of its own."""
    rng = np.random.default_rng(0)
    documents = []
    for index in range(NUM_DOCUMENTS):
        stem = SYLLABLES[index // 8] + SYLLABLES[index % 8]
        words = [f"{stem}{end}" for end in ("bo", "dag", "fim")]
        documents.append([" ".join(rng.choice(words, rng.integers(4, 12)))
                          for _ in range(rng.integers(3, 7))])
    return documents


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """(corpus file, tokenizer directory): a WordPiece tokenizer that keeps the words whole."""
    from albert_keras.tokenizers.tokenizer_files import save_tokenizer
    from albert_keras.tokenizers.tokenizer_training import train_tokenizer

    folder = tmp_path_factory.mktemp("documents")
    path = folder / "corpus.txt"
    documents = _documents()
    path.write_text("\n\n".join("\n".join(d) for d in documents) + "\n", encoding="utf-8")
    tokenizer_dir = str(folder / "tokenizer")
    save_tokenizer(train_tokenizer([s for d in documents for s in d], "wordpiece", 200),
                   tokenizer_dir)
    return str(path), tokenizer_dir


def _records(directory: str, max_sequence_length: int) -> dict[str, np.ndarray]:
    import tensorflow as tf

    from albert_keras.pretraining_data.records.features import parse_examples

    files = sorted(glob.glob(os.path.join(directory, "*.tfrecord")))
    records = list(tf.data.TFRecordDataset(files).as_numpy_iterator())
    parsed = parse_examples(tf.constant(records), max_sequence_length, with_document_id=True)
    return {name: value.numpy() for name, value in parsed.items()}


def _document_tokens(tokenizer_dir: str, documents: list[list[str]]) -> list[set[int]]:
    from albert_keras.tokenizers.tokenizer_files import load_tokenizer

    tokenizer = load_tokenizer(tokenizer_dir)
    return [{int(t) for sentence in tokenizer(document) for t in sentence}
            for document in documents]  # Eagerly, keras-hub gives lists of ids.


@pytest.mark.parametrize("runner", ["local", "beam"])
@pytest.mark.parametrize("pair_task", ["sop", "nsp"])
def test_every_pair_carries_the_document_it_comes_from(corpus, tmp_path, runner, pair_task):
    if runner == "beam":
        pytest.importorskip("apache_beam")
    from albert_keras.pretraining_data.runners.shared_steps import split_documents

    path, tokenizer_dir = corpus
    config = pipeline_from_dict({"name": runner, "data": {
        "corpus": path, "tokenizer_path": tokenizer_dir, "max_sequence_length": 24,
        "pair_task": pair_task, "dupe_factor": 2, "num_shards": 2, "held_out_fraction": 0.25,
        "output_dir": str(tmp_path), "num_workers": 1, "runner": runner, "seed": 3,
        "beam_options": ["runner=FnApiRunner", "direct_running_mode=in_memory"]}})
    prepare(config, progress=False)
    kept, held_out = split_documents(_documents(), 0.25, seed=3)
    for sub, documents in (("", kept), ("held_out", held_out)):
        directory = os.path.join(str(tmp_path), runner, sub)
        assert json.load(open(os.path.join(directory, "manifest.json")))["document_ids"] is True
        rows = _records(directory, 24)
        ids = rows["document_id"]
        # Every document gives pairs (each has several sentences), numbered in its set.
        assert sorted(set(ids.tolist())) == list(range(len(documents))), sub
        owners = _document_tokens(tokenizer_dir, documents)
        unique = 0
        for tokens, segments, mask, document in zip(rows["token_ids"], rows["segment_ids"],
                                                     rows["padding_mask"], ids):
            real = (mask > 0) & (tokens > 4)  # Not padding, not a special token.
            # Segment A always comes from the pair's document; with SOP, B too.
            words = set(tokens[real & ((segments == 0) | (pair_task == "sop"))].tolist())
            holders = [index for index, owned in enumerate(owners) if words <= owned]
            assert document in holders, (sub, document, holders)
            unique += holders == [document]
        assert unique > 0.9 * len(ids), "the words should name the document"  # Test is sharp.
