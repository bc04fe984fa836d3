"""`DataConfig`: the `data` section of a pipeline (owned by the pretraining-data stage)."""

from __future__ import annotations

import dataclasses
import os
import re
from typing import Literal

from albert_keras.pretraining_data.masking.masking_config import MaskingConfig
from albert_keras.pretraining_data.reader.length_buckets import check_length_buckets

_MASKING = MaskingConfig()  # The masking defaults live there.
# `data.corpus: finetune` pretrains on the text of the pipeline's `finetune.train` (task-adaptive
# pretraining); the pipeline turns it into `task_text_path`, the file `prepare` writes it to.
TASK_TEXT = "finetune"
RECORDS_FORMATS = ("auto", "albert_keras", "reference")  # What `data.records_format` may say.
_BEAM_OPTION = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=.*", re.DOTALL)


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """Where pretraining text comes from and how it becomes TFRecords and masked batches.

    `prepare` writes `{output_dir}/{pipeline name}/`: shards, `manifest.json` and `tokenizer/`.
    The masking fields are stored in the manifest; `pretraining_dataset` uses them by default.

    Args:
        corpus: str. `"stdlib"` (built-in docstrings of Python's standard library),
            `"pydocs"` (about nine times more built-in text: `"stdlib"`, Python's reference
            topics and the docstrings of numpy, Keras, keras-hub and TensorFlow as installed),
            `"tfds:NAME[:SPLIT]"`, comma-separated globs of BERT-format text files, or
            `"finetune"`: the text of the pipeline's `finetune.train`, read with the
            `finetune` settings (task-adaptive pretraining; `prepare` writes it to
            `{output_dir}/{name}.finetune-train.txt`). Defaults to `"stdlib"`.
        max_documents: int or None. Use only the first documents of the corpus. Defaults to None.
        tfds_text_key: str. Text feature of a TFDS corpus. Defaults to `"text"`.
        output_dir: str. Parent of the pipeline's data directory. Defaults to `"tf_records"`.
        tokenizer: str. `"sentencepiece"` (ALBERT) or `"wordpiece"` (BERT). Defaults to
            `"sentencepiece"`.
        tokenizer_path: str or None. An existing tokenizer directory, `.model` or `vocab.txt`,
            or a model whose tokenizer to use (Hugging Face directory, TF1 checkpoint,
            keras-hub preset, `.keras` file); None trains one on the corpus. Defaults to None,
            which a pipeline with `model.pretrained` turns into that model.
        vocabulary_size: int. Size of a trained vocabulary (WordPiece may come out smaller).
            Defaults to 8000.
        lowercase: bool. Case-fold text when training a tokenizer. Defaults to True.
        strip_accents: bool. WordPiece: strip accents. Defaults to False.
        max_sequence_length: int. Tokens per record, special tokens included. Defaults to 128.
        pair_task: str. `"sop"` (ALBERT) or `"nsp"` (BERT). Defaults to `"sop"`.
        short_seq_prob: float. Probability of a shorter target length. Defaults to 0.1.
        dupe_factor: int. Passes over the corpus with different pairings. Defaults to 1.
        masking: str. `"token"`, `"whole_word"` or `"ngram"`. Defaults to `"ngram"`
            (`MaskingConfig`).
        mask_rate: float. Share of maskable tokens predicted. Defaults to 0.15 (`MaskingConfig`).
        max_predictions: int. Predictions per sequence. Defaults to 20 (`MaskingConfig`).
        max_ngram: int. Longest n-gram for `"ngram"` masking. Defaults to 3 (`MaskingConfig`).
        num_shards: int. TFRecord files to write. Defaults to 4.
        compression: str. `"none"` or `"gzip"`. Defaults to `"none"`.
        shuffle_buffer_size: int. Records in the reader's shuffle buffer. Defaults to 10000.
        length_buckets: list of int. The reader batches rows of similar length and cuts each
            batch to its bucket (e.g. `[32, 64, 96]`; `max_sequence_length` is the last bucket,
            and larger ones are dropped), so that the model does not compute on padding. Not
            for TPUs (a few batch shapes instead of one). Defaults to `[]`: every batch is
            padded to `max_sequence_length`.
        held_out_fraction: float. Share of the documents kept out of the tokenizer and the
            training records and written to `held_out/` (pairs from documents never trained
            on, for held-out scores). Defaults to 0.0: none.
        num_workers: int or None. Processes that build pairs (1 = in process); None chooses
            from the corpus size: one per 8M tokens of work, at most cores - 1, else in
            process (`pairs.choose_num_workers`): a small corpus never pays a pool's start-up.
            Defaults to None.
        seed: int. Seed of every random choice (pairs, shard order, static masks). Defaults to 12345.
        runner: str. `"local"` (this machine, a process pool) or `"beam"` (an Apache Beam
            pipeline: DirectRunner, Dataflow, Flink, Spark; `pip install 'albert-keras[beam]'`).
            Both write interchangeable records. Defaults to `"local"`.
        beam_options: list of str. Beam pipeline options as `key=value` (e.g.
            `runner=FlinkRunner`, `direct_num_workers=2`), passed to Beam's `PipelineOptions`
            as `--key=value`. Defaults to `[]`: Beam's DirectRunner.
        records_format: str. What `train.records` holds: `"albert_keras"` (made by `prepare`,
            with `manifest.json` and `tokenizer/`), `"reference"` (made by a
            `create_pretraining_data.py` of google-research/bert, google-research/albert or the
            TF Model Garden: static masks, read as they are, with the tokenizer of
            `data.tokenizer_path`; see `reference_records.py`), or `"auto"`: recognised from
            the features of the first record. Defaults to `"auto"`.
    """

    corpus: str = "stdlib"
    max_documents: int | None = None
    tfds_text_key: str = "text"
    output_dir: str = "tf_records"
    tokenizer: Literal["sentencepiece", "wordpiece"] = "sentencepiece"
    tokenizer_path: str | None = None
    vocabulary_size: int = 8000
    lowercase: bool = True
    strip_accents: bool = False
    max_sequence_length: int = 128
    pair_task: Literal["sop", "nsp"] = "sop"
    short_seq_prob: float = 0.1
    dupe_factor: int = 1
    masking: Literal["token", "whole_word", "ngram"] = _MASKING.mode
    mask_rate: float = _MASKING.mask_rate
    max_predictions: int = _MASKING.max_predictions
    max_ngram: int = _MASKING.max_ngram
    num_shards: int = 4
    compression: Literal["none", "gzip"] = "none"
    shuffle_buffer_size: int = 10000
    length_buckets: tuple[int, ...] = ()
    held_out_fraction: float = 0.0
    num_workers: int | None = None
    seed: int = 12345
    runner: Literal["local", "beam"] = "local"
    beam_options: tuple[str, ...] = ()
    records_format: Literal["auto", "albert_keras", "reference"] = "auto"

    def __post_init__(self) -> None:
        if not self.corpus.strip():
            raise ValueError(f"`data.corpus` must not be empty. Received: data.corpus={self.corpus!r}")
        minimums = {"vocabulary_size": 16, "max_sequence_length": 5, "dupe_factor": 1,
                    "max_predictions": 1, "max_ngram": 1, "num_shards": 1,
                    "shuffle_buffer_size": 1}
        for name, minimum in minimums.items():
            if getattr(self, name) < minimum:
                raise ValueError(f"`data.{name}` must be >= {minimum}. "
                                 f"Received: data.{name}={getattr(self, name)!r}")
        for name in ("max_documents", "num_workers"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"`data.{name}` must be >= 1 or null. Received: data.{name}={value!r}")
        if not 0.0 <= self.short_seq_prob <= 1.0:
            raise ValueError("`data.short_seq_prob` must be in [0, 1]. "
                             f"Received: data.short_seq_prob={self.short_seq_prob!r}")
        if not 0.0 <= self.held_out_fraction < 1.0:
            raise ValueError("`data.held_out_fraction` must be in [0, 1). "
                             f"Received: data.held_out_fraction={self.held_out_fraction!r}")
        if self.runner not in ("local", "beam"):
            raise ValueError("`data.runner` must be one of ['local', 'beam']. "
                             f"Received: data.runner={self.runner!r}")
        if self.records_format not in RECORDS_FORMATS:
            raise ValueError(f"`data.records_format` must be one of {list(RECORDS_FORMATS)}. "
                             f"Received: data.records_format={self.records_format!r}")
        for i, option in enumerate(self.beam_options):
            if not isinstance(option, str) or not _BEAM_OPTION.fullmatch(option):
                raise ValueError(f"`data.beam_options[{i}]` must look like `key=value` (a Beam "
                                 f"pipeline option). Received: data.beam_options[{i}]={option!r}")
        check_length_buckets(self.length_buckets, self.max_sequence_length, prefix="data.")
        if not 0.0 < self.mask_rate <= 1.0:
            raise ValueError("`data.mask_rate` must be in (0, 1]. "
                             f"Received: data.mask_rate={self.mask_rate!r}")

    def masking_config(self) -> MaskingConfig:
        """The masking fields as a `MaskingConfig` (what `prepare` stores in the manifest)."""
        return MaskingConfig(mode=self.masking, mask_rate=self.mask_rate,
                             max_predictions=self.max_predictions, max_ngram=self.max_ngram)


def task_text_path(output_dir: str, name: str) -> str:
    """The corpus file that `data.corpus: finetune` stands for, beside the pipeline's records."""
    return os.path.join(output_dir, f"{name}.finetune-train.txt")
