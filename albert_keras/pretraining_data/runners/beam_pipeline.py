"""The Beam pipeline of `prepare --runner beam`: the stages of `beam_stages.py`, wired.

`run` builds and runs it, and returns what the manifests need: summed counts and the shard
entries, which the workers leave as two small JSON files, written with `tf.io.gfile` like the
shards (so any URL that the workers and this process share will do, `ram://` in tests).
"""

from __future__ import annotations

import json
import os
from typing import Any

import apache_beam as beam

from albert_keras import tokenizers
from albert_keras.pretraining_data import corpus as corpus_lib
from albert_keras.pretraining_data.data_config import DataConfig
from albert_keras.pretraining_data.runners.beam_shards import KeyRowsByShard, WriteShard
from albert_keras.pretraining_data.runners.beam_stages import (FILE_COUNTS, HELD_OUT, STATS, TRAIN,
                                                               MakePairs, MaskChunk, RunSettings,
                                                               TokenizeDocuments, key_by_chunk,
                                                               make_layout, read_file, route,
                                                               sum_counts)
from albert_keras.pretraining_data.runners.shared_steps import HELD_OUT_DIR, SHARD_PREFIX
from albert_keras.utils import file_io
from albert_keras.utils.atomic_files import write_text_atomic

RESULTS_DIR = ".beam-results"
_TOKENIZE_BATCH = (8, 256)  # Documents per tokenizer call; Beam adapts within the range.


def run(options, data: DataConfig, directory: str, tokenizer, tokenizer_dir: str,
        documents: tuple[list[list[str]], dict[str, int]] | None,
        static_masking: bool) -> dict[str, Any]:
    """Runs the pipeline that writes the records of `data` into `directory`.

    Args:
        options: Beam `PipelineOptions`.
        data: `DataConfig`.
        directory: str. Where shards (and `held_out/`) go; every worker writes there.
        tokenizer: the tokenizer (ids and tables read here); `tokenizer_dir`: str, its saved
            copy, which the workers load.
        documents: (documents, counts) already read here, or None to read the corpus files
            in the pipeline.
        static_masking: bool. Write masks.

    Returns:
        `{"stats": summed counts, "shards": shard entries with their "group"}`.
    """
    table = None
    if static_masking and data.masking != "token":
        table = tokenizers.continuation_table(tokenizer)
    settings = RunSettings(data, dict(tokenizers.special_token_ids(tokenizer)),
                           int(tokenizer.vocabulary_size()), table, static_masking, tokenizer_dir)
    compression = "GZIP" if data.compression == "gzip" else None
    results = os.path.join(directory, RESULTS_DIR)
    with beam.Pipeline(options=options) as pipeline:
        texts, file_counts = _documents(pipeline, data, documents)
        layout = (file_counts | "all file counts" >> beam.combiners.ToList()
                  | "layout" >> beam.Map(make_layout, data))
        layout_side = beam.pvalue.AsSingleton(layout)
        routed = texts | "route" >> beam.FlatMap(route, layout_side).with_outputs(
            STATS, main="documents")
        tokenized = (routed.documents
                     | "tokenize batches" >> beam.BatchElements(*_TOKENIZE_BATCH)
                     | "tokenize" >> beam.ParDo(TokenizeDocuments(tokenizer_dir)).with_outputs(
                         STATS, main="documents"))
        stats = [layout | "layout counts" >> beam.Map(lambda layout: layout.stats()),
                 routed[STATS], tokenized[STATS]]
        shards = []
        for group in [TRAIN] + ([HELD_OUT] if data.held_out_fraction > 0 else []):
            group_stats, group_shards = _records(
                tokenized.documents, group, layout_side, settings, compression,
                directory if group == TRAIN else os.path.join(directory, HELD_OUT_DIR))
            stats.append(group_stats)
            shards.append(group_shards)
        _write_json(tuple(stats) | "all counts" >> beam.Flatten()
                    | "sum counts" >> beam.CombineGlobally(sum_counts), results, "stats")
        _write_json(tuple(shards) | "all shards" >> beam.Flatten()
                    | "shard list" >> beam.combiners.ToList(), results, "shards")
    outputs = {name: json.loads(file_io.read_text(os.path.join(results, f"{name}.json")))
               for name in ("stats", "shards")}
    file_io.remove(results)
    return outputs


def _documents(pipeline, data: DataConfig, documents):
    """(documents as `(file, position, sentences)`, per-file `(file, count, counts)`)."""
    if documents is not None:
        texts, counts = documents
        return (pipeline | "documents" >> beam.Create(
                    [(0, i, d) for i, d in enumerate(texts)]),
                pipeline | "counts" >> beam.Create([(0, len(texts), counts)]))
    files = corpus_lib.corpus_files(data.corpus)
    read = (pipeline | "corpus files" >> beam.Create(list(enumerate(files)))
            | "spread files" >> beam.Reshuffle()
            | "read files" >> beam.FlatMap(read_file).with_outputs(FILE_COUNTS, main="documents"))
    return read.documents, read[FILE_COUNTS]


def _records(tokenized, group: str, layout_side, settings: RunSettings,
             compression: str | None, directory: str):
    """Pairs, masks and shards of one group; returns (counts, shard entries)."""
    data = settings.data
    documents = (tokenized
                 | f"{group}: select" >> beam.Filter(lambda item, g=group: item[0][0] == g)
                 | f"{group}: by index" >> beam.Map(lambda item: (item[0][1], item[1])))
    side = {"documents": beam.pvalue.AsDict(documents)} if data.pair_task == "nsp" else {}
    made = documents | f"{group}: pairs" >> beam.ParDo(
        MakePairs(settings, group), layout_side, **side).with_outputs(STATS, main="blocks")
    blocks = made.blocks
    if settings.static_masking and group == TRAIN:
        blocks = (blocks | f"{group}: by mask chunk" >> beam.Map(key_by_chunk)
                  | f"{group}: mask chunks" >> beam.GroupByKey()
                  | f"{group}: mask" >> beam.ParDo(MaskChunk(settings)))
    num_rows = beam.pvalue.AsSingleton(
        blocks | f"{group}: rows" >> beam.Map(lambda block: len(block[2]["token_ids"]))
        | f"{group}: count rows" >> beam.CombineGlobally(sum))
    shards = (blocks | f"{group}: key by shard" >> beam.ParDo(KeyRowsByShard(data, group), num_rows)
              | f"{group}: shards" >> beam.GroupByKey()
              | f"{group}: write" >> beam.ParDo(
                  WriteShard(data, group, directory, SHARD_PREFIX, compression), num_rows))
    return made[STATS], shards


def _write_json(single, directory: str, name: str) -> None:
    """Writes the one element of `single` as `{directory}/{name}.json` (whole: a retried
    bundle writes it again)."""
    path = os.path.join(directory, f"{name}.json")
    single | f"write {name}" >> beam.Map(
        lambda value: write_text_atomic(path, json.dumps(value)))
