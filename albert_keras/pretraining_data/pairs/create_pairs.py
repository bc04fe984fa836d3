"""Sentence pairs for BERT's NSP and ALBERT's SOP, following the original recipes.

Per document (google-research/bert `create_instances_from_document`): pick a target length
(`max_sequence_length - 3`, or with probability `short_seq_prob` a random one in [2, max]),
gather consecutive segments until the target is reached, split them at a random point into A
and B, truncate the longer side from a random end until the pair fits, and write
`[CLS] A [SEP] B [SEP]`.
- NSP (label 1 = random next): in 50% of the pairs B is replaced by text from another
  document (chosen uniformly among the others), and the unused segments are put back.
- SOP (label 1 = swapped): A and B are always consecutive; in 50% of the pairs they are
  swapped after truncation, so a negative is exactly a positive with its segments exchanged.
A chunk of a single segment is split at a random token so that both labels stay possible.

Each (dupe, document) pair has its own random generator seeded by `(seed, dupe, index)`, so the
result does not depend on how the work is split: chunks of documents run in this process or in
worker processes (spawned) and come back in order.

How it stays fast: the documents are one flat array of ids (`TokenizedCorpus`), and A and B
are always contiguous runs of it (consecutive sentences, cut or trimmed at the ends). So the
per-document loop (Python, for the random choices) only moves integer offsets, and the rows
are filled for a whole chunk at once with numpy indexing. Worker processes pay a start-up
(a Python interpreter, numpy, the corpus pickled to each), so `choose_num_workers` only uses
them when each gets enough tokens to win that back.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from typing import Callable, Sequence

import numpy as np

from albert_keras.pretraining_data.pairs.default_rngs import default_rngs
from albert_keras.pretraining_data.pairs.pair_options import PairOptions
from albert_keras.pretraining_data.pairs.pair_spans import (CorpusSource, SequenceSource,
                                                            document_spans)
from albert_keras.pretraining_data.pairs.tokenized_corpus import TokenizedCorpus

# Corpus tokens (times dupe_factor) one worker process must get before a pool is used: at
# ~2M tokens/s per core (one pass, measured on Shakespeare, seq 128), 8M tokens are ~4 s of
# work, several times a worker's start-up (~0.5-1 s: interpreter, numpy, corpus pickled).
# Measured on 2 loaded cores: 17M tokens took 6.7 s in process and 8.6 s with 2 workers (the
# parent fills rows on the same cores), hence at most cores - 1 workers.
TOKENS_PER_WORKER = 8_000_000
_CHUNK_DOCUMENTS = 256
_WORKER_DOCUMENTS: Sequence = ()  # Set in each worker process by `_init_worker`.
_WORKER_SOURCE = None  # Offsets of `_WORKER_DOCUMENTS`, set with it.
_DOCUMENT_LOCK = threading.Lock()


def choose_num_workers(num_tokens: int, dupe_factor: int = 1, requested: int | None = None,
                       cpu_count: int | None = None) -> int:
    """Worker processes for the pairs of a corpus: 1 means in this process.

    Args:
        num_tokens: int. Tokens in the corpus.
        dupe_factor: int. Passes over it. Defaults to 1.
        requested: int or None. `data.num_workers`; None chooses. Defaults to None.
        cpu_count: int or None. Cores to use at most; None = `os.cpu_count()`.

    Returns:
        `requested` when given; otherwise one worker per `TOKENS_PER_WORKER` tokens of work,
        at most `cpu_count - 1` (this process fills the rows meanwhile), and 1 (in process)
        instead of a single worker. So a small corpus, or a 2-core machine, runs in process,
        and more cores never add a worker that costs more than it brings.
    """
    if requested is not None:
        return max(1, int(requested))
    cores = max(1, cpu_count or os.cpu_count() or 1)
    workers = min(cores - 1, num_tokens * dupe_factor // TOKENS_PER_WORKER)
    return int(workers) if workers >= 2 else 1


def create_pairs(documents: Sequence[Sequence[Sequence[int]]], *, max_sequence_length: int,
                 pair_task: str, cls_id: int, sep_id: int, pad_id: int = 0,
                 short_seq_prob: float = 0.1, dupe_factor: int = 1, seed: int = 0,
                 num_workers: int | None = None,
                 progress: Callable[[int], None] | None = None) -> dict[str, np.ndarray]:
    """Builds every pair of the corpus.

    Args:
        documents: `TokenizedCorpus`, or documents, each a sequence of segments (sentences)
            of token ids.
        max_sequence_length: int. Length of each row, special tokens and padding included.
        pair_task: str. `"nsp"` or `"sop"`.
        cls_id, sep_id, pad_id: int. Special token ids.
        short_seq_prob: float. Probability of a shorter target length. Defaults to 0.1.
        dupe_factor: int. Passes over the corpus, each with different random choices.
            Defaults to 1.
        seed: int. Same seed, same pairs. Defaults to 0.
        num_workers: int or None. Worker processes, 1 = in process; None = `choose_num_workers`
            (in process below `TOKENS_PER_WORKER` tokens). The pairs do not depend on it.
        progress: callable or None. Called with the number of documents done after each chunk.

    Returns:
        Dict of numpy arrays: `token_ids`, `segment_ids`, `padding_mask` int32
        `[num_pairs, max_sequence_length]`, `pair_label` int32 `[num_pairs]` and
        `document_id` int32 `[num_pairs]` (the document segment A comes from, numbered as in
        `documents`; written into the records as the feature of the same name).
    """
    options = PairOptions(  # Checks the settings.
        max_sequence_length=max_sequence_length, pair_task=pair_task, cls_id=cls_id,
        sep_id=sep_id, pad_id=pad_id, short_seq_prob=short_seq_prob, seed=seed)
    if dupe_factor < 1:
        raise ValueError(f"`dupe_factor` must be >= 1. Received: dupe_factor={dupe_factor}")
    if pair_task == "nsp" and len(documents) < 2:
        raise ValueError("NSP needs at least 2 documents to draw random next segments. "
                         f"Received: {len(documents)} document(s)")
    corpus = TokenizedCorpus.from_documents(documents)
    jobs = [(dupe, start, min(start + _CHUNK_DOCUMENTS, len(corpus)), options)
            for dupe in range(dupe_factor) for start in range(0, len(corpus), _CHUNK_DOCUMENTS)]
    num_workers = min(choose_num_workers(corpus.num_tokens, dupe_factor, num_workers),
                      max(1, len(jobs)))
    results = []
    if num_workers <= 1:
        with _DOCUMENT_LOCK:  # The chunk code reads a module global: one caller at a time.
            previous = _WORKER_DOCUMENTS
            _init_worker(corpus)
            try:
                for job in jobs:
                    results.append(_pack_rows(corpus.token_ids, _spans_for_chunk(job), options))
                    if progress:
                        progress(job[2] - job[1])
            finally:
                _init_worker(previous)
    else:
        # "spawn", not "fork": forking a process whose TensorFlow threads hold locks can leave
        # the children waiting forever (seen here when prepare ran after model code). The
        # workers import this module (numpy only), never TensorFlow.
        context = multiprocessing.get_context("spawn")
        # Workers send back offsets only (6 numbers a row); the rows are filled here.
        with context.Pool(num_workers, initializer=_init_worker, initargs=(corpus,)) as pool:
            for job, spans in zip(jobs, pool.imap(_spans_for_chunk, jobs)):
                results.append(_pack_rows(corpus.token_ids, spans, options))
                if progress:
                    progress(job[2] - job[1])
    if not results:
        return _pack_rows(corpus.token_ids, np.zeros([0, 6], np.int64), options)
    return {key: np.concatenate([r[key] for r in results]) for key in results[0]}


def document_pairs(documents: Sequence[Sequence[Sequence[int]]], index: int, *, dupe: int = 0,
                   max_sequence_length: int, pair_task: str, cls_id: int, sep_id: int,
                   pad_id: int = 0, short_seq_prob: float = 0.1,
                   seed: int = 0) -> dict[str, np.ndarray]:
    """The rows `create_pairs` makes from one document in one pass (same arrays, same order).

    For runners that split the work by document (`prepare --runner beam`): the rows of
    `(dupe, index)` come from its own generator, so they do not depend on which worker makes
    them. Arguments as in `create_pairs` (checked again by `PairOptions`, which is cheap).

    Args:
        documents: sequence-like (`len()` and `[i]`) of documents. SOP reads only
            `documents[index]`; NSP also reads random other documents.
        index: int. The document, as numbered in `create_pairs`.
        dupe: int. The pass over the corpus, in `[0, dupe_factor)`. Defaults to 0.

    Returns:
        The dict of `create_pairs` for this document's rows only.
    """
    options = PairOptions(
        max_sequence_length=max_sequence_length, pair_task=pair_task, cls_id=cls_id,
        sep_id=sep_id, pad_id=pad_id, short_seq_prob=short_seq_prob, seed=seed)
    with _DOCUMENT_LOCK:  # The chunk code reads a module global: one caller at a time.
        previous = _WORKER_DOCUMENTS
        _init_worker(documents)
        try:
            return _pairs_for_chunk((dupe, index, index + 1, options))
        finally:
            _init_worker(previous)


def _init_worker(documents: Sequence) -> None:
    global _WORKER_DOCUMENTS, _WORKER_SOURCE
    _WORKER_DOCUMENTS = documents
    _WORKER_SOURCE = (CorpusSource(documents) if isinstance(documents, TokenizedCorpus)
                      else SequenceSource(documents))


def _pairs_for_chunk(job) -> dict[str, np.ndarray]:
    """The rows of the documents `start:end` of `_WORKER_DOCUMENTS` in pass `dupe`."""
    spans = _spans_for_chunk(job)
    return _pack_rows(_WORKER_SOURCE.token_ids(), spans, job[3])


def _spans_for_chunk(job) -> np.ndarray:
    """int64 `(rows, 6)`: `(a_start, a_length, b_start, b_length, label, document)` per row."""
    dupe, start, end, options = job
    spans: list[tuple[int, int, int, int, int, int]] = []
    # The generator of each document is `default_rng([seed, dupe, index])`, made faster.
    for index, rng in zip(range(start, end), default_rngs([options.seed, dupe],
                                                          range(start, end))):
        document_spans(_WORKER_SOURCE, index, rng, options, spans)
    return np.array(spans, np.int64).reshape(-1, 6)


def _pack_rows(token_ids: np.ndarray, table: np.ndarray,
               options: PairOptions) -> dict[str, np.ndarray]:
    """`[CLS] A [SEP] B [SEP]` rows from the span table of `_spans_for_chunk` over
    `token_ids`, filled with numpy indexing (no per-row Python)."""
    length = options.max_sequence_length
    table = np.asarray(table, np.int64).reshape(-1, 6)
    a_start, a_length, b_start, b_length = (table[:, k:k + 1] for k in range(4))  # (rows, 1)
    position = np.arange(length)[None, :]  # (1, seq)
    b_first = a_length + 2
    in_a = (position >= 1) & (position <= a_length)  # (rows, seq)
    in_b = (position >= b_first) & (position < b_first + b_length)
    source = np.where(in_a, a_start + position - 1, b_start + position - b_first)
    token = token_ids[np.where(in_a | in_b, source, 0)] if len(token_ids) else \
        np.zeros(source.shape, np.int32)
    token_ids_out = np.where(in_a | in_b, token, options.pad_id).astype(np.int32)
    separators = (position == a_length + 1) | (position == b_first + b_length)
    token_ids_out[separators] = options.sep_id
    token_ids_out[:, 0] = options.cls_id
    return {"token_ids": token_ids_out,
            "segment_ids": ((position >= b_first) & (position <= b_first + b_length)).astype(np.int32),
            "padding_mask": (position <= b_first + b_length).astype(np.int32),
            "pair_label": table[:, 4].astype(np.int32),
            "document_id": table[:, 5].astype(np.int32)}
