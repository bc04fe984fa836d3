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
result does not depend on how the work is split: chunks of documents run in `num_workers`
worker processes (spawned) and come back in order.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from typing import Callable, Sequence

import numpy as np

from albert_keras.data.sequence_layout import PAIR_SPECIAL_TOKENS

PAIR_TASKS = ("nsp", "sop")
_CHUNK_DOCUMENTS = 64
_WORKER_DOCUMENTS: Sequence = ()  # Set in each worker process by `_init_worker`.
_DOCUMENT_LOCK = threading.Lock()


def create_pairs(documents: Sequence[Sequence[Sequence[int]]], *, max_sequence_length: int,
                 pair_task: str, cls_id: int, sep_id: int, pad_id: int = 0,
                 short_seq_prob: float = 0.1, dupe_factor: int = 1, seed: int = 0,
                 num_workers: int | None = None,
                 progress: Callable[[int], None] | None = None) -> dict[str, np.ndarray]:
    """Builds every pair of the corpus.

    Args:
        documents: documents, each a sequence of segments (sentences) of token ids.
        max_sequence_length: int. Length of each row, special tokens and padding included.
        pair_task: str. `"nsp"` or `"sop"`.
        cls_id, sep_id, pad_id: int. Special token ids.
        short_seq_prob: float. Probability of a shorter target length. Defaults to 0.1.
        dupe_factor: int. Passes over the corpus, each with different random choices.
            Defaults to 1.
        seed: int. Same seed, same pairs. Defaults to 0.
        num_workers: int or None. Worker processes; None = `os.cpu_count()`, 1 = in process.
        progress: callable or None. Called with the number of documents done after each chunk.

    Returns:
        Dict of numpy arrays: `token_ids`, `segment_ids`, `padding_mask` int32
        `[num_pairs, max_sequence_length]`, `pair_label` int32 `[num_pairs]` and
        `document_index` int32 `[num_pairs]` (the document segment A comes from).
    """
    if pair_task not in PAIR_TASKS:
        raise ValueError(f"`pair_task` must be one of {PAIR_TASKS}. Received: pair_task={pair_task!r}")
    if max_sequence_length < 5:
        raise ValueError("`max_sequence_length` must be >= 5. "
                         f"Received: max_sequence_length={max_sequence_length}")
    if not 0.0 <= short_seq_prob <= 1.0:
        raise ValueError("`short_seq_prob` must be in [0, 1]. "
                         f"Received: short_seq_prob={short_seq_prob}")
    if dupe_factor < 1:
        raise ValueError(f"`dupe_factor` must be >= 1. Received: dupe_factor={dupe_factor}")
    if pair_task == "nsp" and len(documents) < 2:
        raise ValueError("NSP needs at least 2 documents to draw random next segments. "
                         f"Received: {len(documents)} document(s)")
    options = dict(max_sequence_length=max_sequence_length, pair_task=pair_task, cls_id=cls_id,
                   sep_id=sep_id, pad_id=pad_id, short_seq_prob=short_seq_prob, seed=seed)
    jobs = [(dupe, start, min(start + _CHUNK_DOCUMENTS, len(documents)), options)
            for dupe in range(dupe_factor) for start in range(0, len(documents), _CHUNK_DOCUMENTS)]
    num_workers = (os.cpu_count() or 1) if num_workers is None else num_workers
    results = []
    if num_workers <= 1 or len(jobs) <= 1:
        _init_worker(documents)
        try:
            for job in jobs:
                results.append(_pairs_for_chunk(job))
                if progress:
                    progress(job[2] - job[1])
        finally:
            _init_worker(())
    else:
        # "spawn", not "fork": forking a process whose TensorFlow threads hold locks can leave
        # the children waiting forever (seen here when prepare ran after model code).
        context = multiprocessing.get_context("spawn")
        with context.Pool(min(num_workers, len(jobs)), initializer=_init_worker,
                          initargs=(documents,)) as pool:
            for job, result in zip(jobs, pool.imap(_pairs_for_chunk, jobs)):
                results.append(result)
                if progress:
                    progress(job[2] - job[1])
    return {key: np.concatenate([r[key] for r in results]) for key in results[0]}



def document_pairs(documents: Sequence[Sequence[Sequence[int]]], index: int, *, dupe: int = 0,
                   max_sequence_length: int, pair_task: str, cls_id: int, sep_id: int,
                   pad_id: int = 0, short_seq_prob: float = 0.1,
                   seed: int = 0) -> dict[str, np.ndarray]:
    """The rows `create_pairs` makes from one document in one pass (same arrays, same order).

    For runners that split the work by document (`prepare --runner beam`): the rows of
    `(dupe, index)` come from its own generator, so they do not depend on which worker makes
    them. Arguments as in `create_pairs`; settings are not checked again here.

    Args:
        documents: sequence-like (`len()` and `[i]`) of documents. SOP reads only
            `documents[index]`; NSP also reads random other documents.
        index: int. The document, as numbered in `create_pairs`.
        dupe: int. The pass over the corpus, in `[0, dupe_factor)`. Defaults to 0.

    Returns:
        The dict of `create_pairs` for this document's rows only.
    """
    options = dict(max_sequence_length=max_sequence_length, pair_task=pair_task, cls_id=cls_id,
                   sep_id=sep_id, pad_id=pad_id, short_seq_prob=short_seq_prob, seed=seed)
    with _DOCUMENT_LOCK:  # The chunk code reads a module global: one caller at a time.
        previous = _WORKER_DOCUMENTS
        _init_worker(documents)
        try:
            return _pairs_for_chunk((dupe, index, index + 1, options))
        finally:
            _init_worker(previous)

def _init_worker(documents: Sequence) -> None:
    global _WORKER_DOCUMENTS
    _WORKER_DOCUMENTS = documents


def _pairs_for_chunk(job) -> dict[str, np.ndarray]:
    dupe, start, end, options = job
    length = options["max_sequence_length"]
    rows: list[tuple[np.ndarray, np.ndarray, int, int]] = []
    for index in range(start, end):
        rng = np.random.default_rng([options["seed"], dupe, index])
        for tokens_a, tokens_b, label in _document_pairs(_WORKER_DOCUMENTS, index, rng, options):
            rows.append((tokens_a, tokens_b, label, index))
    count = len(rows)
    token_ids = np.full([count, length], options["pad_id"], np.int32)
    segment_ids = np.zeros([count, length], np.int32)
    padding_mask = np.zeros([count, length], np.int32)
    for row, (tokens_a, tokens_b, _, _) in enumerate(rows):
        a, b = len(tokens_a), len(tokens_b)
        token_ids[row, 0] = options["cls_id"]
        token_ids[row, 1:1 + a] = tokens_a
        token_ids[row, 1 + a] = options["sep_id"]
        token_ids[row, 2 + a:2 + a + b] = tokens_b
        token_ids[row, 2 + a + b] = options["sep_id"]
        segment_ids[row, 2 + a:3 + a + b] = 1
        padding_mask[row, :3 + a + b] = 1
    return {"token_ids": token_ids, "segment_ids": segment_ids, "padding_mask": padding_mask,
            "pair_label": np.array([r[2] for r in rows], np.int32).reshape(count),
            "document_index": np.array([r[3] for r in rows], np.int32).reshape(count)}


def _document_pairs(documents: Sequence, index: int, rng: np.random.Generator, options: dict):
    """Yields `(tokens_a, tokens_b, label)` for one document (the original loop)."""
    document = [np.asarray(s, np.int32) for s in documents[index] if len(s)]
    max_num_tokens = options["max_sequence_length"] - PAIR_SPECIAL_TOKENS
    target = max_num_tokens
    if rng.random() < options["short_seq_prob"]:
        target = int(rng.integers(2, max_num_tokens + 1))
    chunk: list[np.ndarray] = []
    chunk_length = 0
    i = 0
    while i < len(document):
        chunk.append(document[i])
        chunk_length += len(document[i])
        if i == len(document) - 1 or chunk_length >= target:
            split_single = len(chunk) == 1 and len(chunk[0]) >= 2
            if split_single:
                cut = int(rng.integers(1, len(chunk[0])))
                chunk = [chunk[0][:cut], chunk[0][cut:]]
            a_end = int(rng.integers(1, len(chunk))) if len(chunk) >= 2 else 1
            tokens_a = np.concatenate(chunk[:a_end])
            tokens_b = np.concatenate(chunk[a_end:]) if len(chunk) > a_end else tokens_a[:0]
            label = 0
            if options["pair_task"] == "nsp":
                if not len(tokens_b) or rng.random() < 0.5:
                    label = 1
                    tokens_b = _random_segments(documents, index, target - len(tokens_a), rng)
                    if not split_single:
                        i -= len(chunk) - a_end  # Put the unused segments back.
            elif len(tokens_b) and rng.random() < 0.5:
                label = 1
            tokens_a, tokens_b = _truncate_pair(tokens_a, tokens_b, max_num_tokens, rng)
            if options["pair_task"] == "sop" and label:
                tokens_a, tokens_b = tokens_b, tokens_a
            if len(tokens_a) and len(tokens_b):
                yield tokens_a, tokens_b, label
            chunk, chunk_length = [], 0
        i += 1


def _random_segments(documents: Sequence, index: int, target_length: int,
                     rng: np.random.Generator) -> np.ndarray:
    """Consecutive segments of another document, from a random start, about `target_length`."""
    other = int(rng.integers(0, len(documents) - 1))
    other += other >= index
    segments = [s for s in documents[other] if len(s)]
    if not segments:
        return np.zeros([0], np.int32)
    tokens = []
    length = 0
    for segment in segments[int(rng.integers(0, len(segments))):]:
        tokens.append(np.asarray(segment, np.int32))
        length += len(segment)
        if length >= target_length:
            break
    return np.concatenate(tokens)


def _truncate_pair(tokens_a: np.ndarray, tokens_b: np.ndarray, max_num_tokens: int,
                   rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Trims the longer side, one token at a time from its front or back, until the pair fits."""
    a_start, a_end, b_start, b_end = 0, len(tokens_a), 0, len(tokens_b)
    excess = a_end + b_end - max_num_tokens
    if excess <= 0:
        return tokens_a, tokens_b
    for front in rng.random(excess) < 0.5:
        if a_end - a_start > b_end - b_start:
            a_start, a_end = (a_start + 1, a_end) if front else (a_start, a_end - 1)
        else:
            b_start, b_end = (b_start + 1, b_end) if front else (b_start, b_end - 1)
    return tokens_a[a_start:a_end], tokens_b[b_start:b_end]
