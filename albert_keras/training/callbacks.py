"""`make_callbacks`: the Keras callbacks of a pretraining run and where they write."""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile

import keras
import tensorflow as tf

from albert_keras.training.atomic_backup import AtomicBackupAndRestore
from albert_keras.training.strategy import is_chief, min_over_workers
from albert_keras.utils.atomic_files import write_atomic


def backup_directory(run_dir: str, strategy: tf.distribute.Strategy) -> str:
    """`{run_dir}/backup` on the chief; `{run_dir}/backup-{task type}-{index}` on each other
    worker of a multi-worker run (its own, kept beside the chief's so that a restarted pod
    finds it; deleted, like the chief's, when the run finishes)."""
    if is_chief(strategy):
        return os.path.join(run_dir, "backup")
    resolver = strategy.cluster_resolver
    return os.path.join(run_dir, f"backup-{resolver.task_type}-{resolver.task_id}")


def agreed_resume_epoch(backup: AtomicBackupAndRestore, strategy: tf.distribute.Strategy) -> int:
    """The epoch that every worker resumes from: the newest one that all of them have a
    readable backup of (and 0 without one).

    A worker killed while writing a backup has one epoch fewer than the others; resuming each
    from its own newest backup would put them out of step. Every worker calls this at the same
    point, before building its input pipeline; it then restores from that epoch's backup.
    """
    agreed = min_over_workers(strategy, backup.resume_epoch())
    while True:  # Each round is the same on every worker: they stop together.
        epoch = backup.resume_epoch(at_most=agreed)
        lowest = min_over_workers(strategy, epoch)
        if lowest == agreed:
            return epoch
        agreed = lowest


def make_callbacks(run_dir: str, strategy: tf.distribute.Strategy,
                   backup: AtomicBackupAndRestore | None = None) -> list[keras.callbacks.Callback]:
    """`AtomicBackupAndRestore`, `TerminateOnNaN`, `ModelCheckpoint`, and on the chief
    `TensorBoard`.

    Only the chief's checkpoints stay: the other workers of a multi-worker run save theirs
    into a temporary folder that they delete when `fit` ends (TensorFlow's multi-worker guide).

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
    checkpoint_dir = os.path.join(run_dir, "checkpoints")
    if not is_chief(strategy):  # Saves like the chief, into a folder deleted at the end.
        checkpoint_dir = tempfile.mkdtemp(prefix="albert-keras-checkpoints-")
        callbacks.append(_DeleteAtTrainEnd(checkpoint_dir))
    callbacks.append(keras.callbacks.ModelCheckpoint(
        os.path.join(checkpoint_dir, "epoch-{epoch:03d}.weights.h5"), save_weights_only=True))
    if is_chief(strategy):
        if importlib.util.find_spec("tensorboard") is not None:
            callbacks.append(keras.callbacks.TensorBoard(
                os.path.join(run_dir, "logs"), update_freq="epoch"))
        else:
            print("[pretrain] `tensorboard` is not installed: no TensorBoard logs "
                  "(pip install tensorboard)")
    return callbacks


class BestEpoch(keras.callbacks.Callback):
    """Keeps the weights of the best epoch by `monitor` and stops after `patience` epochs
    without a better one, counting the epochs of a resumed run's earlier parts.

    What `ModelCheckpoint(save_best_only=True)` and `EarlyStopping` do, with their state taken
    from the run's backup (`backup.history`: every epoch so far, resumed or not) instead of
    being lost at a restart. Put it before `backup` in the callbacks: the best weights of an
    epoch are written (whole, `write_atomic`) before the backup that counts that epoch.

    Args:
        backup: `AtomicBackupAndRestore`. The run's backups.
        monitor: str. The logged score, e.g. `"val_loss"`.
        mode: str. `"min"` or `"max"`.
        path: str or None. Where the best weights go (`*.weights.h5`); None saves none.
        patience: int or None. Epochs without improvement before stopping; None never stops.
    """

    def __init__(self, backup: AtomicBackupAndRestore, monitor: str, mode: str,
                 path: str | None = None, patience: int | None = None):
        super().__init__()
        if mode not in ("min", "max"):
            raise ValueError(f"`mode` must be 'min' or 'max'. Received: mode={mode!r}")
        self.backup, self.monitor, self.mode = backup, monitor, mode
        self.path, self.patience = path, patience

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None:
            return
        scores = [*self.backup.history.get(self.monitor, []), float(value)]  # Earlier + this.
        best = best_epoch(scores, self.mode)
        if best == len(scores) and self.path:
            write_atomic(self.path, self.model.save_weights, suffix=".weights.h5")
        if self.patience and len(scores) - best >= self.patience:
            self.model.stop_training = True


def best_epoch(scores: list[float], mode: str) -> int:
    """The 1-based epoch of the best score (the first of equal ones)."""
    pick = min if mode == "min" else max
    return scores.index(pick(scores)) + 1


def stopped_early(scores: list[float], mode: str, patience: int | None) -> bool:
    """Whether a run with these scores so far has had `patience` epochs without a better one."""
    return bool(patience and scores and len(scores) - best_epoch(scores, mode) >= patience)


class _DeleteAtTrainEnd(keras.callbacks.Callback):
    """Deletes a non-chief worker's temporary checkpoint folder when `fit` ends."""

    def __init__(self, path: str):
        super().__init__()
        self.path = path

    def on_train_end(self, logs=None):
        shutil.rmtree(self.path, ignore_errors=True)
