"""Property: on any corpus and settings, `prepare --runner beam` writes the local runner's rows.

Random small corpora (documents of sentences of random words, with varied lengths), random
seeds, both pair tasks, every masking mode, static or dynamic masks, held-out documents or
none. Beam runs in process (the FnApiRunner in memory), so one example takes seconds.
"""

from __future__ import annotations

import glob
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

pytest.importorskip("apache_beam")

from albert_keras.pipeline import pipeline_from_dict  # noqa: E402
from albert_keras.pretraining_data.prepare import prepare  # noqa: E402
from albert_keras.pretraining_data.runners.beam_shards import row_key  # noqa: E402

BEAM_OPTIONS = ["runner=FnApiRunner", "direct_running_mode=in_memory"]
COUNTS = ("documents", "sentences", "sequences", "tokens", "sequence_tokens", "pair_label_1",
          "files", "shards")
_WORDS = [f"{stem}{suffix}" for stem in ("ka", "lo", "mi", "nu", "pe", "ra", "si", "tu", "ve",
                                         "zo", "bri", "dun", "fel", "gor", "hal", "jim")
          for suffix in ("", "s", "ed", "ing", "ly", "ness")]


@pytest.fixture(scope="module")
def word_tokenizer(tmp_path_factory):
    """A saved WordPiece tokenizer over `_WORDS` (words split into pieces, so whole-word and
    n-gram masking see multi-piece words)."""
    from albert_keras.tokenizers.tokenizer_files import save_tokenizer
    from albert_keras.tokenizers.tokenizer_training import train_tokenizer

    rng = np.random.default_rng(0)
    sentences = [" ".join(rng.choice(_WORDS, 12)) for _ in range(400)]
    directory = str(tmp_path_factory.mktemp("words") / "tokenizer")
    save_tokenizer(train_tokenizer(sentences, "wordpiece", 60), directory)
    return directory


@st.composite
def corpora(draw):
    """Documents (lists of sentences) of random words; some sentences longer than a sequence,
    some corpora too small for the pair task (both runners must then refuse alike)."""
    num_documents = draw(st.integers(6, 24))
    documents = []
    for _ in range(num_documents):
        sentences = draw(st.lists(
            st.lists(st.sampled_from(_WORDS), min_size=1, max_size=30).map(" ".join),
            min_size=1, max_size=8))
        documents.append(sentences)
    return documents


def _rows(directory: str, max_sequence_length: int, max_predictions: int | None) -> list[bytes]:
    import tensorflow as tf

    from albert_keras.pretraining_data.records.features import parse_examples

    files = sorted(glob.glob(os.path.join(directory, "*.tfrecord")))
    records = list(tf.data.TFRecordDataset(files).as_numpy_iterator())
    if not records:
        return []
    parsed = parse_examples(tf.constant(records), max_sequence_length, max_predictions,
                            with_document_id=True)
    arrays = [parsed[name].numpy().reshape(len(records), -1) for name in sorted(parsed)]
    return sorted(b"|".join(a[i].tobytes() for a in arrays) for i in range(len(records)))


@pytest.mark.large
@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(documents=corpora(), seed=st.integers(0, 2**32 - 1),
       pair_task=st.sampled_from(["sop", "nsp"]),
       masking=st.sampled_from(["token", "whole_word", "ngram"]),
       static_masking=st.booleans(), held_out=st.sampled_from([0.0, 0.25]),
       max_sequence_length=st.sampled_from([16, 40]), dupe_factor=st.integers(1, 2),
       num_shards=st.integers(1, 4))
def test_beam_and_local_write_the_same_rows(word_tokenizer, tmp_path_factory, documents, seed,
                                            pair_task, masking, static_masking, held_out,
                                            max_sequence_length, dupe_factor, num_shards):
    tmp = tmp_path_factory.mktemp("example")
    corpus = tmp / "corpus.txt"
    corpus.write_text("\n\n".join("\n".join(d) for d in documents) + "\n", encoding="utf-8")
    max_predictions = 4
    configs = {runner: pipeline_from_dict({"name": runner, "data": {
        "corpus": str(corpus), "tokenizer_path": word_tokenizer,
        "max_sequence_length": max_sequence_length, "pair_task": pair_task,
        "dupe_factor": dupe_factor, "num_shards": num_shards, "held_out_fraction": held_out,
        "masking": masking, "max_predictions": max_predictions, "seed": seed,
        "output_dir": str(tmp), "num_workers": 1, "runner": runner,
        "beam_options": BEAM_OPTIONS}}) for runner in ("local", "beam")}
    try:
        summaries = {"local": prepare(configs["local"], static_masking=static_masking,
                                      progress=False)}
    except ValueError as error:  # Too few documents or tokens: Beam says the same.
        with pytest.raises(ValueError) as raised:
            prepare(configs["beam"], static_masking=static_masking, progress=False)
        assert str(raised.value).startswith(str(error))
        event("both refused")
        return
    summaries["beam"] = prepare(configs["beam"], static_masking=static_masking, progress=False)
    assert ({k: summaries["beam"][k] for k in COUNTS}
            == {k: summaries["local"][k] for k in COUNTS})
    subdirectories = [("", max_predictions if static_masking else None)]
    if held_out:
        subdirectories.append(("held_out", None))
    for sub, predictions in subdirectories:
        local = _rows(str(tmp / "local" / sub), max_sequence_length, predictions)
        beam = _rows(str(tmp / "beam" / sub), max_sequence_length, predictions)
        assert len(local) > 0 and beam == local, sub


@given(seed=st.integers(0, 2**64), group=st.sampled_from(["train", "held_out"]),
       dupe=st.integers(0, 100), index=st.integers(0, 2**40), row=st.integers(0, 2**20))
def test_row_keys_fit_a_signed_64_bit_coder(seed, group, dupe, index, row):
    from apache_beam.coders import VarIntCoder

    key = row_key(seed, group, dupe, index, row)
    assert 0 <= key < 2**63
    coder = VarIntCoder()
    assert coder.decode(coder.encode(key)) == key
    assert coder.estimate_size(key) > 0  # The call that overflowed on 64-bit unsigned keys.
