"""The Beam runner of `prepare` (`data.runner: beam`): the local runner's stages as an Apache
Beam pipeline.

Runs on one machine with the DirectRunner's engine (`data.beam_options: [runner=FnApiRunner,
direct_running_mode=multi_processing, direct_num_workers=N]`; a plain `DirectRunner` first tries
to download the Prism runner) and on Dataflow, Flink or Spark by pipeline options
(`runner=DataflowRunner`, ...). The records are interchangeable with the local runner's: same
features, same counts, and for one seed the same rows (masks included), written to other shards.

What runs where:
- Before the pipeline, in this process, as one step: the tokenizer is loaded
  (`data.tokenizer_path`) or trained. Training reads the whole corpus here, as the local
  runner does, so at corpus scale train it once (or on a sample) and pass `tokenizer_path`.
  It is saved into the output's `tokenizer/`, which every worker loads.
- In the pipeline: reading (one element per corpus file; the built-in and TFDS corpora are
  read here and handed over), tokenizing, pairs, static masks and shards (`beam_stages.py`).
- After it, here: the manifests (`RecordsManifest`, `runner="beam"`) from the counts and the
  shard list the pipeline wrote.

Costs at scale: NSP draws its random segments from any document of the group, so every worker
holds every tokenized document as a side input (4 bytes a token plus ~100 a sentence: over
12 GB for 3 billion tokens); SOP needs no side input. Static masking groups rows by chunks of
`static_masks.MASK_CHUNK_DOCUMENTS` documents and sharding groups them by shard: two shuffles.
The output directory must be one every worker can write: a URL of TensorFlow's file systems
(`gs://` on Dataflow, `hdfs://` or `s3://` with tensorflow-io on Flink or Spark) or a shared
mounted folder. The workers write the shards (and two small JSON files of counts) with
`tf.io.gfile` into a staging folder beside it, which is published as a whole when the
pipeline has finished: renamed on a local disk, moved file by file with the manifest last on
a URL (`atomic_files`). A retried job or bundle rewrites the staging folder's files; a job that
fails leaves the published set as it was, or on a URL without its manifest (never read for
training). On Dataflow, ship the package with `setup_file=` or `extra_package=`
(deploy/dataflow.md).
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from typing import Any

from albert_keras import tokenizers
from albert_keras.pretraining_data import corpus as corpus_lib
from albert_keras.pretraining_data.data_config import DataConfig
from albert_keras.pretraining_data.records.records_manifest import (HELD_OUT_DIR, RecordsManifest,
                                                                    write_manifest)
from albert_keras.pretraining_data.records.writer import shard_name
from albert_keras.pretraining_data.runners.shared_steps import (PUBLISHED_BY, SHARD_PREFIX,
                                                                TOKENIZER_DIR, format_summary,
                                                                make_tokenizer, split_documents)
from albert_keras.utils import file_io
from albert_keras.utils.atomic_files import write_atomic
from albert_keras.utils.storage import url_scheme

BEAM_INSTALL = "pip install 'albert-keras[beam]'"


def pipeline_options(data: DataConfig):
    """Beam's `PipelineOptions` from `data.beam_options`; a clear error when Beam is missing."""
    try:
        from apache_beam.options.pipeline_options import PipelineOptions
    except ImportError:
        raise ValueError(f"data.runner='beam' needs Apache Beam, which is not installed: "
                         f"{BEAM_INSTALL}") from None
    return PipelineOptions([f"--{option}" for option in data.beam_options])


def prepare_with_beam(config, static_masking: bool = False, progress: bool = True) -> dict[str, Any]:
    """`prepare(config)` with `data.runner: beam`; same arguments, outputs and summary.

    Args:
        config: `PipelineConfig` (uses `name` and `data`).
        static_masking: bool. Also write the masked features. Defaults to False.
        progress: bool. Print what runs and the summary. Defaults to True.

    Returns:
        The summary dict (also stored in `manifest.json`).
    """
    data: DataConfig = config.data
    options = pipeline_options(data)  # Before any work.
    check_shared_output(data)
    start = time.time()
    output_dir = os.path.join(data.output_dir, config.name)
    documents = None
    if (data.corpus in (corpus_lib.STDLIB, corpus_lib.PYDOCS)
            or data.corpus.startswith(corpus_lib.TFDS_PREFIX)):
        documents = _read_here(data)
    else:
        corpus_lib.corpus_files(data.corpus)  # A pattern that matches nothing fails now.
    tokenizer = _tokenizer(data, documents, progress)
    results: dict[str, Any] = {}

    def write(directory: str) -> None:
        tokenizer_dir = os.path.join(directory, TOKENIZER_DIR)
        tokenizers.save_tokenizer(tokenizer, tokenizer_dir)
        if progress:
            print(f"running the Beam pipeline ({' '.join(data.beam_options) or 'DirectRunner'})",
                  file=sys.stderr)
        # Imports Apache Beam: only here, once the pipeline is built.
        from albert_keras.pretraining_data.runners import beam_pipeline

        results.update(beam_pipeline.run(
            options, data, directory, tokenizer, tokenizer_dir, documents, static_masking))
        results["summary"] = _finish(config, output_dir, directory, tokenizer, tokenizer_dir,
                                     results, static_masking, start)

    write_atomic(output_dir, write, last=PUBLISHED_BY)
    if progress:
        print(format_summary(results["summary"]), file=sys.stderr)
    return results["summary"]


def check_shared_output(data: DataConfig) -> None:
    """Refuses a `ram://` output for worker processes: TensorFlow's in-memory file system lives
    in one process, so what Beam's `multi_processing` workers wrote there would be lost."""
    running_mode = next((option.partition("=")[2] for option in data.beam_options
                         if option.startswith("direct_running_mode=")), None)
    if url_scheme(data.output_dir) == "ram" and running_mode == "multi_processing":
        raise ValueError(
            "`data.output_dir` is a ram:// URL, which lives in one process: the workers of "
            "direct_running_mode=multi_processing cannot write there. Use in_memory or "
            "multi_threading, or an output every worker reaches. Received: "
            f"data.output_dir={data.output_dir!r}, data.beam_options={list(data.beam_options)}")


def _read_here(data: DataConfig) -> tuple[list[list[str]], dict[str, int]]:
    """The built-in or TFDS corpus, read in this process: (documents, counts)."""
    import collections

    stats: collections.Counter = collections.Counter()
    documents = list(corpus_lib.read_documents(data.corpus, stats, data.max_documents,
                                               data.tfds_text_key))
    return documents, dict(stats)


def _tokenizer(data: DataConfig, documents, progress: bool):
    """`data.tokenizer_path` loaded, or one trained on the training documents (one step)."""
    if data.tokenizer_path:
        return tokenizers.load_tokenizer(data.tokenizer_path)
    documents = (documents or _read_here(data))[0]
    if data.held_out_fraction > 0 and len(documents) > 1:
        documents, _ = split_documents(documents, data.held_out_fraction, data.seed)
    return make_tokenizer(data, documents, progress)


def _finish(config, output_dir: str, directory: str, tokenizer, tokenizer_dir: str,
            results: dict[str, Any], static_masking: bool, start: float) -> dict[str, Any]:
    """Checks the counts, fills shards that got no rows, writes the manifests; the summary."""
    import tensorflow as tf

    data: DataConfig = config.data
    stats, shards = results["stats"], results["shards"]
    if not stats.get("train.sequences"):
        raise ValueError(f"No sentence pairs could be made from data.corpus={data.corpus!r}: "
                         "documents need at least 2 tokens.")
    compression = "GZIP" if data.compression == "gzip" else None
    summary = {
        "name": config.name, "output_dir": output_dir, "documents": stats["documents"],
        "sentences": stats.get("sentences", 0), "sequences": stats["train.sequences"],
        "tokens": stats.get("tokens", 0), "sequence_tokens": stats["train.sequence_tokens"],
        "pair_label_1": stats.get("train.pair_label_1", 0), "files": stats.get("files", 0),
        "skipped": {key: stats.get(key, 0) for key in ("empty_files", "empty_documents",
                                                         "invalid_utf8_lines")},
        "long_lines_split": stats.get("long_lines_split", 0)}
    train_shards = _shard_list(shards, "train", directory, compression,
                               min(data.num_shards, summary["sequences"]))
    summary.update(shards=len(train_shards), held_out=None)
    if data.held_out_fraction > 0:
        if not stats.get("held_out.sequences"):
            raise ValueError("No held-out sentence pairs: data.held_out_fraction="
                             f"{data.held_out_fraction} kept {stats.get('held_out_documents')} "
                             "document(s) without 2 tokens. Raise data.held_out_fraction.")
        held_shards = _shard_list(shards, "held_out", os.path.join(directory, HELD_OUT_DIR),
                                  compression, 1)
        summary["held_out"] = {
            "documents": stats["held_out_documents"], "sequences": stats["held_out.sequences"],
            "sequence_tokens": stats["held_out.sequence_tokens"],
            "pair_label_1": stats.get("held_out.pair_label_1", 0), "shards": 1,
            "shard_files": held_shards}
    summary["seconds"] = round(time.time() - start, 2)
    special = tokenizers.special_token_ids(tokenizer)
    manifest = RecordsManifest(
        max_sequence_length=data.max_sequence_length, pair_task=data.pair_task,
        static_masking=bool(static_masking), masking=data.masking_config(),
        compression=compression, tokenizer=TOKENIZER_DIR,
        tokenizer_kind=tokenizers.tokenizer_kind(tokenizer),
        vocabulary_size=int(tokenizer.vocabulary_size()), special_token_ids=dict(special),
        seed=data.seed, data_config=dataclasses.asdict(data), tensorflow_version=tf.__version__,
        runner="beam", document_ids=True, **summary, shard_files=train_shards,
        tokenizer_fingerprint=tokenizers.tokenizer_fingerprint(tokenizer_dir))
    write_manifest(directory, manifest)
    if summary["held_out"] is not None:
        write_manifest(os.path.join(directory, HELD_OUT_DIR), dataclasses.replace(
            manifest, **summary["held_out"], held_out=None, static_masking=False,
            tokenizer=os.path.join("..", TOKENIZER_DIR)))
    return summary


def _shard_list(shards: list[dict[str, Any]], group: str, directory: str,
                compression: str | None, count: int) -> list[dict[str, Any]]:
    """The group's shard entries in file order; a shard no row hashed to is written empty."""
    import tensorflow as tf

    written = {entry["file"]: entry for entry in shards if entry["group"] == group}
    entries = []
    for index in range(max(1, count)):
        name = shard_name(SHARD_PREFIX, index, max(1, count))
        if name not in written:
            path = os.path.join(directory, name)
            file_io.makedirs(directory)
            with tf.io.TFRecordWriter(path, tf.io.TFRecordOptions(
                    compression_type=compression or "")):
                pass
            written[name] = {"file": name, "num_sequences": 0, "num_bytes": file_io.size(path)}
        entries.append({key: written[name][key] for key in ("file", "num_sequences", "num_bytes")})
    return entries
