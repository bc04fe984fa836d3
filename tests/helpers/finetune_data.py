"""Tiny labelled data for the fine-tuning tests: a WordPiece vocabulary and files on disk.

The words decide the labels, so a tiny encoder can learn them in a few epochs: a review is
"pos" when it contains a positive word, a tagged word is ADJ when it is an opinion word.
Multi-letter words missing from the vocabulary split into several `##x` sub-tokens.
"""

from __future__ import annotations

import json
import os

import keras_hub
import numpy as np

POSITIVE = ("good", "great", "fine")
NEGATIVE = ("bad", "awful", "poor")
FILLER = ("the", "movie", "was", "a", "film", "very", "plot")
LETTERS = "abcdefghijklmnopqrstuvwxyz"
VOCABULARY = (["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + list(POSITIVE + NEGATIVE + FILLER)
              + [c for c in LETTERS if c != "a"] + ["##" + c for c in LETTERS] + [".", ","])
TINY_ENCODER = dict(num_layers=2, num_heads=2, hidden_dim=16, intermediate_dim=32,
                    max_sequence_length=32)


def tokenizer():
    return keras_hub.tokenizers.WordPieceTokenizer(vocabulary=VOCABULARY, lowercase=True)


def write_vocabulary(directory) -> str:
    path = os.path.join(str(directory), "vocab.txt")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(VOCABULARY) + "\n")
    return path


def reviews(count: int, seed: int) -> list[tuple[str, str]]:
    """`(text, label)` pairs: filler words and one opinion word."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(count):
        label = "pos" if rng.random() < 0.5 else "neg"
        words = list(rng.choice(FILLER, size=rng.integers(1, 12)))
        words.insert(int(rng.integers(0, len(words) + 1)),
                     str(rng.choice(POSITIVE if label == "pos" else NEGATIVE)))
        rows.append((" ".join(words), label))
    return rows


def write_csv(directory, name: str, rows, header=("text", "label"), delimiter=",") -> str:
    path = os.path.join(str(directory), name)
    with open(path, "w", encoding="utf-8") as f:
        if header:
            f.write(delimiter.join(header) + "\n")
        for row in rows:
            f.write(delimiter.join(row) + "\n")
    return path


def write_tagged(directory, name: str, count: int, seed: int) -> str:
    """Sentences of word/TAG tokens: ADJ for opinion words, X otherwise; some long words."""
    rng = np.random.default_rng(seed)
    lines = []
    for _ in range(count):
        tokens = []
        for _ in range(rng.integers(2, 9)):
            word = str(rng.choice(POSITIVE + NEGATIVE + FILLER + ("goodness", "zebra")))
            tokens.append(f"{word}/{'ADJ' if word in POSITIVE + NEGATIVE else 'X'}")
        lines.append(" ".join(tokens))
    path = os.path.join(str(directory), name)
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    return path


def write_squad(directory, name: str, count: int, seed: int) -> str:
    """A SQuAD-style file: the answer is the context's opinion word."""
    rng = np.random.default_rng(seed)
    paragraphs = []
    for i in range(count):
        word = str(rng.choice(POSITIVE + NEGATIVE))
        before = " ".join(rng.choice(FILLER, size=rng.integers(1, 6)))
        context = f"{before} {word} plot ."
        paragraphs.append({"context": context, "qas": [{
            "id": f"q{i}", "question": "was the movie good",
            "answers": [{"text": word, "answer_start": len(before) + 1}]}]})
    path = os.path.join(str(directory), name)
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"version": "1.1", "data": [{"title": "tiny", "paragraphs": paragraphs}]}, f)
    return path



def encode(examples, task: str, tokenizer, labels, max_sequence_length: int,
           training: bool = True, doc_stride: int | None = None,
           max_query_length: int = 64, **finetune_fields):
    """`examples` through the task's own `encode` (the training path), with a `FinetuneConfig`
    of these fields. Span extraction goes straight to the task's packer,
    `encode_span_examples`, which also takes what a config refuses (a sequence shorter than
    `max_query_length`) and `doc_stride=None` (no windows: the context cut to one sequence)."""
    from albert_keras.jobs.finetune_config import FinetuneConfig
    from albert_keras.tasks import task_named
    from albert_keras.tasks.inputs.span_packing import encode_span_examples
    from albert_keras.tokenizers.special_tokens import special_token_ids

    if task == "span_extraction":
        return encode_span_examples(examples, tokenizer, special_token_ids(tokenizer),
                                    max_sequence_length, max_query_length, training, doc_stride)
    ft = FinetuneConfig(task=task, max_sequence_length=max_sequence_length, **finetune_fields)
    return task_named(task).encode(examples, tokenizer, labels, ft, training=training)
