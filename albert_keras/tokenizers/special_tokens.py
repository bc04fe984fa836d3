"""The special tokens of the two tokenizers, and which tokens continue a word.

Special ids: SentencePiece `<pad>` 0, `<unk>` 1, `[CLS]` 2, `[SEP]` 3, `[MASK]` 4 (the ALBERT
layout); WordPiece `[PAD]` 0, `[UNK]` 1, `[CLS]` 2, `[SEP]` 3, `[MASK]` 4 when trained here,
wherever they are in a loaded `vocab.txt` (e.g. 0/100/101/102/103 in Google's BERT vocabulary).
"""

from __future__ import annotations

import string
from typing import Any

import numpy as np

SENTENCEPIECE_SPECIAL_TOKENS = {"pad": "<pad>", "unk": "<unk>", "cls": "[CLS]", "sep": "[SEP]",
                                "mask": "[MASK]"}
WORDPIECE_SPECIAL_TOKENS = {"pad": "[PAD]", "unk": "[UNK]", "cls": "[CLS]", "sep": "[SEP]",
                            "mask": "[MASK]"}
KINDS = ("sentencepiece", "wordpiece")
_WORD_START = "\u2581"  # SentencePiece's word-start marker.
_PUNCTUATION = frozenset(string.punctuation)


def tokenizer_kind(tokenizer) -> str:
    """`"sentencepiece"` or `"wordpiece"` for a keras-hub tokenizer."""
    import keras_hub

    if isinstance(tokenizer, keras_hub.tokenizers.SentencePieceTokenizer):
        return "sentencepiece"
    if isinstance(tokenizer, keras_hub.tokenizers.WordPieceTokenizer):
        return "wordpiece"
    raise ValueError("Expected a keras_hub SentencePieceTokenizer or WordPieceTokenizer. "
                     f"Received: tokenizer={type(tokenizer).__name__}")


def special_token_ids(tokenizer) -> dict[str, int]:
    """`{"pad", "unk", "cls", "sep", "mask"}` -> id, looked up by token string.

    Raises ValueError naming the missing token when the vocabulary lacks one of them.
    """
    kind = tokenizer_kind(tokenizer)
    names = SENTENCEPIECE_SPECIAL_TOKENS if kind == "sentencepiece" else WORDPIECE_SPECIAL_TOKENS
    vocabulary = tokenizer.get_vocabulary()
    index = {token: i for i, token in enumerate(vocabulary)}
    ids = {}
    for key, token in names.items():
        if token not in index:
            raise ValueError(f"The {kind} vocabulary has no {key} token {token!r} "
                             f"(vocabulary_size={len(vocabulary)}).")
        ids[key] = index[token]
    return ids


def continuation_table(tokenizer) -> np.ndarray:
    """Boolean `[vocabulary_size]`: True where a token continues the word before it.

    WordPiece: tokens with the `##` prefix. SentencePiece: pieces without the `▁` word-start
    marker, except special/control pieces and single punctuation marks (which start a word, as
    in ALBERT's `_is_start_piece`). Whole-word and n-gram masking use this table so that
    `mask_tokens` stays a tensor function.
    """
    kind = tokenizer_kind(tokenizer)
    vocabulary = tokenizer.get_vocabulary()
    if kind == "wordpiece":
        prefix = getattr(tokenizer, "suffix_indicator", "##")
        return np.array([token.startswith(prefix) for token in vocabulary], dtype=bool)
    special = set(special_token_ids(tokenizer).values())
    return np.array([not piece.startswith(_WORD_START) and i not in special
                     and not (piece.startswith("<") and piece.endswith(">"))
                     and piece not in _PUNCTUATION
                     for i, piece in enumerate(vocabulary)], dtype=bool)


def check_kind(kind: Any) -> None:
    """Raises ValueError unless `kind` is one of `KINDS`."""
    if kind not in KINDS:
        raise ValueError(f"Tokenizer `kind` must be one of {KINDS}. Received: kind={kind!r}")
