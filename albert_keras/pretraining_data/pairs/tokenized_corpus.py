"""`TokenizedCorpus`: documents of sentences of token ids, held as three flat arrays."""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np


@dataclasses.dataclass(frozen=True)
class TokenizedCorpus:
    """A tokenized corpus: every token in one array, sentences and documents as offsets.

    What `prepare` hands from tokenizing to the pairs: one copy of the ids (4 bytes a token)
    that pickles in one piece to worker processes, instead of a Python list per document
    and a numpy array per sentence. It is also a sequence of documents (`len`, `[i]`,
    iteration), each a list of int32 arrays (one per sentence), like `create_pairs` takes.

    Args:
        token_ids: int32 array `(num_tokens,)`. The ids of all sentences, in order.
        sentence_starts: int64 array `(num_sentences + 1,)`. Sentence `s` is
            `token_ids[sentence_starts[s]:sentence_starts[s + 1]]`.
        document_starts: int64 array `(num_documents + 1,)`. Document `d` holds the sentences
            `document_starts[d]` to `document_starts[d + 1] - 1`.

    Example:
    ```python
    corpus = TokenizedCorpus.from_documents([[[5, 6], [7]], [[8, 9, 10]]])
    assert (len(corpus), corpus.num_tokens) == (2, 6)
    assert [s.tolist() for s in corpus[0]] == [[5, 6], [7]]
    ```
    """

    token_ids: np.ndarray
    sentence_starts: np.ndarray
    document_starts: np.ndarray

    @classmethod
    def from_documents(cls, documents: Sequence[Sequence[Sequence[int]]]) -> TokenizedCorpus:
        """From documents given as sequences of sentences of token ids."""
        if isinstance(documents, TokenizedCorpus):
            return documents
        sentences = [np.asarray(s, np.int32).reshape(-1) for d in documents for s in d]
        lengths = np.fromiter((len(s) for s in sentences), np.int64, len(sentences))
        counts = np.fromiter((len(d) for d in documents), np.int64, len(documents))
        token_ids = np.concatenate(sentences) if sentences else np.zeros([0], np.int32)
        return cls(token_ids, _starts(lengths), _starts(counts))

    @classmethod
    def from_lengths(cls, token_ids: np.ndarray, sentence_lengths: np.ndarray,
                     document_sentences: np.ndarray) -> TokenizedCorpus:
        """From the flat ids, each sentence's length and each document's sentence count."""
        return cls(np.asarray(token_ids, np.int32), _starts(sentence_lengths),
                   _starts(document_sentences))

    @property
    def num_tokens(self) -> int:
        return int(len(self.token_ids))

    @property
    def num_sentences(self) -> int:
        return int(len(self.sentence_starts) - 1)

    def __len__(self) -> int:
        return int(len(self.document_starts) - 1)

    def __getitem__(self, index: int) -> list[np.ndarray]:
        """Document `index` as a list of int32 arrays, one per sentence (views, not copies)."""
        first, last = self.document_starts[index], self.document_starts[index + 1]
        starts = self.sentence_starts[first:last + 1]
        return [self.token_ids[begin:end] for begin, end in zip(starts[:-1], starts[1:])]

    def __iter__(self):
        return (self[index] for index in range(len(self)))


def _starts(counts) -> np.ndarray:
    """Offsets `(n + 1,)` from counts `(n,)`: 0 first, then the running sum."""
    starts = np.zeros(len(counts) + 1, np.int64)
    np.cumsum(counts, out=starts[1:])
    return starts
