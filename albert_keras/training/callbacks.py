"""`make_callbacks`: the Keras callbacks of a pretraining run and where they write."""

from __future__ import annotations

import importlib.util
import os

import keras
import tensorflow as tf

from albert_keras.training.atomic_backup import AtomicBackupAndRestore
from albert_keras.training.strategy import is_chief


def backup_directory(run_dir: str, strategy: tf.distribute.Strategy) -> str:
    """`{run_dir}/backup`, or a folder of its own per worker in multi-worker training."""
    backup_dir = os.path.join(run_dir, "backup")
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is not None and resolver.task_type is not None \
            and resolver.cluster_spec().as_dict():
        backup_dir = os.path.join(backup_dir, f"{resolver.task_type}-{resolver.task_id}")
    return backup_dir


def make_callbacks(run_dir: str, strategy: tf.distribute.Strategy,
                   backup: AtomicBackupAndRestore | None = None) -> list[keras.callbacks.Callback]:
    """`AtomicBackupAndRestore`, `TerminateOnNaN`, and on the chief `ModelCheckpoint` and
    `TensorBoard`.

    `TensorBoard` needs the `tensorboard` package (TensorFlow 2.21 does not install it); without
    it the run goes on without logs and says so.

    A kill during a backup leaves the previous one readable (see `AtomicBackupAndRestore`).

    Everything saves at epoch ends (every `train.steps_per_epoch` steps). The backup holds the
    weights, the optimizer state and the epoch; a run started again after a kill or a
    preemption resumes from it; a run that finishes deletes it. Each worker of a multi-worker
    run backs up to its own folder.

    Args:
        run_dir: str. The run's folder: `backup/`, `checkpoints/` and `logs/` go inside.
        strategy: the run's strategy (decides which worker writes checkpoints and logs).
        backup: `AtomicBackupAndRestore` or None. The run's backup callback when the caller
            made it (to ask `resume_epoch()` first); None makes one in `backup_directory`.
    """
    backup = backup or AtomicBackupAndRestore(backup_directory(run_dir, strategy))
    callbacks = [backup, keras.callbacks.TerminateOnNaN()]
    if is_chief(strategy):
        callbacks.append(keras.callbacks.ModelCheckpoint(
            os.path.join(run_dir, "checkpoints", "epoch-{epoch:03d}.weights.h5"),
            save_weights_only=True))
        if importlib.util.find_spec("tensorboard") is not None:
            callbacks.append(keras.callbacks.TensorBoard(
                os.path.join(run_dir, "logs"), update_freq="epoch"))
        else:
            print("[pretrain] `tensorboard` is not installed: no TensorBoard logs "
                  "(pip install tensorboard)")
    return callbacks
