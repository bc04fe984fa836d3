"""`FinetuneConfig`: the `finetune` section of a pipeline (owned by the finetune job)."""

from __future__ import annotations

import dataclasses
import math
from typing import Literal

from albert_keras.tasks.inputs.labeled_file_config import LabeledFileConfig
from albert_keras.tasks.registry import TASKS
from albert_keras.tokenizers.sequence_layout import (MAX_QUERY_LENGTH, PAIR_SPECIAL_TOKENS,
                                                     default_doc_stride)
from albert_keras.training.choices import PRECISIONS


@dataclasses.dataclass(frozen=True)
class FinetuneConfig(LabeledFileConfig):
    """Which task, which labelled data, and how `finetune` trains on it.

    The task and how its files are read (`task`, `format`, `header`, `column_names`, the
    column names, `multi_label`, `label_separator`) are the fine-tuning inputs' `LabeledFileConfig`;
    this class adds where the data is and how the model trains on it.

    The encoder comes from the pipeline's `model` section: `model.pretrained` (a `.keras`
    encoder or anything `Encoder.from_pretrained` imports) or, when unset, a fresh `model.preset`.
    The run writes `{output_dir}/{name}/`: model.keras, labels.json, tokenizer/, report.json and
    report.md, published as one unit (`utils/published_run.py`), logs/ (TensorBoard), and
    backup/ while it trains (resume state and the best weights so far).

    Args (besides `LabeledFileConfig`'s):
        task: str. `"text_classification"` (one text or a pair; binary, multi-class or
            multi-label), `"token_classification"` (a tag per word) or `"span_extraction"`
            (extractive QA): a name in `albert_keras.tasks.registry.TASKS`. Settings a task
            cannot use (e.g. `multi_label` for tagging) fail when `finetune` starts, before any
            data is read. Defaults to `"text_classification"`.
        train: str or None. Training data: a `.csv`, `.tsv`, `.jsonl`, word/TAG `.txt`, SQuAD
            `.json` file, or `tfds:NAME` (e.g. `tfds:glue/sst2`, split `train`). Required.
        validation: str or None. Same kinds (`tfds:NAME` reads split `validation`; write
            `tfds:NAME:SPLIT` for another). Defaults to None.
        test: str or None. Evaluated once at the end (`tfds:NAME` reads split `test`).
        validation_fraction: float. With no `validation`, hold out this fraction of `train`
            (a fixed, seeded split). Defaults to 0.0.
        tokenizer: str or None. Tokenizer dir, `.model` or `vocab.txt`. Defaults to the one
            stored with the pretrained encoder (`tokenizer/` beside a `.keras` file, or the
            `vocab.txt`/`spiece.model` in a Hugging Face directory).
        max_sequence_length: int. Longest input, special tokens included. Defaults to 128.
        max_query_length: int. Question tokens kept for span extraction. Defaults to 64.
        max_answer_length: int. Longest predicted answer, in tokens. Defaults to 30.
        doc_stride: int or null. Span extraction: a context longer than a sequence is read in
            overlapping windows whose starts are this many tokens apart (BERT's `doc_stride`),
            in training, evaluation and the exported model; the answer is the best span over
            all windows. At most `max_sequence_length - 3 - max_query_length`. Defaults to
            null: half of that, so consecutive windows overlap by half.
        batch_size: int. Defaults to 32.
        epochs: int. Defaults to 3.
        learning_rate: float. Peak AdamW learning rate. Defaults to 5e-5.
        learning_rates: list of float. A grid of peak rates to choose among on the validation
            rows (the best validation score wins; `finetune` keeps that run, `compare` picks one
            per encoder by the median over seeds); the test split is never used for choosing.
            Defaults to `[]`: `learning_rate` alone.
        warmup_fraction: float. Share of steps with linear warmup; then linear decay to 0.
        weight_decay: float. AdamW decoupled weight decay (not on biases or LayerNorm).
        layer_decay: float. Layer-wise learning-rate decay: the learning rate of a block at
            depth d (of L) is multiplied by `layer_decay ** (L + 1 - d)`, embeddings by
            `layer_decay ** (L + 1)`. 1.0 turns it off. Defaults to 1.0.
        dropout: float. Dropout in the task head. Defaults to 0.1.
        pooling: str. Text classification: `"cls"` (BERT's pooled [CLS]) or `"mean"` (mean of
            the sequence output; for sentence-embedding encoders). Defaults to `"cls"`.
        early_stopping_patience: int. Epochs without improvement of the validation metric
            before stopping. 0 turns it off. Defaults to 2.
        restore_best_checkpoint: bool. After training, load the weights of the epoch with
            the best validation metric (accuracy; loss for spans); False keeps the last
            epoch's. Defaults to True.
        validate_each_epoch: bool. Score the validation rows after every epoch (what early
            stopping, the best-epoch restore and the validation curves read); False scores
            them once, after training, and needs `early_stopping_patience: 0` and
            `restore_best_checkpoint: false` (`compare`'s downstream runs, which score the
            last epoch). Defaults to True.
        bucket_by_length: bool. Batch sentences of similar length, padded to the longest in
            the batch; False pads every batch to `max_sequence_length`. Defaults to True.
        max_train_examples: int or None. Use only the first N training examples (quick runs).
        precision: str. `"auto"` (bfloat16 mixed precision where the chip computes bfloat16
            natively, else float32), `"float32"`, `"mixed_bfloat16"` or `"mixed_float16"`.
            Applies to a pretrained encoder too (a copy of it under that policy). Defaults to
            `"auto"`.
        jit_compile: bool. Compile the train step with XLA. Defaults to False.
        gradient_accumulation_steps: int. Micro-batches per optimizer step: the update of the
            whole `batch_size` with the activation memory of one micro-batch. Defaults to 1.
        tensorboard: bool. Write TensorBoard logs. Defaults to True.
        output_dir: str. Defaults to `"runs"`.
        seed: int. Seeds the shuffling and the held-out split (initial weights and dropout
            follow Keras' global seed, which library code never sets). Defaults to 0.
        verbose: int. Keras progress bar mode (0, 1 or 2). Defaults to 1.
    """

    task: str = "text_classification"
    train: str | None = None
    validation: str | None = None
    test: str | None = None
    validation_fraction: float = 0.0
    tokenizer: str | None = None
    max_sequence_length: int = 128
    max_query_length: int = MAX_QUERY_LENGTH
    max_answer_length: int = 30
    doc_stride: int | None = None
    batch_size: int = 32
    epochs: int = 3
    learning_rate: float = 5e-5
    learning_rates: tuple[float, ...] = ()
    warmup_fraction: float = 0.1
    weight_decay: float = 0.01
    layer_decay: float = 1.0
    dropout: float = 0.1
    pooling: Literal["cls", "mean"] = "cls"
    early_stopping_patience: int = 2
    restore_best_checkpoint: bool = True
    validate_each_epoch: bool = True
    bucket_by_length: bool = True
    max_train_examples: int | None = None
    precision: Literal["auto", "float32", "mixed_bfloat16", "mixed_float16"] = "auto"
    jit_compile: bool = False
    gradient_accumulation_steps: int = 1
    tensorboard: bool = True
    output_dir: str = "runs"
    seed: int = 0
    verbose: int = 1

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.task not in TASKS:
            raise ValueError(f"`finetune.task` must be one of {tuple(TASKS)}. "
                             f"Received: finetune.task={self.task!r}")
        for name in ("max_sequence_length", "max_query_length", "max_answer_length",
                     "batch_size", "epochs", "gradient_accumulation_steps"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"`finetune.{name}` must be a positive integer. "
                                 f"Received: finetune.{name}={value!r}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"`finetune.precision` must be one of {PRECISIONS}. "
                             f"Received: finetune.precision={self.precision!r}")
        if self.gradient_accumulation_steps > self.batch_size:
            raise ValueError("`finetune.gradient_accumulation_steps` must be at most "
                             f"`finetune.batch_size`. Received: finetune.batch_size="
                             f"{self.batch_size}, finetune.gradient_accumulation_steps="
                             f"{self.gradient_accumulation_steps}")
        if self.doc_stride is not None:
            room = self.max_sequence_length - PAIR_SPECIAL_TOKENS - self.max_query_length
            if isinstance(self.doc_stride, bool) or not isinstance(self.doc_stride, int) \
                    or not 1 <= self.doc_stride <= max(1, room):
                raise ValueError(
                    "`finetune.doc_stride` must be an integer from 1 to max_sequence_length - 3 "
                    f"- max_query_length = {max(1, room)} (longer strides skip context tokens). "
                    f"Received: finetune.doc_stride={self.doc_stride!r}")
        if self.max_sequence_length < 3:
            raise ValueError("`finetune.max_sequence_length` must be at least 3. "
                             f"Received: finetune.max_sequence_length={self.max_sequence_length}")
        for name, low, high in (("validation_fraction", 0.0, 1.0), ("warmup_fraction", 0.0, 1.0),
                                ("dropout", 0.0, 1.0)):
            value = getattr(self, name)
            if not low <= value < high:
                raise ValueError(f"`finetune.{name}` must be in [{low}, {high}). "
                                 f"Received: finetune.{name}={value!r}")
        if not (math.isfinite(self.learning_rate) and self.learning_rate > 0):
            raise ValueError("`finetune.learning_rate` must be a positive, finite number. "
                             f"Received: finetune.learning_rate={self.learning_rate!r}")
        rates = self.learning_rates
        if any(not (math.isfinite(rate) and rate > 0) for rate in rates) \
                or len(set(rates)) != len(rates):
            raise ValueError("`finetune.learning_rates` must be distinct positive, finite numbers. "
                             f"Received: finetune.learning_rates={list(rates)}")
        if len(rates) > 1 and self.train and not (self.validation or self.validation_fraction):
            raise ValueError(
                "`finetune.learning_rates` are chosen among on validation rows: set "
                "finetune.validation or finetune.validation_fraction. Received: "
                f"finetune.learning_rates={list(rates)}, finetune.validation=None, "
                f"finetune.validation_fraction={self.validation_fraction}")
        if self.weight_decay < 0:
            raise ValueError("`finetune.weight_decay` must be >= 0. "
                             f"Received: finetune.weight_decay={self.weight_decay!r}")
        if not 0.0 < self.layer_decay <= 1.0:
            raise ValueError("`finetune.layer_decay` must be in (0, 1]. "
                             f"Received: finetune.layer_decay={self.layer_decay!r}")
        if not self.validate_each_epoch and (self.early_stopping_patience
                                             or self.restore_best_checkpoint):
            raise ValueError(
                "`finetune.validate_each_epoch: false` leaves nothing for early stopping and "
                "the best-epoch restore to read: set finetune.early_stopping_patience=0 and "
                "finetune.restore_best_checkpoint=false too. Received: "
                f"finetune.early_stopping_patience={self.early_stopping_patience}, "
                f"finetune.restore_best_checkpoint={self.restore_best_checkpoint}")
        if self.early_stopping_patience < 0:
            raise ValueError("`finetune.early_stopping_patience` must be >= 0. Received: "
                             f"finetune.early_stopping_patience={self.early_stopping_patience!r}")
        if self.max_train_examples is not None and self.max_train_examples < 1:
            raise ValueError("`finetune.max_train_examples` must be positive or null. "
                             f"Received: finetune.max_train_examples={self.max_train_examples!r}")
        if self.verbose not in (0, 1, 2):
            raise ValueError(f"`finetune.verbose` must be 0, 1 or 2. Received: finetune.verbose={self.verbose!r}")

    def grid(self) -> list[float]:
        """The learning rates to try: `learning_rates`, or `learning_rate` alone."""
        return list(self.learning_rates) or [self.learning_rate]

    def context_stride(self) -> int:
        """`doc_stride`, or its default for this sequence and query length."""
        return self.doc_stride or default_doc_stride(self.max_sequence_length,
                                                     self.max_query_length)
