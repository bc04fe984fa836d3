"""Tiny tokenizers shared by the tests, and texts that requests from the wild hold."""

from __future__ import annotations

import functools

import keras_hub
import numpy as np

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
    return keras_hub.tokenizers.SentencePieceTokenizer(proto=sentencepiece_proto())


@functools.lru_cache(maxsize=1)
def sentencepiece_proto() -> bytes:
    """The serialized SentencePiece model of `sentencepiece()` (trained once per process)."""
    from albert_keras.tokenizers.tokenizer_training import train_tokenizer

    rng = np.random.default_rng(0)
    sentences = [" ".join(rng.choice(WORDS, size=12)) for _ in range(300)]
    return train_tokenizer(sentences, "sentencepiece", vocabulary_size=48).proto
