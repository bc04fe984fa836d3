"""`finetune`: a pretrained encoder + a task head, trained on labelled data with `model.fit`.

Data -> tokenizer and labels -> model in `strategy.scope()` -> `fit` (AdamW, warmup then linear
decay, optional layer-wise decay, early stopping, best-checkpoint restore, TensorBoard) ->
metrics on every split -> `{finetune.output_dir}/{name}/`: model.keras, labels.json,
tokenizer/, report.json, report.md. In a multi-worker run only the chief writes them (and the
checkpoints and logs); the other workers write theirs into a temporary folder and delete it.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import time
import warnings
from typing import Any

import keras
import numpy as np

from albert_keras.data import labeled
from albert_keras.data.labeled_batches import make_dataset, num_batches
from albert_keras.data.tokenizers import load_tokenizer, save_tokenizer
from albert_keras.models.dtype_copy import copy_with_dtype
from albert_keras.models.encoder import Encoder
from albert_keras.models.task import load_pretrained_encoder
from albert_keras.tasks.registry import task_named
from albert_keras.training import finetune_metrics
from albert_keras.training.gradient_accumulation import use_gradient_accumulation
from albert_keras.training.layer_decay_adamw import LayerDecayAdamW, layer_decay_multipliers
from albert_keras.training.precision import dtype_policy, resolve_precision
from albert_keras.training.strategy import make_strategy, output_directory
from albert_keras.training.warmup_polynomial_decay import WarmupPolynomialDecay
from albert_keras.utils.atomic_files import (save_model_atomic, write_atomic, write_json_atomic,
                                             write_text_atomic)


def finetune(config) -> dict[str, Any]:
    """Fine-tunes `config.model` on `config.finetune` and returns the report (also on disk).

    Args:
        config: `PipelineConfig`. Uses `name`, `model` (`pretrained` or a preset),
            `finetune` and `train.strategy`.

    Returns:
        The report dict: metrics per split, history, epochs, wall time, paths.
    """
    ft = config.finetune
    if not ft.train:
        raise ValueError("`finetune.train` must name the training data (a file or tfds:NAME). "
                         "Received: finetune.train=None")
    task = task_named(ft.task)
    task.check_config(ft)
    config.model.check_pretrained()
    run_dir = os.path.join(ft.output_dir, config.name)
    tokenizer = load_finetune_tokenizer(config)

    # === Data ===
    splits, skipped_rows, labels, encoded = encode_splits(task, ft, tokenizer)
    datasets = {split: make_dataset(
        data, ft.batch_size, training=split == "train", bucket_by_length=ft.bucket_by_length,
        max_sequence_length=ft.max_sequence_length, seed=ft.seed) for split, data in encoded.items()}

    # === Model ===
    strategy = make_strategy(config.train.strategy)
    steps_per_epoch = num_batches(encoded["train"].lengths, ft.batch_size, ft.bucket_by_length)
    precision, precision_reason = resolve_precision(ft.precision, strategy)
    print(f"[finetune] precision {precision} ({precision_reason})")
    with strategy.scope():
        encoder = _encoder(config, tokenizer, precision)
        model = task.build_model(ft, encoder, labels)
        optimizer = _optimizer(ft, model, encoder, steps_per_epoch * ft.epochs)
        if precision == "mixed_float16":
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
        model.compile(optimizer=optimizer, jit_compile=ft.jit_compile,
                      **task.compile_arguments(ft))
        use_gradient_accumulation(model, ft.gradient_accumulation_steps)

    # === Fit === (only the chief's files stay: other workers write to a temporary folder)
    with output_directory(run_dir, strategy) as out_dir:
        history, train_seconds, best_epoch, tensorboard = _fit(model, task, ft, datasets, out_dir)

    # === Report ===
    metrics = {"train": {k: float(v[best_epoch - 1]) for k, v in history.history.items()
                         if not k.startswith("val_")}}
    for split in ("validation", "test"):
        if split in encoded:
            metrics[split] = evaluate_split(model, task, ft, encoded[split], datasets[split],
                                            labels)
    report = {
        "name": config.name, "task": ft.task,
        "encoder": config.model.pretrained or f"preset {config.model.preset}",
        "labels": list(labels) if labels else None,
        "examples": {split: len(examples) for split, examples in splits.items() if examples},
        "truncated": {split: data.truncated for split, data in encoded.items()},
        "dropped": {split: data.dropped for split, data in encoded.items()},
        **task.report_fields(ft, encoded),
        "skipped_empty_text": skipped_rows,
        "precision": precision, "precision_reason": precision_reason,
        "gradient_accumulation_steps": ft.gradient_accumulation_steps,
        "epochs_run": len(history.epoch), "best_epoch": best_epoch,
        "steps_per_epoch": steps_per_epoch, "train_seconds": train_seconds,
        "history": {k: [float(x) for x in v] for k, v in history.history.items()},
        "metrics": metrics, "run_dir": run_dir, "tensorboard": tensorboard,
    }
    with output_directory(run_dir, strategy) as out_dir:
        save_run(model, tokenizer, ft, labels, report, out_dir)
    return report


def encode_splits(task, ft, tokenizer):
    """`(splits, skipped rows, labels, encoded)`: every split read, labels learned from train
    and checked on the others, each split encoded by the task's preprocessor."""
    skipped_rows: list[str] = []
    splits = read_splits(ft, skipped_rows)
    if skipped_rows:
        print(f"[finetune] left out {len(skipped_rows)} row(s) with empty text: "
              f"{', '.join(skipped_rows[:5])}{' ...' if len(skipped_rows) > 5 else ''}",
              file=sys.stderr)
    labels = None
    if task.has_labels:
        labels = task.label_vocabulary(splits["train"])
        for split in ("validation", "test"):
            if splits.get(split):
                task.check_labels(splits[split], labels, ft.label_column)
    encoded = {split: task.encode(examples, tokenizer, labels, ft, training=split == "train")
               for split, examples in splits.items() if examples}
    if not encoded["train"].token_ids:
        raise ValueError(f"{ft.train}: no training example fits max_sequence_length="
                         f"{ft.max_sequence_length} with its answer")
    return splits, skipped_rows, labels, encoded


def _fit(model, task, ft, datasets, run_dir: str):
    """`model.fit` with early stopping, best-checkpoint restore and TensorBoard; returns
    `(history, train seconds, best epoch, tensorboard log dir or why not)`."""
    has_validation = "validation" in datasets
    monitor, mode = task.monitor
    best_path = os.path.join(run_dir, "checkpoints", "best.weights.h5")
    os.makedirs(os.path.dirname(best_path), exist_ok=True)
    callbacks = [keras.callbacks.TerminateOnNaN()]
    if has_validation and ft.restore_best_checkpoint:
        callbacks.append(keras.callbacks.ModelCheckpoint(
            best_path, monitor=monitor, mode=mode, save_best_only=True, save_weights_only=True))
    if has_validation and ft.early_stopping_patience:
        callbacks.append(keras.callbacks.EarlyStopping(
            monitor=monitor, mode=mode, patience=ft.early_stopping_patience))
    tensorboard = None
    if ft.tensorboard:
        if importlib.util.find_spec("tensorboard") is None:
            tensorboard = "skipped: the tensorboard package is not installed"
            warnings.warn(f"finetune.tensorboard=True but {tensorboard[9:]}; no logs written")
        else:
            tensorboard = os.path.join(run_dir, "logs")
            callbacks.append(keras.callbacks.TensorBoard(tensorboard))
    started = time.perf_counter()
    history = model.fit(datasets["train"], validation_data=datasets.get("validation"),
                        epochs=ft.epochs, callbacks=callbacks, verbose=ft.verbose)
    train_seconds = time.perf_counter() - started
    best_epoch = len(history.epoch)
    if has_validation and ft.restore_best_checkpoint and os.path.isfile(best_path):
        scores = history.history[monitor]
        best_epoch = int(np.argmin(scores) if mode == "min" else np.argmax(scores)) + 1
        model.load_weights(best_path)  # Best-checkpoint restore.
    return history, train_seconds, best_epoch, tensorboard


def read_splits(ft, skipped: list[str] | None = None) -> dict[str, list[dict]]:
    """Train, validation and test examples (validation held out of train when asked); rows
    with empty text are left out and named in `skipped`."""
    read = task_named(ft.task).read_examples
    train, validation = labeled.split_training(read(ft.train, ft, "train", skipped), ft)
    if ft.validation:
        validation = read(ft.validation, ft, "validation", skipped)
    test = read(ft.test, ft, "test", skipped) if ft.test else None
    return {"train": train, "validation": validation, "test": test}


def evaluate_split(model, task, ft, encoded, dataset, labels) -> dict[str, Any]:
    """Loss and Keras metrics from `evaluate`, then the task's own metrics (`task.metrics`)
    from the model's predictions, batch by batch."""
    logs = model.evaluate(dataset, verbose=0, return_dict=True)
    outputs = [model.predict_on_batch(batch[0]) for batch in dataset]
    return {**{k: float(v) for k, v in logs.items()}, **task.metrics(outputs, encoded, labels, ft)}


def save_run(model, tokenizer, ft, labels, report, run_dir: str) -> None:
    """model.keras (no optimizer state), labels.json, tokenizer/, report.json, report.md.

    Each is replaced whole (written beside, then renamed): a kill keeps the previous file.
    """
    os.makedirs(run_dir, exist_ok=True)
    clean = model.__class__.from_config(model.get_config())  # Uncompiled: half the size.
    clean.set_weights(model.get_weights())
    save_model_atomic(clean, os.path.join(run_dir, "model.keras"))
    write_json_atomic(os.path.join(run_dir, "labels.json"), {
        "task": ft.task, "labels": list(labels) if labels else None,
        "multi_label": ft.multi_label, "max_sequence_length": ft.max_sequence_length,
        **task_named(ft.task).saved_settings(ft)})
    write_atomic(os.path.join(run_dir, "tokenizer"), lambda path: save_tokenizer(tokenizer, path))
    write_json_atomic(os.path.join(run_dir, "report.json"), report)
    write_text_atomic(os.path.join(run_dir, "report.md"), finetune_metrics.report_markdown(report))


def _encoder(config, tokenizer, precision: str) -> keras.Model:
    ft = config.finetune
    if config.model.pretrained:
        encoder = copy_with_dtype(load_pretrained_encoder(config.model.pretrained),
                                  dtype_policy(precision))
    else:
        encoder_config = config.model.encoder_config(vocabulary_size=tokenizer.vocabulary_size())
        encoder = Encoder(**encoder_config.to_dict(), dtype=dtype_policy(precision))
    if encoder.max_sequence_length < ft.max_sequence_length:
        raise ValueError(
            f"`finetune.max_sequence_length` must be at most the encoder's max_sequence_length="
            f"{encoder.max_sequence_length}. Received: finetune.max_sequence_length="
            f"{ft.max_sequence_length}")
    if encoder.vocabulary_size < tokenizer.vocabulary_size():
        raise ValueError(f"The tokenizer has {tokenizer.vocabulary_size()} tokens but the encoder "
                         f"only vocabulary_size={encoder.vocabulary_size}")
    return encoder


def load_finetune_tokenizer(config):
    """`finetune.tokenizer`, or the tokenizer stored with `model.pretrained`.

    A `.keras` encoder's tokenizer is the `tokenizer/` directory beside it (what `pretrain`
    and `convert` write); an imported checkpoint's is its own `vocab.txt` / `.model`.
    """
    if config.finetune.tokenizer:
        return load_tokenizer(config.finetune.tokenizer)
    pretrained = config.model.pretrained
    if pretrained and pretrained.endswith(".keras"):
        directory = os.path.join(os.path.dirname(os.path.abspath(pretrained)), "tokenizer")
        if os.path.isdir(directory):
            return load_tokenizer(directory)
    elif pretrained:
        from albert_keras.convert import load_pretrained_tokenizer

        try:
            return load_pretrained_tokenizer(pretrained)
        except FileNotFoundError:
            pass
    raise ValueError("No tokenizer: set finetune.tokenizer (a tokenizer directory, .model or "
                     "vocab.txt), or use a model.pretrained that has one beside it. Received: "
                     f"finetune.tokenizer=None, model.pretrained={pretrained!r}")


def _optimizer(ft, model, encoder, total_steps: int) -> keras.optimizers.Optimizer:
    warmup = int(ft.warmup_fraction * total_steps)
    schedule = WarmupPolynomialDecay(ft.learning_rate, warmup_steps=warmup,
                                     decay_steps=max(total_steps, warmup + 1))
    multipliers = None
    if ft.layer_decay < 1.0:
        multipliers = layer_decay_multipliers(model, encoder, ft.layer_decay)
    return LayerDecayAdamW(learning_rate=schedule, weight_decay=ft.weight_decay,
                           learning_rate_multipliers=multipliers)
