"""Shared fixtures of the pretraining-data tests: the small corpus as a file and one prepared
directory (`stdlib_documents` is in `tests/conftest.py`: the tokenizer tests use it too)."""

from __future__ import annotations

import os

import pytest

from albert_keras.pretraining_data.prepare import prepare
from tests.helpers.pipeline_records import tiny_pipeline


@pytest.fixture(scope="session")
def corpus_file(tmp_path_factory, stdlib_documents):
    """The first documents of the built-in corpus as a BERT-format text file."""
    path = tmp_path_factory.mktemp("corpus") / "corpus.txt"
    path.write_text("\n\n".join("\n".join(d) for d in stdlib_documents) + "\n", encoding="utf-8")
    return str(path)


@pytest.fixture(scope="session")
def prepared(tmp_path_factory, corpus_file):
    """(summary, directory) of `prepare` on the small corpus: SentencePiece, 3 shards, seq 32."""
    output_dir = tmp_path_factory.mktemp("tf_records")
    summary = prepare(tiny_pipeline(output_dir, corpus_file), progress=False)
    return summary, os.path.join(str(output_dir), "tiny")
