import os

import numpy as np
import pytest

from albert_keras.pretraining_data.pairs.create_pairs import (TOKENS_PER_WORKER,
                                                              choose_num_workers, create_pairs,
                                                              document_pairs)
from albert_keras.pretraining_data.pairs.pair_spans import truncate_pair
from albert_keras.pretraining_data.pairs.tokenized_corpus import TokenizedCorpus
from albert_keras.pretraining_data.records.writer import write_shards

CLS, SEP, PAD = 2, 3, 0
FIRST_ID = 10


def _documents(num_documents=400, seed=0):
    """Documents whose every token id is unique: id - FIRST_ID = global position."""
    rng = np.random.default_rng(seed)
    documents, next_id = [], FIRST_ID
    for _ in range(num_documents):
        document = []
        for _ in range(rng.integers(4, 30)):
            length = int(rng.integers(3, 25))
            document.append(list(range(next_id, next_id + length)))
            next_id += length
        documents.append(document)
    return documents


def _owner(documents):
    """token id -> document index."""
    owner = np.zeros(FIRST_ID + sum(len(s) for d in documents for s in d), np.int64)
    for index, document in enumerate(documents):
        for sentence in document:
            owner[sentence] = index
    return owner


def _segments(row):
    tokens = row["token_ids"][row["padding_mask"] > 0]
    assert tokens[0] == CLS and tokens[-1] == SEP
    first_sep = int(np.nonzero(tokens == SEP)[0][0])
    a, b = tokens[1:first_sep], tokens[first_sep + 1:-1]
    segments = row["segment_ids"][row["padding_mask"] > 0]
    np.testing.assert_array_equal(segments, [0] * (first_sep + 1) + [1] * (len(b) + 1))
    return a, b


def _rows(pairs):
    return [{k: v[i] for k, v in pairs.items()} for i in range(len(pairs["pair_label"]))]


@pytest.fixture(scope="module")
def documents():
    return _documents()


@pytest.fixture(scope="module")
def sop_pairs(documents):
    return create_pairs(documents, max_sequence_length=64, pair_task="sop", cls_id=CLS,
                        sep_id=SEP, pad_id=PAD, dupe_factor=7, seed=1, num_workers=2)


@pytest.fixture(scope="module")
def nsp_pairs(documents):
    return create_pairs(documents, max_sequence_length=64, pair_task="nsp", cls_id=CLS,
                        sep_id=SEP, pad_id=PAD, dupe_factor=7, seed=1, num_workers=2)


@pytest.mark.parametrize("task", ["sop", "nsp"])
def test_labels_are_balanced_and_every_document_contributes(task, documents, sop_pairs, nsp_pairs):
    pairs = sop_pairs if task == "sop" else nsp_pairs
    assert len(pairs["pair_label"]) >= 10_000
    assert abs(pairs["pair_label"].mean() - 0.5) < 0.02
    assert set(pairs["document_id"].tolist()) == set(range(len(documents)))
    assert pairs["token_ids"].shape == (len(pairs["pair_label"]), 64)
    lengths = pairs["padding_mask"].sum(1)
    assert lengths.max() == 64 and (pairs["token_ids"][pairs["padding_mask"] == 0] == PAD).all()
    # short_seq_prob=0.1: a minority of documents get a shorter target length.
    assert 0.5 < np.mean(lengths >= 56) < 0.97


def test_sop_negative_is_its_positive_with_segments_swapped(documents, sop_pairs):
    owner = _owner(documents)
    for row in _rows(sop_pairs)[:3000]:
        a, b = _segments(row)
        for segment in (a, b):  # Each segment: consecutive text of the document.
            np.testing.assert_array_equal(np.diff(segment), 1)
        assert set(owner[a]) == set(owner[b]) == {row["document_id"]}
        if row["pair_label"] == 1:
            assert b[-1] < a[0], "label 1 must be the swapped order"
        else:
            assert a[-1] < b[0], "label 0 must be the document order"


def test_nsp_negative_comes_from_another_document(documents, nsp_pairs):
    owner = _owner(documents)
    for row in _rows(nsp_pairs)[:3000]:
        a, b = _segments(row)
        assert set(owner[a]) == {row["document_id"]}
        if row["pair_label"] == 1:
            assert row["document_id"] not in set(owner[b])
        else:
            assert set(owner[b]) == {row["document_id"]} and a[-1] < b[0]


def test_same_seed_same_pairs_whatever_the_workers(documents):
    options = dict(max_sequence_length=32, pair_task="sop", cls_id=CLS, sep_id=SEP, seed=3)
    one = create_pairs(documents[:150], num_workers=1, **options)
    two = create_pairs(documents[:150], num_workers=2, **options)
    other = create_pairs(documents[:150], num_workers=2, **{**options, "seed": 4})
    for key in one:
        np.testing.assert_array_equal(one[key], two[key])
    assert not np.array_equal(one["pair_label"], other["pair_label"])


def test_same_seed_gives_byte_identical_shards(tmp_path, documents):
    options = dict(max_sequence_length=32, pair_task="nsp", cls_id=CLS, sep_id=SEP, seed=5)
    contents = []
    for run in ("a", "b"):
        pairs = create_pairs(documents[:100], num_workers=2, **options)
        shards = write_shards(pairs, str(tmp_path / run), num_shards=3, seed=5)
        contents.append([open(os.path.join(tmp_path, run, s["file"]), "rb").read() for s in shards])
        assert [s["file"] for s in shards] == [f"pretraining-{i:05d}-of-00003.tfrecord" for i in range(3)]
    assert contents[0] == contents[1]


def test_bad_arguments_are_named(documents):
    with pytest.raises(ValueError, match="pair_task='mlm'"):
        create_pairs(documents, max_sequence_length=32, pair_task="mlm", cls_id=CLS, sep_id=SEP)
    with pytest.raises(ValueError, match="at least 2 documents"):
        create_pairs(documents[:1], max_sequence_length=32, pair_task="nsp", cls_id=CLS, sep_id=SEP)
    with pytest.raises(ValueError, match="dupe_factor=0"):
        create_pairs(documents, max_sequence_length=32, pair_task="sop", cls_id=CLS, sep_id=SEP,
                     dupe_factor=0)


def _truncate_by_loop(a_length, b_length, max_num_tokens, rng):
    """The original one-token-at-a-time loop, kept as the reference for `truncate_pair`."""
    a_start, a_end, b_start, b_end = 0, a_length, 0, b_length
    excess = a_end + b_end - max_num_tokens
    if excess <= 0:
        return a_start, a_end, b_start, b_end
    for front in rng.random(excess) < 0.5:
        if a_end - a_start > b_end - b_start:
            a_start, a_end = (a_start + 1, a_end) if front else (a_start, a_end - 1)
        else:
            b_start, b_end = (b_start + 1, b_end) if front else (b_start, b_end - 1)
    return a_start, a_end, b_start, b_end


def test_truncation_in_closed_form_matches_the_loop():
    cases = np.random.default_rng(0).integers(1, 200, size=(2000, 3))
    for seed, (a_length, b_length, max_num_tokens) in enumerate(cases):
        expected = _truncate_by_loop(a_length, b_length, max_num_tokens,
                                     np.random.default_rng(seed))
        got = truncate_pair(0, a_length, 0, b_length, max_num_tokens,
                             np.random.default_rng(seed))
        assert got == expected, (a_length, b_length, max_num_tokens)


def test_tokenized_corpus_gives_the_same_pairs_as_lists(documents):
    options = dict(max_sequence_length=48, pair_task="nsp", cls_id=CLS, sep_id=SEP, seed=2,
                   dupe_factor=2, num_workers=1)
    with_empty = [d + [[]] if i % 7 == 0 else d for i, d in enumerate(documents[:120])]
    from_lists = create_pairs(with_empty, **options)
    from_corpus = create_pairs(TokenizedCorpus.from_documents(with_empty), **options)
    for key in from_lists:
        np.testing.assert_array_equal(from_lists[key], from_corpus[key])
    one = document_pairs(with_empty, 5, dupe=1, **{k: v for k, v in options.items()
                                                   if k not in ("dupe_factor", "num_workers")})
    first_pass = len(create_pairs(with_empty, **{**options, "dupe_factor": 1})["pair_label"])
    rows = (from_corpus["document_id"][first_pass:] == 5).nonzero()[0] + first_pass
    assert len(rows) and len(one["token_ids"]) == len(rows)
    np.testing.assert_array_equal(one["token_ids"], from_corpus["token_ids"][rows])


def test_workers_are_chosen_from_the_corpus_size():
    # A small corpus runs in process whatever the number of cores: workers cost a start-up.
    for cores in (1, 2, 8, 96):
        assert choose_num_workers(1_728_114, 1, cpu_count=cores) == 1
        assert choose_num_workers(TOKENS_PER_WORKER - 1, 1, cpu_count=cores) == 1
    # More cores never give fewer tokens per worker than TOKENS_PER_WORKER, nor lower counts.
    for tokens in (10**6, 10**7, 5 * 10**7, 10**9):
        counts = [choose_num_workers(tokens, 2, cpu_count=cores) for cores in range(1, 65)]
        assert counts == sorted(counts) and counts[0] == 1
        assert all(n == 1 or tokens * 2 // n >= TOKENS_PER_WORKER for n in counts)
    assert choose_num_workers(10**9, 1, cpu_count=8) == 7  # One core left to this process.
    assert all(choose_num_workers(10**12, 1, cpu_count=cores) == 1 for cores in (1, 2))
    assert choose_num_workers(10**3, 1, requested=3, cpu_count=8) == 3  # Asked for: kept.
