"""`AtomicBackupAndRestore`: Keras' resume-after-a-kill, with backups a kill cannot corrupt.

`backup_dir` may be a URL (`gs://...`): a backup there is published by its metadata, written
last (`atomic_files`), and one without it is passed over like any unreadable backup.
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import time
import warnings
from typing import Any

import keras

from albert_keras.utils import file_io
from albert_keras.utils.atomic_files import write_atomic

_BACKUP = re.compile(r"epoch-(\d+)$")
WEIGHTS_FILE = "latest.weights.h5"
METADATA_FILE = "training_metadata.json"
KEEP = 2


class AtomicBackupAndRestore(keras.callbacks.Callback):
    """Backs up weights and optimizer state every epoch; a restarted `fit` resumes from them.

    The contract of `keras.callbacks.BackupAndRestore` (same `backup_dir`, restart `fit` with
    the same arguments, it goes on from the last finished epoch), but a kill or a full disk
    during a backup never leaves the run unable to resume: each backup is a directory
    `epoch-NNNNN/` (`latest.weights.h5` + `training_metadata.json`) written under a temporary
    name, flushed and renamed in one step, and the previous good backup stays until the new
    one is complete. At the start, a backup that cannot be read is reported by path and the
    one before it is used. The backup also holds the history and training time of every
    epoch so far (`history`, `train_seconds` cover the whole run, resumed or not), and
    `resume_epoch()` tells an input pipeline how many epochs of batches to skip. An epoch whose
    loss is not finite is not backed up, and a run stopped by it keeps its backups (resume with
    other settings). A job that saves outputs after `fit` passes `delete_on_finish=False` and
    calls `delete()` once they are durable: a kill in between resumes without retraining.

    Each backup records `settings`, what shapes the training (batch, steps, optimizer and
    schedule, model, data, precision): resuming from a backup made with other settings is
    refused (`ResumeRefused`, one line listing each difference and how to start fresh).

    Args:
        backup_dir: str. Folder of the backups (one per worker in multi-worker training).
        delete_on_finish: bool. Delete the backups when `fit` finishes normally. Defaults to
            True.
        settings: dict or None. JSON-able settings the backups must have been made with
            (nested dicts are compared key by key). None checks nothing. Defaults to None.

    Example:
    ```python
    # needs: a compiled `model` and a `dataset`
    model.fit(dataset, epochs=10, callbacks=[AtomicBackupAndRestore("runs/x/backup")])
    ```
    """

    def __init__(self, backup_dir: str, delete_on_finish: bool = True,
                 settings: dict[str, Any] | None = None):
        super().__init__()
        if not backup_dir:
            raise ValueError(f"`backup_dir` must name a folder. Received: backup_dir={backup_dir!r}")
        self.backup_dir = backup_dir
        self.delete_on_finish = delete_on_finish
        self.settings = None if settings is None else json.loads(json.dumps(settings))
        self.failed = False
        self._chosen: tuple[int, str | None, dict] | None = None
        self._at_most: int | None = None
        self.history: dict[str, list[float]] = {}
        self.train_seconds = 0.0
        self._started = 0.0

    def resume_epoch(self, at_most: int | None = None) -> int:
        """The epoch the next `fit` resumes from: that of the newest readable backup, or 0.

        Call it before building the input pipeline to skip the batches already trained on
        (the reader is deterministic for a seed). Unreadable backups are reported by path.

        Args:
            at_most: int or None. Resume from no backup newer than this epoch (and so does the
                next `fit`): the workers of a multi-worker run agree on an epoch that all of
                them have (see `agreed_resume_epoch`).
        """
        if at_most is not None and at_most != self._at_most:
            self._at_most, self._chosen = at_most, None
        return self._choose()[0]

    def resumed_history(self) -> dict[str, list[float]]:
        """The logs of every epoch the next `fit` resumes after (empty without a backup)."""
        return {k: list(v) for k, v in self._choose()[2].get("history", {}).items()}

    def _choose(self) -> tuple[int, str | None, dict]:
        if self._chosen is None:
            chosen: tuple[int, str | None, dict] = (0, None, {})
            for epoch, path in reversed(self.backups()):
                if self._at_most is not None and epoch > self._at_most:
                    continue
                problem = _unreadable(path)
                if problem is None:
                    metadata = json.loads(file_io.read_text(os.path.join(path, METADATA_FILE)))
                    self._check_settings(metadata.get("settings"), path)
                    chosen = (epoch, path, metadata)
                    break
                warnings.warn(f"The backup {path} cannot be read ({problem}); trying the one "
                              "before it.", stacklevel=3)
            self._chosen = chosen
        return self._chosen

    def _check_settings(self, recorded: dict | None, path: str) -> None:
        if self.settings is None or recorded is None:
            return  # Nothing to compare (a backup made before settings were recorded).
        now, then = _flatten(self.settings), _flatten(recorded)
        def show(values: dict, key: str) -> str:
            return repr(values[key]) if key in values else "(unset)"

        changed = [f"{key} {show(then, key)} -> {show(now, key)}"
                   for key in sorted(set(now) | set(then))
                   if key not in now or key not in then or now[key] != then[key]]
        if changed:
            raise ResumeRefused(
                f"Cannot resume from the backup {path}: it was made with other settings "
                f"(backup -> now: {'; '.join(changed)}). Run with the backup's settings to "
                f"resume, or delete {self.backup_dir} (or use another name) to start fresh.")

    def delete(self) -> None:
        """Deletes the backups (call when the run's outputs are durable)."""
        file_io.remove(self.backup_dir)

    def backups(self) -> list[tuple[int, str]]:
        """`(epoch, path)` of the finished backups, oldest first."""
        if not file_io.isdir(self.backup_dir):
            return []
        found = [(int(m.group(1)), os.path.join(self.backup_dir, name))
                 for name in file_io.listdir(self.backup_dir) if (m := _BACKUP.match(name))]
        return sorted(found)

    def on_train_begin(self, logs=None):
        self.failed = False
        epoch, path, metadata = self._choose()
        self._chosen, self._at_most = None, None  # A later fit looks again.
        self.history = {k: list(v) for k, v in metadata.get("history", {}).items()}
        self.train_seconds = float(metadata.get("train_seconds", 0.0))
        self._started = time.perf_counter()
        if path is None:
            return
        if self.model.optimizer is not None and not self.model.optimizer.built:
            self.model.optimizer.build(self.model.trainable_variables)
        self.model.load_weights(os.path.join(path, WEIGHTS_FILE))
        # The hook Keras' own BackupAndRestore sets: fit starts at this epoch.
        self.model._initial_epoch = epoch
        print(f"[backup] resuming from {path} (epoch {epoch})")

    def on_epoch_end(self, epoch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            self.failed = True  # Keep the last good backup; write no bad one.
            return
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))
        now = time.perf_counter()
        self.train_seconds += now - self._started
        self._started = now
        target = os.path.join(self.backup_dir, f"epoch-{epoch + 1:05d}")
        metadata = {"epoch": epoch + 1, "history": self.history,
                    "train_seconds": self.train_seconds, "settings": self.settings}

        def write(directory: str) -> None:
            file_io.makedirs(directory)
            self.model.save_weights(os.path.join(directory, WEIGHTS_FILE))
            file_io.write_text(os.path.join(directory, METADATA_FILE), json.dumps(metadata))

        write_atomic(target, write, last=(METADATA_FILE,))
        for _, old in self.backups()[:-KEEP]:
            file_io.remove(old)

    def on_train_end(self, logs=None):
        if self.delete_on_finish and not self.failed and not self.model.stop_training:
            self.delete()

    def get_config(self):
        return {"backup_dir": self.backup_dir, "delete_on_finish": self.delete_on_finish,
                "settings": self.settings}


class ResumeRefused(ValueError):
    """A backup was made with other settings than the run that would resume from it."""


def _flatten(settings: dict, prefix: str = "") -> dict[str, Any]:
    flat = {}
    for key, value in settings.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _unreadable(path: str) -> str | None:
    """Why the backup in `path` cannot be used, or None: its metadata parses and every array
    of its weights file reads to the end."""
    import h5py

    import tensorflow as tf

    weights = os.path.join(path, WEIGHTS_FILE)
    try:
        if not isinstance(json.loads(file_io.read_text(os.path.join(path, METADATA_FILE)))
                          .get("epoch"), int):
            return f"no integer epoch in {METADATA_FILE}"
        source = io.BytesIO(file_io.read_bytes(weights)) if file_io.is_url(path) else weights
        with h5py.File(source, "r") as f:
            f.visititems(lambda _, item: item[()] if isinstance(item, h5py.Dataset) else None)
    except (OSError, ValueError, KeyError, AttributeError, tf.errors.OpError) as error:
        return f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
    return None
