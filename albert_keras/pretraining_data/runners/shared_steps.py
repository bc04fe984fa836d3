"""What the local and the Beam runner share: the layout of a record set (shard prefix, the files
that publish it), the tokenizer step, the held-out split and the printed summary.

Both runners import it; neither imports the other (`pretraining_data.prepare` picks one).
"""

from __future__ import annotations

import os
import sys
from typing import Any

import numpy as np

from albert_keras import tokenizers
from albert_keras.pretraining_data import corpus as corpus_lib
from albert_keras.pretraining_data.data_config import DataConfig
from albert_keras.pretraining_data.records.records_manifest import HELD_OUT_DIR, MANIFEST
from albert_keras.utils.tokenizer_beside import TOKENIZER_DIR

__all__ = ["HELD_OUT_DIR", "PUBLISHED_BY", "SHARD_PREFIX", "TOKENIZER_DIR", "format_summary",
           "make_tokenizer", "split_documents"]
SHARD_PREFIX = "pretraining"
# The files that publish a record set, the main manifest last (`atomic_files.write_atomic`: on
# a URL a set is replaced file by file, and a reader takes none without its manifest).
PUBLISHED_BY = (os.path.join(HELD_OUT_DIR, MANIFEST), MANIFEST)


def format_summary(summary: dict[str, Any]) -> str:
    """The lines both runners print at the end of a run."""
    skipped = ", ".join(f"{k}={v}" for k, v in summary["skipped"].items())
    return (f"prepared {summary['name']} in {summary['seconds']:.1f}s -> {summary['output_dir']}\n"
            f"  documents {summary['documents']:,}  sentences {summary['sentences']:,}  "
            f"tokens {summary['tokens']:,}\n"
            f"  sequences {summary['sequences']:,} ({summary['pair_label_1']:,} with pair_label 1)  "
            f"shards {summary['shards']}\n"
            f"  skipped: {skipped}"
            + (f"\n  lines longer than {corpus_lib.MAX_LINE_CHARS} characters cut into sentences: "
               f"{summary['long_lines_split']:,}" if summary.get("long_lines_split") else ""))


def split_documents(documents: list, fraction: float, seed: int) -> tuple[list, list]:
    """(kept, held out): `fraction` of the documents, at least 1, drawn with `seed`."""
    count = max(1, round(fraction * len(documents)))
    if count >= len(documents):
        raise ValueError(f"`data.held_out_fraction` leaves no training documents: "
                         f"{len(documents)} document(s), data.held_out_fraction={fraction}")
    chosen = set(np.random.default_rng([seed, 1]).choice(len(documents), count, replace=False))
    return ([d for i, d in enumerate(documents) if i not in chosen],
            [d for i, d in enumerate(documents) if i in chosen])


def make_tokenizer(data: DataConfig, documents: list[list[str]], progress: bool):
    """`data.tokenizer_path` loaded, or a tokenizer trained on the (training) documents.

    Both runners call it once, before their records pipeline."""
    if data.tokenizer_path:
        return tokenizers.load_tokenizer(data.tokenizer_path)
    sentences = [s for d in documents for s in d]
    if progress:
        print(f"training a {data.tokenizer} tokenizer (vocabulary_size={data.vocabulary_size}) "
              f"on {len(sentences)} sentences", file=sys.stderr)
    return tokenizers.train_tokenizer(sentences, data.tokenizer, data.vocabulary_size,
                                      data.lowercase, data.strip_accents)
