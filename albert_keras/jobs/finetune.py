"""`finetune`: a pretrained encoder + a task head, trained on labelled data with `model.fit`.

Data -> tokenizer and labels (`finetune_data.py`) -> model in `strategy.scope()` -> `fit`
(AdamW, warmup then linear decay, optional layer-wise decay, early stopping, best-checkpoint
restore, TensorBoard) -> metrics on every split -> `{finetune.output_dir}/{name}/`:
model.keras, labels.json, tokenizer/, report.json, report.md, published as one unit
(`publish_run`). A run killed part-way resumes from its backup (`backup/`, which also holds the
best weights so far) when started again with the same settings; the previous run's outputs
stay until the new ones replace them whole. In a multi-worker run only the chief writes them
(and the logs); the other workers write theirs into a temporary folder and delete it.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import warnings
from typing import Any

import keras

from albert_keras.jobs.finetune_data import (encode_splits, finetune_tokenizer_path,
                                             load_finetune_tokenizer, read_splits)
from albert_keras.models.dtype_copy import save_float32
from albert_keras.models.task import make_encoder
from albert_keras.tasks import finetune_metrics
from albert_keras.tasks.inputs.labeled_batches import make_dataset, num_batches
from albert_keras.tasks.registry import task_named
from albert_keras.tasks.serving_settings import LABELS_FILE
from albert_keras.tokenizers.tokenizer_files import save_tokenizer, tokenizer_fingerprint
from albert_keras.training.atomic_backup import AtomicBackupAndRestore
from albert_keras.training.callbacks import (BestEpoch, backup_directory, best_epoch,
                                             stopped_early)
from albert_keras.training.gradient_accumulation import use_gradient_accumulation
from albert_keras.training.layer_decay_adamw import LayerDecayAdamW, layer_decay_multipliers
from albert_keras.training.optimizers import build_optimizer
from albert_keras.training.precision import dtype_policy, resolve_precision
from albert_keras.training.strategy import make_strategy, output_directory
from albert_keras.training.warmup_polynomial_decay import WarmupPolynomialDecay
from albert_keras.utils import file_io
from albert_keras.utils.atomic_files import file_sha256
from albert_keras.utils.published_run import check_tokenizer_matches, publish_run
from albert_keras.utils.tokenizer_beside import TOKENIZER_DIR

# `read_splits` and `load_finetune_tokenizer` (`finetune_data.py`) are imported from here too.
__all__ = ["finetune", "evaluate_split", "save_run", "resume_settings", "read_splits",
           "load_finetune_tokenizer"]


def finetune(config) -> dict[str, Any]:
    """Fine-tunes `config.model` on `config.finetune` and returns the report (also on disk).

    Seeds Keras' global RNGs with `finetune.seed` (weights, dropout; the batches are shuffled
    with it too): the same seed, data and machine give the same scores. A run killed part-way
    resumes from `backup/` when started again with the same settings (`resume_settings`; other
    ones are refused, naming each difference); its outputs replace the previous run's only
    when it finishes, all at once.

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
    keras.utils.set_random_seed(ft.seed)  # The job's seed: same seed and data, same scores.
    run_dir = os.path.join(ft.output_dir, config.name)
    tokenizer = load_finetune_tokenizer(config)
    tokenizer_path = finetune_tokenizer_path(config)

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
        encoder = _encoder(config, tokenizer, precision, tokenizer_path)
        model = task.build_model(ft, encoder, labels)
        optimizer = _optimizer(ft, model, encoder, steps_per_epoch * ft.epochs)
        if precision == "mixed_float16":
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
        model.compile(optimizer=optimizer, jit_compile=ft.jit_compile,
                      **task.compile_arguments(ft))
        build_optimizer(model)  # The train step traced once, not twice.
        use_gradient_accumulation(model, ft.gradient_accumulation_steps)

    # === Fit === (only the chief's files stay: other workers write to a temporary folder)
    backup = AtomicBackupAndRestore(
        backup_directory(run_dir, strategy), delete_on_finish=False,
        settings=resume_settings(config, tokenizer, labels, precision, steps_per_epoch))
    resumed_from = backup.resume_epoch()  # Refuses backups made with other settings.
    with output_directory(run_dir, strategy) as out_dir:
        history, train_seconds, best_epoch, tensorboard = _fit(model, task, ft, datasets,
                                                               out_dir, backup)

    # === Report ===
    metrics = {"train": {k: float(v[best_epoch - 1]) for k, v in history.items()
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
        "epochs_run": len(history.get("loss", [])), "best_epoch": best_epoch,
        "resumed_from_epoch": resumed_from, "steps_per_epoch": steps_per_epoch,
        "train_seconds": train_seconds, "history": history,
        "metrics": metrics, "run_dir": run_dir, "tensorboard": tensorboard,
    }
    with output_directory(run_dir, strategy) as out_dir:
        save_run(model, tokenizer, ft, labels, report, out_dir)
    backup.delete()  # Only now: the run's outputs are published.
    return report


def _fit(model, task, ft, datasets, run_dir: str, backup: AtomicBackupAndRestore):
    """`model.fit` with backups (resume after a kill), early stopping, best-epoch restore and
    TensorBoard; returns `(history of every epoch, train seconds, best epoch, tensorboard log
    dir or why not)`. The best weights so far are kept with the backups, never beside the
    previous run's outputs."""
    has_validation = "validation" in datasets
    monitor, mode = task.monitor
    best_path = os.path.join(backup.backup_dir, "best.weights.h5")
    keep_best = has_validation and ft.restore_best_checkpoint
    patience = ft.early_stopping_patience if has_validation else None
    initial_epoch = backup.resume_epoch()
    earlier = backup.resumed_history()
    epochs = ft.epochs
    if stopped_early(earlier.get(monitor, []), mode, patience):
        epochs = initial_epoch  # Early stopping had ended the killed run: nothing to train.
    if initial_epoch:
        print(f"[finetune] resuming from {backup.backup_dir} (epoch {initial_epoch} of "
              f"{ft.epochs})")
    callbacks = [keras.callbacks.TerminateOnNaN(),
                 BestEpoch(backup, monitor, mode, best_path if keep_best else None, patience),
                 backup]  # The best weights of an epoch are written before its backup.
    tensorboard = None
    if ft.tensorboard:
        if importlib.util.find_spec("tensorboard") is None:
            tensorboard = "skipped: the tensorboard package is not installed"
            warnings.warn(f"finetune.tensorboard=True but {tensorboard[9:]}; no logs written")
        else:
            tensorboard = os.path.join(run_dir, "logs")
            callbacks.append(keras.callbacks.TensorBoard(tensorboard))
    validation = datasets.get("validation") if ft.validate_each_epoch else None
    model.fit(datasets["train"], validation_data=validation, epochs=epochs, callbacks=callbacks, verbose=ft.verbose)
    history = {k: [float(x) for x in v] for k, v in backup.history.items()}
    best = len(history.get("loss", []))
    if keep_best and file_io.isfile(best_path) and history.get(monitor):
        best = best_epoch(history[monitor], mode)
        model.load_weights(best_path)  # Best-epoch restore.
    return history, backup.train_seconds, best, tensorboard


def evaluate_split(model, task, ft, encoded, dataset, labels) -> dict[str, Any]:
    """Loss and Keras metrics from `evaluate`, then the task's own metrics (`task.metrics`)
    from the model's predictions, batch by batch."""
    logs = model.evaluate(dataset, verbose=0, return_dict=True)
    outputs = [model.predict_on_batch(batch[0]) for batch in dataset]
    return {**{k: float(v) for k, v in logs.items()}, **task.metrics(outputs, encoded, labels, ft)}


def save_run(model, tokenizer, ft, labels, report, run_dir: str) -> None:
    """Publishes model.keras (no optimizer state), labels.json, tokenizer/, report.json and
    report.md as one unit (`publish_run`): a kill leaves the previous run's set or this one,
    never a mix. The record beside them holds the tokenizer's fingerprint."""
    file_io.makedirs(run_dir)

    def write(staging: str) -> None:
        # Uncompiled (half the size) and in float32 whatever the training precision.
        save_float32(model, os.path.join(staging, "model.keras"), include_optimizer=False)
        task_named(ft.task).serving_settings(ft, labels).write(
            os.path.join(staging, LABELS_FILE))  # What the export serves it with.
        save_tokenizer(tokenizer, os.path.join(staging, TOKENIZER_DIR))
        file_io.write_text(os.path.join(staging, "report.json"), json.dumps(report, indent=2))
        file_io.write_text(os.path.join(staging, "report.md"),
                           finetune_metrics.report_markdown(report))
        record["tokenizer_fingerprint"] = tokenizer_fingerprint(
            os.path.join(staging, TOKENIZER_DIR))

    record = {"job": "finetune", "name": report.get("name"), "task": ft.task,
              "vocabulary_size": int(tokenizer.vocabulary_size()),
              "precision": report.get("precision")}
    publish_run(run_dir, write, record)


def resume_settings(config, tokenizer, labels, precision: str,
                    steps_per_epoch: int) -> dict[str, Any]:
    """What shapes a fine-tuning run, recorded in its backups: a run resumes only from backups
    made with the same (`AtomicBackupAndRestore`)."""
    ft = config.finetune
    return {
        "finetune": {k: v for k, v in dataclasses.asdict(ft).items() if k not in _NOT_TRAINING},
        "model": dataclasses.asdict(config.model), "precision": precision,
        "steps_per_epoch": steps_per_epoch, "labels": list(labels) if labels else None,
        "vocabulary_size": int(tokenizer.vocabulary_size()),
        "data_sha256": {split: file_sha256(path) for split, path in
                        (("train", ft.train), ("validation", ft.validation)) if path},
    }


# Fields of `finetune` that do not change what is trained (where it goes, what is printed).
_NOT_TRAINING = ("output_dir", "verbose", "tensorboard", "test", "learning_rates", "jit_compile")


def _encoder(config, tokenizer, precision: str, tokenizer_path: str | None) -> keras.Model:
    ft = config.finetune
    pretrained = config.model.pretrained
    encoder = make_encoder(config.model, tokenizer, dtype_policy(precision))
    if pretrained and pretrained.endswith(".keras") and tokenizer_path:  # One tokenizer fits.
        check_tokenizer_matches(pretrained, int(encoder.vocabulary_size), tokenizer_path,
                                int(tokenizer.vocabulary_size()), _fingerprint(tokenizer_path))
    if encoder.max_sequence_length < ft.max_sequence_length:
        raise ValueError(
            f"`finetune.max_sequence_length` must be at most the encoder's max_sequence_length="
            f"{encoder.max_sequence_length}. Received: finetune.max_sequence_length="
            f"{ft.max_sequence_length}")
    return encoder


def _fingerprint(tokenizer_path: str) -> str | None:
    """The fingerprint of a saved tokenizer directory; None for a lone vocabulary file."""
    return tokenizer_fingerprint(tokenizer_path) if file_io.isdir(tokenizer_path) else None


def _optimizer(ft, model, encoder, total_steps: int) -> keras.optimizers.Optimizer:
    warmup = int(ft.warmup_fraction * total_steps)
    schedule = WarmupPolynomialDecay(ft.learning_rate, warmup_steps=warmup,
                                     decay_steps=max(total_steps, warmup + 1))
    multipliers = None
    if ft.layer_decay < 1.0:
        multipliers = layer_decay_multipliers(model, encoder, ft.layer_decay)
    return LayerDecayAdamW(learning_rate=schedule, weight_decay=ft.weight_decay,
                           learning_rate_multipliers=multipliers)
