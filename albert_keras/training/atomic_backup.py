"""`AtomicBackupAndRestore`: Keras' resume-after-a-kill, with backups a kill cannot corrupt."""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import warnings

import keras

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
    one before it is used. An epoch whose loss is not finite is not backed up, and a run
    stopped by it keeps its backups (resume with other settings); a run that finishes deletes
    them.

    Args:
        backup_dir: str. Folder of the backups (one per worker in multi-worker training).
        delete_on_finish: bool. Delete the backups when `fit` finishes normally. Defaults to
            True.

    Example:
    ```python
    model.fit(dataset, epochs=10, callbacks=[AtomicBackupAndRestore("runs/x/backup")])
    ```
    """

    def __init__(self, backup_dir: str, delete_on_finish: bool = True):
        super().__init__()
        if not backup_dir:
            raise ValueError(f"`backup_dir` must name a folder. Received: backup_dir={backup_dir!r}")
        self.backup_dir = backup_dir
        self.delete_on_finish = delete_on_finish
        self.failed = False
        self.restored_epoch = 0

    def backups(self) -> list[tuple[int, str]]:
        """`(epoch, path)` of the finished backups, oldest first."""
        if not os.path.isdir(self.backup_dir):
            return []
        found = [(int(m.group(1)), os.path.join(self.backup_dir, name))
                 for name in os.listdir(self.backup_dir) if (m := _BACKUP.match(name))]
        return sorted(found)

    def on_train_begin(self, logs=None):
        self.failed = False
        self.restored_epoch = 0
        for epoch, path in reversed(self.backups()):
            try:
                self._restore(path)
            except (OSError, ValueError, KeyError) as error:
                warnings.warn(f"The backup {path} cannot be read ({type(error).__name__}: "
                              f"{str(error).splitlines()[0] if str(error) else ''}); "
                              "trying the one before it.", stacklevel=2)
                continue
            self.restored_epoch = epoch
            # The hook Keras' own BackupAndRestore sets: fit starts at this epoch.
            self.model._initial_epoch = epoch
            print(f"[backup] resuming from {path} (epoch {epoch})")
            return

    def _restore(self, path: str) -> None:
        with open(os.path.join(path, METADATA_FILE), encoding="utf-8") as f:
            epoch = json.load(f)["epoch"]
        if not isinstance(epoch, int):
            raise ValueError(f"epoch={epoch!r} in {METADATA_FILE}")
        if self.model.optimizer is not None and not self.model.optimizer.built:
            self.model.optimizer.build(self.model.trainable_variables)
        self.model.load_weights(os.path.join(path, WEIGHTS_FILE))

    def on_epoch_end(self, epoch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            self.failed = True  # Keep the last good backup; write no bad one.
            return
        target = os.path.join(self.backup_dir, f"epoch-{epoch + 1:05d}")

        def write(directory: str) -> None:
            os.makedirs(directory)
            self.model.save_weights(os.path.join(directory, WEIGHTS_FILE))
            with open(os.path.join(directory, METADATA_FILE), "w", encoding="utf-8") as f:
                json.dump({"epoch": epoch + 1}, f)

        write_atomic(target, write)
        for _, old in self.backups()[:-KEEP]:
            shutil.rmtree(old, ignore_errors=True)

    def on_train_end(self, logs=None):
        if self.delete_on_finish and not self.failed and not self.model.stop_training:
            shutil.rmtree(self.backup_dir, ignore_errors=True)

    def get_config(self):
        return {"backup_dir": self.backup_dir, "delete_on_finish": self.delete_on_finish}
