"""The stages of `prepare --runner beam` as Apache Beam transforms.

Imported only when a Beam pipeline is built (`beam_runner.py`), so `albert_keras.pretraining_data`
stays free of Beam. Each stage is the local runner's, cut by document instead of by process:

1. `read_file`: one corpus file -> its documents `(file index, document in file, sentences)`
   and its counts. `make_layout` turns the per-file document counts into each document's
   global index (the local runner's reading order), the `max_documents` cut and the held-out
   documents (`shared_steps.split_documents` over the same indices).
2. `route`: each document -> `((group, index), sentences)`, `index` numbered inside its group
   (`train` or `held_out`) as the local runner numbers its document lists.
3. `TokenizeDocuments`: token ids of batches of documents (the saved tokenizer, loaded once
   per worker in `setup`).
4. `MakePairs`: rows of each (pass, document) with `create_pairs.document_pairs` and the seed
   `(seed, pass, index)`, each row's `document_id` being `index`; NSP reads random other
   documents from a side input holding every tokenized document of the group.
5. `MaskChunk` (static masking): rows grouped by `static_masks.mask_chunk` and masked as the
   local runner masks them.
6. `KeyRowsByShard` + `WriteShard`: each row goes to shard `row_key(...) % num_shards` (a
   63-bit hash of the seed and the row's place) and is written in key order, as a
   `{prefix}-{i:05d}-of-{n:05d}.tfrecord` file.
Counts travel as small dicts tagged `STATS` and are summed at the end.
"""

from __future__ import annotations

import collections
import dataclasses
import glob
from typing import Any, Iterable, Iterator, Mapping

import apache_beam as beam
import numpy as np

from albert_keras.pretraining_data import corpus as corpus_lib
from albert_keras.pretraining_data.data_config import DataConfig
from albert_keras.pretraining_data.masking import static_masks
from albert_keras.pretraining_data.pairs import create_pairs
from albert_keras.pretraining_data.records import features
from albert_keras.pretraining_data.runners.shared_steps import split_documents

TRAIN, HELD_OUT = "train", "held_out"
STATS, FILE_COUNTS = "stats", "file_counts"
ROW_FEATURES = (*features.INPUT_FEATURES, features.PAIR_FEATURE, features.DOCUMENT_FEATURE)
_FILE_STATS = ("files", "empty_files", "empty_documents", "invalid_utf8_lines",
               "long_lines_split")


@dataclasses.dataclass(frozen=True)
class RunSettings:
    """What every stage needs to know, fixed before the pipeline starts.

    Args:
        data: `DataConfig`. The `data` section of the pipeline.
        special_token_ids: dict of str to int. `pad`, `unk`, `cls`, `sep`, `mask`.
        vocabulary_size: int. The tokenizer's.
        is_continuation: bool array or None. `continuation_table` for word-based static masks.
        static_masking: bool. Write masks into the records.
        tokenizer_dir: str. The saved tokenizer, readable by every worker.
    """

    data: DataConfig
    special_token_ids: dict[str, int]
    vocabulary_size: int
    is_continuation: np.ndarray | None
    static_masking: bool
    tokenizer_dir: str


@dataclasses.dataclass(frozen=True)
class CorpusLayout:
    """Where each document sits in the local runner's order.

    Args:
        offsets: dict of int to int. Global index of each file's first document.
        num_documents: int. Documents used (after `data.max_documents`).
        held_out: int array. Sorted global indices of the held-out documents.
        file_stats: dict of str to int. Counts of the files read for those documents.
    """

    offsets: dict[int, int]
    num_documents: int
    held_out: np.ndarray
    file_stats: dict[str, int]

    def locate(self, global_index: int) -> tuple[str, int]:
        """(group, index inside the group) of a document."""
        position = int(np.searchsorted(self.held_out, global_index))
        if position < len(self.held_out) and self.held_out[position] == global_index:
            return HELD_OUT, position
        return TRAIN, global_index - position

    def group_size(self, group: str) -> int:
        return len(self.held_out) if group == HELD_OUT else self.num_documents - len(self.held_out)

    def stats(self) -> dict[str, int]:
        """Counts known from the layout: files read, documents used, held-out documents."""
        return {**self.file_stats, "documents": self.num_documents,
                "held_out_documents": len(self.held_out)}


def read_file(element: tuple[int, str]) -> Iterator[Any]:
    """Documents of one corpus file, then its counts (tagged `FILE_COUNTS`)."""
    file_index, path = element
    stats: collections.Counter = collections.Counter()
    documents = list(corpus_lib.read_documents(glob.escape(path), stats))
    for position, document in enumerate(documents):
        yield file_index, position, document
    yield beam.pvalue.TaggedOutput(FILE_COUNTS, (file_index, len(documents), dict(stats)))


def make_layout(file_counts: list[tuple[int, int, dict]], data: DataConfig) -> CorpusLayout:
    """The layout from every file's `(index, documents, counts)`; the local runner's checks."""
    offsets, total, file_stats = {}, 0, collections.Counter()
    for file_index, count, stats in sorted(file_counts, key=lambda item: item[0]):
        offsets[file_index] = total
        if data.max_documents is None or total < data.max_documents:
            file_stats.update({key: stats.get(key, 0) for key in _FILE_STATS})
        total += count
    if data.max_documents is not None:
        total = min(total, data.max_documents)
    if not total:
        raise ValueError(f"The corpus has no non-empty documents: data.corpus={data.corpus!r} "
                         f"(counts: {dict(file_stats)})")
    if data.pair_task == "nsp" and total < 2:
        raise ValueError("NSP needs at least 2 documents to draw random next segments. "
                         f"Received: {total} document(s) from data.corpus={data.corpus!r}")
    held_out: list[int] = []
    if data.held_out_fraction > 0:
        kept, held_out = split_documents(list(range(total)), data.held_out_fraction, data.seed)
        if data.pair_task == "nsp" and min(len(kept), len(held_out)) < 2:
            raise ValueError(
                "NSP draws random next segments from other documents: the held-out and the "
                f"training documents need at least 2 each. Received: {len(held_out)} held out "
                f"of {total} with data.held_out_fraction={data.held_out_fraction}")
    return CorpusLayout(offsets, total, np.asarray(held_out, np.int64), dict(file_stats))


def route(element: tuple[int, int, list[str]], layout: CorpusLayout) -> Iterator[Any]:
    """`((group, index), sentences)` of a document inside the layout; its counts as `STATS`."""
    file_index, position, sentences = element
    global_index = layout.offsets[file_index] + position
    if global_index < layout.num_documents:
        yield layout.locate(global_index), sentences
        yield beam.pvalue.TaggedOutput(STATS, {"sentences": len(sentences)})


class TokenizeDocuments(beam.DoFn):
    """Batches of `(key, sentences)` -> `(key, [token ids per sentence])`, tokens as `STATS`."""

    def __init__(self, tokenizer_dir: str):
        self._tokenizer_dir = tokenizer_dir
        self._tokenizer = None

    def setup(self) -> None:
        import tensorflow as tf

        from albert_keras import tokenizers

        # In a graph, as the local runner's `tf.data` map (eagerly, keras-hub returns lists).
        self._tokenizer = tf.function(
            tokenizers.load_tokenizer(self._tokenizer_dir),
            input_signature=[tf.TensorSpec([None], tf.string)])

    def process(self, batch: list[tuple[tuple[str, int], list[str]]]) -> Iterator[Any]:
        import tensorflow as tf

        ragged = self._tokenizer(tf.constant([s for _, d in batch for s in d], tf.string))
        values = ragged.flat_values.numpy().astype(np.int32)
        token_lists = np.split(values, ragged.row_splits.numpy()[1:-1])
        position, tokens = 0, 0
        for key, sentences in batch:
            document = token_lists[position:position + len(sentences)]
            position += len(sentences)
            if key[0] == TRAIN:
                tokens += sum(len(s) for s in document)
            yield key, document
        yield beam.pvalue.TaggedOutput(STATS, {"tokens": tokens})


class _Documents:
    """`documents[i]` and `len(documents)` over a dict of some (or all) documents of a group."""

    def __init__(self, by_index: Mapping[int, Any], size: int):
        self._by_index, self._size = by_index, size

    def __getitem__(self, index: int):
        return self._by_index[index]

    def __len__(self) -> int:
        return self._size


class MakePairs(beam.DoFn):
    """`(index, document)` -> `(pass, index, rows)` for every pass with rows; counts as `STATS`.

    NSP gets the group's documents as the side input `documents` (a dict of index to
    document); SOP reads only the document itself.
    """

    def __init__(self, settings: RunSettings, group: str):
        self._settings, self._group = settings, group

    def process(self, element, layout: CorpusLayout, documents=None) -> Iterator[Any]:
        index, document = element
        data, special = self._settings.data, self._settings.special_token_ids
        view = _Documents(documents if documents is not None else {index: document},
                          layout.group_size(self._group))
        counts = collections.Counter()
        for dupe in range(data.dupe_factor):
            rows = create_pairs.document_pairs(
                view, index, dupe=dupe, max_sequence_length=data.max_sequence_length,
                pair_task=data.pair_task, cls_id=special["cls"], sep_id=special["sep"],
                pad_id=special["pad"], short_seq_prob=data.short_seq_prob, seed=data.seed)
            if len(rows["token_ids"]):
                counts.update(sequences=len(rows["token_ids"]),
                              sequence_tokens=int(rows["padding_mask"].sum()),
                              pair_label_1=int(rows["pair_label"].sum()))
                yield dupe, index, {name: rows[name] for name in ROW_FEATURES}
        yield beam.pvalue.TaggedOutput(STATS, {f"{self._group}.{k}": v for k, v in counts.items()})


def key_by_chunk(block: tuple[int, int, dict]) -> tuple[int, tuple[int, int, dict]]:
    return int(static_masks.mask_chunk(block[1])), block


class MaskChunk(beam.DoFn):
    """`(chunk, blocks)` -> the blocks with static masks (`static_masks.mask_batch`)."""

    def __init__(self, settings: RunSettings):
        self._settings = settings

    def process(self, element: tuple[int, Iterable[tuple[int, int, dict]]]) -> Iterator[Any]:
        chunk, blocks = element
        blocks = sorted(blocks, key=lambda block: block[:2])  # (pass, document) order.
        settings = self._settings
        masked = static_masks.mask_batch(
            np.concatenate([b[2]["token_ids"] for b in blocks]),
            np.concatenate([b[2]["padding_mask"] for b in blocks]), chunk,
            seed=settings.data.seed, masking=settings.data.masking_config().with_vocabulary(
                settings.vocabulary_size, settings.special_token_ids, settings.is_continuation))
        begin = 0
        for dupe, index, rows in blocks:
            end = begin + len(rows["token_ids"])
            yield dupe, index, {**rows, **{name: value[begin:end] for name, value in masked.items()}}
            begin = end


def sum_counts(counts: Iterable[Mapping[str, int]]) -> dict[str, int]:
    """The sum of count dicts (a Beam combiner: the output sums again)."""
    total: collections.Counter = collections.Counter()
    for item in counts:
        total.update(item)
    return dict(total)
