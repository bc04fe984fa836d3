"""Where each pair's segments lie: A and B as offsets into one flat array of token ids.

The per-document loop of `create_pairs` (Python, for the random choices), which only moves
integer offsets; `create_pairs` then fills the rows of a whole chunk with numpy indexing.
`CorpusSource` reads the offsets of a `TokenizedCorpus`, `SequenceSource` those of any
sequence of documents (a Beam side input).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from albert_keras.pretraining_data.pairs.pair_options import PairOptions
from albert_keras.pretraining_data.pairs.tokenized_corpus import TokenizedCorpus
from albert_keras.tokenizers.sequence_layout import PAIR_SPECIAL_TOKENS


class CorpusSource:
    """Sentence boundaries of a `TokenizedCorpus`, as offsets into its flat ids."""

    def __init__(self, corpus: TokenizedCorpus):
        self.corpus = corpus
        self.num_documents = len(corpus)
        self._sentence_starts = corpus.sentence_starts.tolist()
        self._document_starts = corpus.document_starts.tolist()
        self._has_empty = bool(np.any(np.diff(corpus.sentence_starts) == 0))

    def bounds(self, index: int) -> list[int]:
        """`[start of sentence 0, end of 0 = start of 1, ..., end]` of the non-empty sentences."""
        bounds = self._sentence_starts[self._document_starts[index]:
                                       self._document_starts[index + 1] + 1]
        if self._has_empty:
            bounds = bounds[:1] + [b for a, b in zip(bounds, bounds[1:]) if b != a]
        return bounds

    def token_ids(self) -> np.ndarray:
        return self.corpus.token_ids


class SequenceSource:
    """The same for any sequence of documents (e.g. a Beam side input): the documents read
    are laid out one after the other in a buffer as they are first needed."""

    def __init__(self, documents: Sequence):
        self.documents = documents
        self.num_documents = len(documents)
        self._bounds: dict[int, list[int]] = {}
        self._pieces: list[np.ndarray] = []
        self._size = 0

    def bounds(self, index: int) -> list[int]:
        if index not in self._bounds:
            bounds = [self._size]
            for sentence in self.documents[index]:
                if len(sentence):
                    self._pieces.append(np.asarray(sentence, np.int32).reshape(-1))
                    bounds.append(bounds[-1] + len(sentence))
            self._size = bounds[-1]
            self._bounds[index] = bounds
        return self._bounds[index]

    def token_ids(self) -> np.ndarray:
        return np.concatenate(self._pieces) if self._pieces else np.zeros([0], np.int32)


def document_spans(source, index: int, rng: np.random.Generator, options: PairOptions,
                    spans: list) -> None:
    """Appends `(a_start, a_length, b_start, b_length, label, index)` for one document.

    The original loop, on offsets: a chunk is the sentences `first..i`, i.e. the offsets
    `bounds[first:i + 2]`; A is its first pieces and B the rest, each one contiguous run.
    """
    bounds = source.bounds(index)
    num_sentences = len(bounds) - 1
    max_num_tokens = options.max_sequence_length - PAIR_SPECIAL_TOKENS
    nsp = options.pair_task == "nsp"
    target = max_num_tokens
    if rng.random() < options.short_seq_prob:
        target = int(rng.integers(2, max_num_tokens + 1))
    first = 0
    i = 0
    while i < num_sentences:
        if i == num_sentences - 1 or bounds[i + 1] - bounds[first] >= target:
            pieces = bounds[first:i + 2]
            split_single = i == first and pieces[1] - pieces[0] >= 2
            if split_single:
                cut = int(rng.integers(1, pieces[1] - pieces[0]))
                pieces = [pieces[0], pieces[0] + cut, pieces[1]]
            count = len(pieces) - 1
            a_end = int(rng.integers(1, count)) if count >= 2 else 1
            a_start, a_stop = pieces[0], pieces[a_end]
            b_start, b_stop = (pieces[a_end], pieces[-1]) if count > a_end else (a_stop, a_stop)
            label = 0
            if nsp:
                if b_stop == b_start or rng.random() < 0.5:
                    label = 1
                    b_start, b_stop = _random_span(source, index, target - (a_stop - a_start), rng)
                    if not split_single:
                        i -= count - a_end  # Put the unused segments back.
            elif b_stop > b_start and rng.random() < 0.5:
                label = 1
            a_start, a_stop, b_start, b_stop = truncate_pair(a_start, a_stop, b_start, b_stop,
                                                              max_num_tokens, rng)
            if not nsp and label:
                a_start, a_stop, b_start, b_stop = b_start, b_stop, a_start, a_stop
            if a_stop > a_start and b_stop > b_start:
                spans.append((a_start, a_stop - a_start, b_start, b_stop - b_start, label, index))
            first = i + 1
        i += 1


def _random_span(source, index: int, target_length: int,
                 rng: np.random.Generator) -> tuple[int, int]:
    """Consecutive segments of another document, from a random start, about `target_length`."""
    other = int(rng.integers(0, source.num_documents - 1))
    other += other >= index
    bounds = source.bounds(other)
    if len(bounds) < 2:
        return 0, 0
    start = int(rng.integers(0, len(bounds) - 1))
    stop = start + 1
    while bounds[stop] - bounds[start] < target_length and stop < len(bounds) - 1:
        stop += 1
    return bounds[start], bounds[stop]


def truncate_pair(a_start: int, a_stop: int, b_start: int, b_stop: int, max_num_tokens: int,
                   rng: np.random.Generator) -> tuple[int, int, int, int]:
    """Trims the longer side, one token at a time from its front or back, until the pair fits.

    One coin per trimmed token (`rng.random(excess)`), as in the original loop. Which side
    each token comes from does not depend on the coins: first the longer side until both
    are equal (`|a - b|` tokens), then B, A, B, A, ... So the coins are summed per side.
    """
    a_length, b_length = a_stop - a_start, b_stop - b_start
    excess = a_length + b_length - max_num_tokens
    if excess <= 0:
        return a_start, a_stop, b_start, b_stop
    front = (rng.random(excess) < 0.5).tolist()
    lead = min(abs(a_length - b_length), excess)
    if a_length > b_length:
        a_coins, b_coins = front[:lead] + front[lead + 1::2], front[lead::2]
    else:
        a_coins, b_coins = front[lead + 1::2], front[:lead] + front[lead::2]
    a_front, b_front = sum(a_coins), sum(b_coins)
    return (a_start + a_front, a_stop - (len(a_coins) - a_front),
            b_start + b_front, b_stop - (len(b_coins) - b_front))
