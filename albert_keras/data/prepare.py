"""`prepare`: corpus -> tokenizer -> sentence pairs -> TFRecord shards + manifest.

The stages and where they run: reading the corpus (Python), training the tokenizer
(SentencePiece's C++ trainer or keras-hub's WordPiece learner), tokenizing (tensorflow-text ops
in a parallel `tf.data` map), building pairs (worker processes, see `pairs.py`), optional static
masking (`mask_tokens` on batches), writing shards (`writer.py`). A progress bar follows each
stage and a summary ends the run.
"""

from __future__ import annotations

import collections
import dataclasses
import os
import sys
import time
from typing import Any

import numpy as np

from albert_keras.data import corpus as corpus_lib
from albert_keras.data import pairs, tokenizers, writer
from albert_keras.data.data_config import DataConfig

TOKENIZER_DIR = "tokenizer"
SHARD_PREFIX = "pretraining"
_TOKENIZE_BATCH = 1024
_MASK_BATCH = 1024


def prepare(config, static_masking: bool = False, progress: bool = True) -> dict[str, Any]:
    """Prepares the pretraining data of a pipeline config into `{data.output_dir}/{name}/`.

    Args:
        config: `PipelineConfig` (uses `name` and `data`).
        static_masking: bool. Also write `mask_positions`, `mask_ids`, `mask_weights` (the
            original, static setup). Defaults to False: masking happens in the reader.
        progress: bool. Show progress bars and print the summary. Defaults to True.

    Returns:
        The summary dict (also stored in `manifest.json`): counts of documents, sentences,
        sequences, tokens, shards, skipped input, and seconds.
    """
    import tensorflow as tf
    from tqdm.auto import tqdm

    data: DataConfig = config.data
    start = time.time()
    output_dir = os.path.join(data.output_dir, config.name)
    bar = _bars(tqdm, progress)

    stats: collections.Counter = collections.Counter()
    with bar(desc="read corpus", unit="doc") as pbar:
        documents = []
        for document in corpus_lib.read_documents(data.corpus, stats, data.max_documents,
                                                  data.tfds_text_key):
            documents.append(document)
            pbar.update(1)
    if not documents:
        raise ValueError(f"The corpus has no non-empty documents: data.corpus={data.corpus!r} "
                         f"(counts: {dict(stats)})")
    if data.pair_task == "nsp" and len(documents) < 2:
        raise ValueError("NSP needs at least 2 documents to draw random next segments. "
                         f"Received: {len(documents)} document(s) from data.corpus={data.corpus!r}")
    sentences = [s for d in documents for s in d]

    if data.tokenizer_path:
        tokenizer = tokenizers.load_tokenizer(data.tokenizer_path)
    else:
        if progress:
            print(f"training a {data.tokenizer} tokenizer (vocabulary_size={data.vocabulary_size}) "
                  f"on {len(sentences)} sentences", file=sys.stderr)
        tokenizer = tokenizers.train_tokenizer(sentences, data.tokenizer, data.vocabulary_size,
                                               data.lowercase, data.strip_accents)
    special = tokenizers.special_token_ids(tokenizer)
    tokenizers.save_tokenizer(tokenizer, os.path.join(output_dir, TOKENIZER_DIR))

    with bar(total=len(sentences), desc="tokenize", unit="sent") as pbar:
        token_lists = _tokenize(tokenizer, sentences, pbar.update)
    tokenized, position = [], 0
    for document in documents:
        tokenized.append(token_lists[position:position + len(document)])
        position += len(document)
    del documents, sentences

    with bar(total=len(tokenized) * data.dupe_factor, desc="pairs", unit="doc") as pbar:
        rows = pairs.create_pairs(
            tokenized, max_sequence_length=data.max_sequence_length, pair_task=data.pair_task,
            cls_id=special["cls"], sep_id=special["sep"], pad_id=special["pad"],
            short_seq_prob=data.short_seq_prob, dupe_factor=data.dupe_factor, seed=data.seed,
            num_workers=data.num_workers, progress=pbar.update)
    num_sequences = len(rows["token_ids"])
    if not num_sequences:
        raise ValueError(f"No sentence pairs could be made from data.corpus={data.corpus!r}: "
                         "documents need at least 2 tokens.")

    masking = {"mode": data.masking, "mask_rate": data.mask_rate,
               "max_predictions": data.max_predictions, "max_ngram": data.max_ngram}
    if static_masking:
        rows.update(_static_masks(rows["token_ids"], rows["padding_mask"], tokenizer, special,
                                  masking, data.seed))

    compression = "GZIP" if data.compression == "gzip" else None
    with bar(total=num_sequences, desc="write", unit="seq") as pbar:
        shards = writer.write_shards(rows, output_dir, num_shards=data.num_shards,
                                     prefix=SHARD_PREFIX, compression=compression,
                                     seed=data.seed, progress=pbar.update)
    summary = {
        "name": config.name,
        "output_dir": output_dir,
        "documents": stats["documents"],
        "sentences": stats["sentences"],
        "sequences": num_sequences,
        "tokens": int(sum(len(t) for t in token_lists)),
        "sequence_tokens": int(rows["padding_mask"].sum()),
        "pair_label_1": int(rows["pair_label"].sum()),
        "shards": len(shards),
        "files": stats["files"],
        "skipped": {key: stats[key] for key in ("empty_files", "empty_documents",
                                                 "invalid_utf8_lines")},
        "seconds": round(time.time() - start, 2),
    }
    manifest = {
        **summary,
        "max_sequence_length": data.max_sequence_length,
        "pair_task": data.pair_task,
        "static_masking": bool(static_masking),
        "masking": masking,
        "compression": compression,
        "tokenizer": TOKENIZER_DIR,
        "tokenizer_kind": tokenizers.tokenizer_kind(tokenizer),
        "vocabulary_size": int(tokenizer.vocabulary_size()),
        "special_token_ids": special,
        "seed": data.seed,
        "shard_files": shards,
        "data_config": dataclasses.asdict(data),
        "tensorflow_version": tf.__version__,
    }
    writer.write_manifest(output_dir, manifest)
    if progress:
        print(format_summary(summary), file=sys.stderr)
    return summary


def format_summary(summary: dict[str, Any]) -> str:
    skipped = ", ".join(f"{k}={v}" for k, v in summary["skipped"].items())
    return (f"prepared {summary['name']} in {summary['seconds']:.1f}s -> {summary['output_dir']}\n"
            f"  documents {summary['documents']:,}  sentences {summary['sentences']:,}  "
            f"tokens {summary['tokens']:,}\n"
            f"  sequences {summary['sequences']:,} ({summary['pair_label_1']:,} with pair_label 1)  "
            f"shards {summary['shards']}\n"
            f"  skipped: {skipped}")


def _tokenize(tokenizer, sentences: list[str], update) -> list[np.ndarray]:
    """Token ids of every sentence, tokenized by a parallel `tf.data` map (order kept)."""
    import tensorflow as tf

    dataset = (tf.data.Dataset.from_tensor_slices(tf.constant(sentences, tf.string))
               .batch(_TOKENIZE_BATCH)
               .map(tokenizer, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
               .prefetch(tf.data.AUTOTUNE))
    token_lists: list[np.ndarray] = []
    for ragged in dataset:
        values = ragged.flat_values.numpy().astype(np.int32)
        splits = ragged.row_splits.numpy()
        token_lists.extend(np.split(values, splits[1:-1]))
        update(len(splits) - 1)
    return token_lists


def _static_masks(token_ids, padding_mask, tokenizer, special, masking, seed):
    """Masked features for every row (batches of `_MASK_BATCH`, seed `(seed, batch index)`)."""
    import tensorflow as tf

    from albert_keras.data.masking import mask_tokens

    table = tokenizers.continuation_table(tokenizer) if masking["mode"] != "token" else None
    outputs = collections.defaultdict(list)
    for index, begin in enumerate(range(0, len(token_ids), _MASK_BATCH)):
        end = begin + _MASK_BATCH
        masked = mask_tokens(
            token_ids[begin:end], tf.constant([seed, index], tf.int64),
            vocabulary_size=int(tokenizer.vocabulary_size()), mask_id=special["mask"],
            special_token_ids=list(special.values()), padding_mask=padding_mask[begin:end],
            max_predictions=masking["max_predictions"], mask_rate=masking["mask_rate"],
            mode=masking["mode"], is_continuation=table, max_ngram=masking["max_ngram"])
        for key, value in masked.items():
            outputs[key].append(value.numpy())
    result = {key: np.concatenate(value) for key, value in outputs.items()}
    return {"token_ids": result["token_ids"], "mask_positions": result["mask_positions"],
            "mask_ids": result["mask_ids"], "mask_weights": result["mask_weights"]}


def _bars(tqdm, enabled: bool):
    def bar(**kwargs):
        return tqdm(disable=not enabled, file=sys.stderr, dynamic_ncols=True, **kwargs)
    return bar
