"""`fit_and_save`: one pretraining run's `fit`, scores, summary and saved models.

`pretrain` (`pretrain.py`) checks the config, builds the model and the data, and gathers them
in a `PretrainRun`; `fit_and_save` scores the fixed evaluation batches, trains with
`fit_pretrainer` (usable on its own with any dataset of `(x, y, sample_weight)` batches),
scores them again and publishes the summary and the models (`pretrain_report.py`). A loss that
becomes NaN or infinite fails the run (`TrainingFailed`) with nothing saved over the models.
"""

from __future__ import annotations

import dataclasses
import os
import time
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from albert_keras.jobs.pretrain_phases import add_phases
from albert_keras.jobs.pretrain_report import (format_summary, initial_scores, json_safe, save_run,
                                               scores, weights_digest)
from albert_keras.jobs.train_config import TrainConfig
from albert_keras.models.pretrainer import Pretrainer
from albert_keras.training.atomic_backup import AtomicBackupAndRestore
from albert_keras.training.callbacks import backup_directory, make_callbacks
from albert_keras.training.strategy import is_chief, num_workers
from albert_keras.training.time_budget import TimeBudget, time_fitted_schedule
from albert_keras.utils.atomic_files import write_json_atomic


@dataclasses.dataclass(frozen=True)
class Evaluation:
    """The fixed batches a run is scored on before and after training.

    Args:
        data: the batches, distributed for the strategy.
        steps: int. How many (at most `train.eval_batches`).
        source: str. `"held_out"` (pairs from documents never trained on, `held_out/`) or
            `"training"` (the first batches of the training records).
        baseline: float. Most-frequent-token accuracy on those batches.
    """

    data: Any
    steps: int
    source: str
    baseline: float


@dataclasses.dataclass(frozen=True)
class PretrainRun:
    """What `fit_and_save` needs of one run, gathered once by `pretrain`.

    Args:
        config: `PipelineConfig`. The run's config (`name`, `train`).
        strategy: `tf.distribute.Strategy`. The strategy the model was built under.
        pretrainer: `Pretrainer`. Built and compiled in `strategy.scope()`.
        train_data: the training batches, distributed for the strategy.
        evaluation: `Evaluation`. The batches scored before and after training.
        backup: `AtomicBackupAndRestore`. The run's backups (resume after a kill).
        skip: int. Batches the resumed run already trained on (0 for a new run).
        records: str. The records' file pattern, recorded in the summary.
        tokenizer_dir: str or None. The tokenizer saved beside the models.
        precision: str. The run's precision; `precision_reason`: why it was chosen.
        run_dir: str. `{train.output_dir}/{name}`; `out_dir` is where this process writes
            (`run_dir` on the chief, a temporary folder on the other workers).
        phase: dict or None. For a run in phases, this phase's settings; `earlier_phases`:
            the entries of the phases before (`pretrain`'s arguments of the same names).
    """

    config: Any
    strategy: tf.distribute.Strategy
    pretrainer: Pretrainer
    train_data: Any
    evaluation: Evaluation
    backup: AtomicBackupAndRestore
    skip: int
    records: str
    tokenizer_dir: str | None
    precision: str
    precision_reason: str
    run_dir: str
    out_dir: str
    phase: dict[str, Any] | None = None
    earlier_phases: list[dict[str, Any]] | None = None


def fit_and_save(run: PretrainRun) -> dict[str, Any]:
    """`fit` between the initial and final scores, then the summary and the models, written
    to `run.out_dir` (`run.run_dir` on the chief). Returns the summary."""
    config, strategy, pretrainer, backup = run.config, run.strategy, run.pretrainer, run.backup
    evaluation, skip, out_dir, run_dir = run.evaluation, run.skip, run.out_dir, run.run_dir
    train, encoder, pair_task = config.train, pretrainer.encoder, pretrainer.pair_task
    eval_data = evaluation.data
    initial = initial_scores(pretrainer, eval_data, evaluation.steps, out_dir, resumed=skip > 0)
    start = time.time()
    history = fit_pretrainer(pretrainer, run.train_data, train, out_dir, strategy, backup=backup)
    seconds = backup.train_seconds or time.time() - start  # The whole run's, resumed or not.
    failure = training_failure(pretrainer, history)
    budget = getattr(history, "time_budget", None)
    final = scores(pretrainer, eval_data, evaluation.steps) if failure is None else None

    summary = {
        "status": "completed" if failure is None else "failed", "failure": failure,
        "name": config.name, "run_dir": run_dir, "pair_task": pair_task,
        "encoder_config": encoder.encoder_config.to_dict(),
        "encoder_parameters": int(encoder.count_params()),
        "strategy": train.strategy, "replicas": int(strategy.num_replicas_in_sync),
        "steps": train.steps, "steps_run": int(pretrainer.optimizer.iterations.numpy()),
        "max_minutes": train.max_minutes,
        "stopped_by_time_budget": bool(budget and budget.reached),
        # The first step (tracing) is outside the budget (`TimeBudget`); None without one.
        "time_budget_first_step_seconds": (
            round(budget.first_step_seconds, 1)
            if budget and budget.first_step_seconds is not None else None),
        "global_batch_size": train.global_batch_size,
        "precision": run.precision, "precision_reason": run.precision_reason,
        "gradient_accumulation_steps": train.gradient_accumulation_steps, "train_seconds": round(seconds, 1),
        "records": run.records, "eval_batches": evaluation.steps,
        "eval_source": evaluation.source,
        "eval_pairs": evaluation.steps * train.global_batch_size,
        "initial": initial, "final": final,
        "most_frequent_token_accuracy": evaluation.baseline,
        "resumed_from_epoch": skip // train.steps_per_epoch,
        "weights_sha256": weights_digest(pretrainer),
        "history": backup.history or {k: [float(v) for v in values]
                                      for k, values in history.history.items()},
    }
    if run.phase is not None:
        summary["phase"] = run.phase
        if run.earlier_phases:
            add_phases(summary, run.earlier_phases)
    if failure is not None:  # The failure is recorded; the models of a good run stay.
        write_json_atomic(os.path.join(out_dir, "summary.json"), json_safe(summary))
        raise TrainingFailed(f"Pretraining {config.name!r} failed: {failure}. Nothing was saved "
                             f"over the models in {run_dir}/; its backups hold the last good "
                             "epoch (lower train.learning_rate or set train.global_clipnorm, "
                             "then run again to resume).")
    save_run(out_dir, pretrainer, run.tokenizer_dir, summary)
    backup.delete()  # Only now: the outputs are durable.
    if is_chief(strategy):
        print(format_summary(summary))
    if num_workers(strategy) > 1:  # Workers that stayed in step print the same digest.
        resolver = strategy.cluster_resolver
        print(f"[pretrain] {resolver.task_type} {resolver.task_id}: weights sha256 "
              f"{summary['weights_sha256']}")
    return summary


class TrainingFailed(RuntimeError):
    """Training stopped without finishing (a NaN or infinite loss)."""


def training_failure(model: keras.Model, history: keras.callbacks.History) -> str | None:
    """Why a `fit` that returned did not finish, or None: a non-finite loss stopped it."""
    losses = history.history.get("loss", [])
    for epoch, loss in zip(history.epoch, losses):
        if not np.isfinite(loss):
            return f"the loss became {loss} in epoch {epoch + 1} (TerminateOnNaN stopped it)"
    if model.stop_training:
        return "training was stopped before its last step (TerminateOnNaN or a callback)"
    return None


def fit_pretrainer(pretrainer: Pretrainer, dataset, train: TrainConfig, run_dir: str,
                   strategy: tf.distribute.Strategy, callbacks=(),
                   backup: AtomicBackupAndRestore | None = None) -> keras.callbacks.History:
    """`model.fit` for `train.steps` steps in epochs of `train.steps_per_epoch`, with backups.

    `dataset` repeats (or has at least `train.steps` batches). Restarted with the same
    `run_dir` after a kill, `AtomicBackupAndRestore` (`backup`, or one made here) restores the
    weights, the optimizer state and the epoch, and training goes on from there; a dataset
    made with `skip_batches=backup.resume_epoch() * train.steps_per_epoch` then continues
    with the very batches the stopped run would have seen next.

    With `train.max_minutes`, training ends when that much training time is spent (the
    schedule runs over the time); the returned history then has `time_budget` (the
    `TimeBudget` callback: `reached`, `seconds`, `first_step_seconds`).
    """
    backup = backup or AtomicBackupAndRestore(backup_directory(run_dir, strategy))
    budget = []
    schedule = time_fitted_schedule(pretrainer.optimizer)
    if train.max_minutes is not None and schedule is not None:
        budget = [TimeBudget(train.max_minutes, schedule, backup)]  # After the backup's start.
    history = pretrainer.fit(
        dataset, epochs=train.steps // train.steps_per_epoch,
        steps_per_epoch=train.steps_per_epoch,
        callbacks=[*make_callbacks(run_dir, strategy, backup), *budget, *callbacks],
        verbose=train.verbose, shuffle=False)
    if budget:
        history.time_budget = budget[0]
    if budget and budget[0].reached:  # A finished run: its backups go, as at its last step.
        pretrainer.stop_training = False
        if backup.delete_on_finish:
            backup.delete()
    return history
