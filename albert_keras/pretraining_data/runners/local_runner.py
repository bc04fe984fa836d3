"""The local runner of `prepare`: corpus -> tokenizer -> sentence pairs -> TFRecord shards +
manifest, in this process (and the pair workers it starts).

The stages and where they run: reading the corpus (Python), training the tokenizer
(SentencePiece's C++ trainer or keras-hub's WordPiece learner), tokenizing (tensorflow-text ops
in a parallel `tf.data` map), building pairs (worker processes, see `pairs/create_pairs.py`),
optional static masking (`masking/static_masks.py`), writing shards (`records/writer.py`). A
progress bar follows each stage and a summary ends the run.
"""

from __future__ import annotations

import collections
import dataclasses
import os
import sys
import time
from typing import Any

import numpy as np

from albert_keras import tokenizers
from albert_keras.pretraining_data import corpus as corpus_lib
from albert_keras.pretraining_data.data_config import DataConfig
from albert_keras.pretraining_data.masking.masking_config import MaskingConfig
from albert_keras.pretraining_data.masking.static_masks import static_masks
from albert_keras.pretraining_data.pairs.create_pairs import create_pairs
from albert_keras.pretraining_data.pairs.tokenized_corpus import TokenizedCorpus
from albert_keras.pretraining_data.records import writer
from albert_keras.pretraining_data.records.records_manifest import (HELD_OUT_DIR, RecordsManifest,
                                                                    write_manifest)
from albert_keras.pretraining_data.runners.shared_steps import (PUBLISHED_BY, SHARD_PREFIX,
                                                                TOKENIZER_DIR, format_summary,
                                                                make_tokenizer, split_documents)
from albert_keras.utils.atomic_files import write_atomic

_TOKENIZE_BATCH = 1024


def prepare_locally(config, static_masking: bool = False,
                    progress: bool = True) -> dict[str, Any]:
    """`prepare(config)` with `data.runner: local`: the pretraining data of a pipeline config
    into `{data.output_dir}/{name}/`.

    Args:
        config: `PipelineConfig` (uses `name` and `data`).
        static_masking: bool. Also write `mask_positions`, `mask_ids`, `mask_weights` (the
            original, static setup). Defaults to False: masking happens in the reader.
        progress: bool. Show progress bars and print the summary. Defaults to True.

    With `data.held_out_fraction > 0`, that share of the documents (drawn with `data.seed`)
    is kept out of the tokenizer and the training records and written to `held_out/` (one
    shard and its own manifest): pairs from documents never trained on, for held-out scores.

    Returns:
        The summary dict (also stored in `manifest.json`): counts of documents, sentences,
        sequences, tokens, shards, skipped input, and seconds.
    """
    from tqdm.auto import tqdm

    data: DataConfig = config.data
    start = time.time()
    output_dir = os.path.join(data.output_dir, config.name)
    bar = _bars(tqdm, progress)

    stats: collections.Counter = collections.Counter()
    documents, held_out_documents = _read_documents(data, stats, bar)
    tokenizer = make_tokenizer(data, documents, progress)
    special = tokenizers.special_token_ids(tokenizer)
    tokenized = _tokenize_documents(tokenizer, documents, bar)
    rows = _pairs(tokenized, data, special, data.dupe_factor, bar)
    if not len(rows["token_ids"]):
        raise ValueError(f"No sentence pairs could be made from data.corpus={data.corpus!r}: "
                         "documents need at least 2 tokens.")
    held_out = None
    if held_out_documents:
        held_out = (len(held_out_documents),
                    _held_out_rows(tokenizer, held_out_documents, data, special, bar))
    del documents, held_out_documents

    masking = data.masking_config()
    if static_masking:  # Batched by document chunk: the Beam runner's masks.
        rows.update(static_masks(rows["token_ids"], rows["padding_mask"],
                                 rows["document_id"], seed=data.seed,
                                 masking=masking.with_tokenizer(tokenizer)))
    compression = "GZIP" if data.compression == "gzip" else None
    summary = _summary(config.name, output_dir, stats, tokenized, rows)
    manifest = _manifest(data, tokenizer, special, masking, static_masking, compression)
    # Written beside and swapped in whole: a kill keeps the records, manifest and tokenizer
    # of the previous run together, never half of each (on a URL: no manifest, no records).
    write_atomic(output_dir, lambda directory: _write_records(
        directory, tokenizer, rows, held_out, data, compression, summary, manifest, bar, start),
        last=PUBLISHED_BY)
    if progress:
        print(format_summary(summary), file=sys.stderr)
    return summary


def _read_documents(data: DataConfig, stats: collections.Counter, bar) -> tuple[list, list]:
    """(training documents, held-out documents) of the corpus, checked for the pair task."""
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
    held_out_documents = []
    if data.held_out_fraction > 0:
        documents, held_out_documents = split_documents(documents, data.held_out_fraction,
                                                         data.seed)
        if data.pair_task == "nsp" and min(len(documents), len(held_out_documents)) < 2:
            raise ValueError(
                "NSP draws random next segments from other documents: the held-out and the "
                f"training documents need at least 2 each. Received: {len(held_out_documents)} "
                f"held out of {len(documents) + len(held_out_documents)} with "
                f"data.held_out_fraction={data.held_out_fraction}")
    return documents, held_out_documents


def _held_out_rows(tokenizer, documents, data: DataConfig, special, bar) -> dict[str, np.ndarray]:
    rows = _pairs(_tokenize_documents(tokenizer, documents, bar), data, special,
                  data.dupe_factor, bar)
    if not len(rows["token_ids"]):
        raise ValueError("No held-out sentence pairs: data.held_out_fraction="
                         f"{data.held_out_fraction} kept {len(documents)} "
                         "document(s) without 2 tokens. Raise data.held_out_fraction.")
    return rows


def _summary(name: str, output_dir: str, stats: collections.Counter,
             tokenized: TokenizedCorpus, rows: dict[str, np.ndarray]) -> dict[str, Any]:
    """The run's counts; shards, held-out counts and seconds are added when written."""
    return {
        "name": name, "output_dir": output_dir, "documents": stats["documents"],
        "sentences": stats["sentences"], "sequences": len(rows["token_ids"]),
        "tokens": tokenized.num_tokens,
        "sequence_tokens": int(rows["padding_mask"].sum()),
        "pair_label_1": int(rows["pair_label"].sum()), "files": stats["files"],
        "skipped": {key: stats[key] for key in ("empty_files", "empty_documents",
                                                 "invalid_utf8_lines")},
        "long_lines_split": stats["long_lines_split"],
    }


def _manifest(data: DataConfig, tokenizer, special, masking: MaskingConfig,
              static_masking: bool, compression: str | None) -> RecordsManifest:
    """The settings that made the records; the summary and the shard list are added when written."""
    import tensorflow as tf

    return RecordsManifest(
        max_sequence_length=data.max_sequence_length, pair_task=data.pair_task,
        static_masking=bool(static_masking), masking=masking, compression=compression,
        tokenizer=TOKENIZER_DIR, tokenizer_kind=tokenizers.tokenizer_kind(tokenizer),
        vocabulary_size=int(tokenizer.vocabulary_size()), special_token_ids=dict(special),
        seed=data.seed, data_config=dataclasses.asdict(data),
        tensorflow_version=tf.__version__, document_ids=True)


def _write_records(directory: str, tokenizer, rows, held_out, data: DataConfig, compression,
                   summary: dict[str, Any], manifest: RecordsManifest, bar,
                   start: float) -> None:
    """Tokenizer, shards, held-out shard, then the manifests that bind them."""
    tokenizer_dir = os.path.join(directory, TOKENIZER_DIR)
    tokenizers.save_tokenizer(tokenizer, tokenizer_dir)
    with bar(total=len(rows["token_ids"]), desc="write", unit="seq") as pbar:
        shards = writer.write_shards(rows, directory, num_shards=data.num_shards,
                                     prefix=SHARD_PREFIX, compression=compression,
                                     seed=data.seed, progress=pbar.update)
    summary.update(shards=len(shards), held_out=None)
    if held_out is not None:
        summary["held_out"] = _write_held_out(held_out, directory, compression, data.seed)
    summary["seconds"] = round(time.time() - start, 2)
    manifest = dataclasses.replace(
        manifest, **summary, shard_files=shards,
        tokenizer_fingerprint=tokenizers.tokenizer_fingerprint(tokenizer_dir))
    write_manifest(directory, manifest)
    if held_out is not None:
        write_manifest(os.path.join(directory, HELD_OUT_DIR), dataclasses.replace(
            manifest, **summary["held_out"], held_out=None, static_masking=False,
            tokenizer=os.path.join("..", TOKENIZER_DIR)))


def _tokenize_documents(tokenizer, documents: list[list[str]], bar) -> TokenizedCorpus:
    """The documents' token ids: one flat array, sentences and documents as offsets."""
    sentences = [s for d in documents for s in d]
    with bar(total=len(sentences), desc="tokenize", unit="sent") as pbar:
        token_ids, lengths = _tokenize(tokenizer, sentences, pbar.update)
    return TokenizedCorpus.from_lengths(token_ids, lengths, [len(d) for d in documents])


def _pairs(tokenized, data: DataConfig, special, dupe_factor: int, bar) -> dict[str, np.ndarray]:
    with bar(total=len(tokenized) * dupe_factor, desc="pairs", unit="doc") as pbar:
        return create_pairs(
            tokenized, max_sequence_length=data.max_sequence_length, pair_task=data.pair_task,
            cls_id=special["cls"], sep_id=special["sep"], pad_id=special["pad"],
            short_seq_prob=data.short_seq_prob, dupe_factor=dupe_factor, seed=data.seed,
            num_workers=data.num_workers, progress=pbar.update)


def _write_held_out(held_out, output_dir: str, compression, seed: int) -> dict[str, Any]:
    """One shard of held-out pairs in `held_out/`; returns its counts."""
    num_documents, rows = held_out
    shards = writer.write_shards(rows, os.path.join(output_dir, HELD_OUT_DIR), num_shards=1,
                                 prefix=SHARD_PREFIX, compression=compression, seed=seed)
    return {"documents": num_documents, "sequences": int(len(rows["token_ids"])),
            "sequence_tokens": int(rows["padding_mask"].sum()),
            "pair_label_1": int(rows["pair_label"].sum()), "shards": len(shards),
            "shard_files": shards}


def _tokenize(tokenizer, sentences: list[str], update) -> tuple[np.ndarray, np.ndarray]:
    """(token ids of all sentences one after the other, each sentence's length), tokenized by
    a parallel `tf.data` map (order kept)."""
    import tensorflow as tf

    dataset = (tf.data.Dataset.from_tensor_slices(tf.constant(sentences, tf.string))
               .batch(_TOKENIZE_BATCH)
               .map(tokenizer, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
               .prefetch(tf.data.AUTOTUNE))
    values, lengths = [np.zeros([0], np.int32)], [np.zeros([0], np.int64)]
    for ragged in dataset:
        values.append(ragged.flat_values.numpy().astype(np.int32))
        lengths.append(np.diff(ragged.row_splits.numpy()))
        update(len(lengths[-1]))
    return np.concatenate(values), np.concatenate(lengths)


def _bars(tqdm, enabled: bool):
    def bar(**kwargs):
        return tqdm(disable=not enabled, file=sys.stderr, dynamic_ncols=True, **kwargs)
    return bar
