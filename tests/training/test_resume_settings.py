"""Backups record the settings that shape training; a rerun with other ones is refused in one
line. Best-epoch tracking and early stopping count the epochs of a resumed run."""

import os

import keras
import numpy as np
import pytest

from albert_keras.training.atomic_backup import AtomicBackupAndRestore, ResumeRefused
from albert_keras.training.callbacks import BestEpoch, best_epoch, stopped_early

SETTINGS = {"train": {"global_batch_size": 8, "steps_per_epoch": 2, "learning_rate": 0.01},
            "model": {"hidden_dim": 16}, "precision": "float32"}


def _model(seed=0):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    return model


def _fit(backup, epochs=2, callbacks=()):
    x = np.random.default_rng(0).normal(size=(16, 4)).astype("float32")
    return _model().fit(x, x.sum(axis=1, keepdims=True), batch_size=8, epochs=epochs,
                        verbose=0, callbacks=[*callbacks, backup])


def test_a_rerun_with_other_settings_is_refused_listing_each_difference(tmp_path):
    backup_dir = str(tmp_path / "backup")
    _fit(AtomicBackupAndRestore(backup_dir, delete_on_finish=False, settings=SETTINGS))
    assert AtomicBackupAndRestore(backup_dir, settings=SETTINGS).resume_epoch() == 2

    changed = {**SETTINGS, "train": {**SETTINGS["train"], "global_batch_size": 16,
                                     "steps_per_epoch": 3}, "precision": "mixed_bfloat16"}
    with pytest.raises(ResumeRefused) as refused:
        AtomicBackupAndRestore(backup_dir, settings=changed).resume_epoch()
    message = str(refused.value)
    assert "\n" not in message
    assert ("precision 'float32' -> 'mixed_bfloat16'; train.global_batch_size 8 -> 16; "
            "train.steps_per_epoch 2 -> 3") in message
    assert f"delete {backup_dir} (or use another name) to start fresh" in message
    with pytest.raises(ResumeRefused, match=r"model.hidden_dim 16 -> 32"):
        _fit(AtomicBackupAndRestore(backup_dir, settings={**SETTINGS, "model": {"hidden_dim": 32}}))
    # Nothing was trained over the backups: the right settings still resume.
    assert AtomicBackupAndRestore(backup_dir, settings=SETTINGS).resume_epoch() == 2


def test_backups_stay_until_deleted_when_the_job_publishes_after_fit(tmp_path):
    backup = AtomicBackupAndRestore(str(tmp_path / "backup"), delete_on_finish=False)
    _fit(backup)
    assert sorted(os.listdir(tmp_path / "backup")) == ["epoch-00001", "epoch-00002"]
    backup.delete()
    assert not (tmp_path / "backup").exists()


def test_best_epoch_and_patience_count_the_epochs_before_a_resume(tmp_path):
    assert best_epoch([0.5, 0.3, 0.3, 0.4], "min") == 2
    assert best_epoch([0.5, 0.7, 0.6], "max") == 2
    assert stopped_early([0.5, 0.3, 0.4, 0.45], "min", 2)
    assert not stopped_early([0.5, 0.3, 0.4], "min", 2)
    assert not stopped_early([0.5, 0.3, 0.4, 0.45], "min", None)

    class Scores(keras.callbacks.Callback):  # A score per epoch: 0.5, 0.4, 0.45, 0.6, ...
        values = [0.5, 0.4, 0.45, 0.6, 0.7]

        def on_epoch_end(self, epoch, logs=None):
            logs["score"] = self.values[epoch]

    backup = AtomicBackupAndRestore(str(tmp_path / "backup"), delete_on_finish=False)
    best_path = str(tmp_path / "backup" / "best.weights.h5")
    best = BestEpoch(backup, "score", "min", best_path, patience=2)
    history = _fit(backup, epochs=5, callbacks=[Scores(), best])
    assert len(history.epoch) == 4  # Best at epoch 2, no better one in the 2 after it.
    assert backup.history["score"] == [0.5, 0.4, 0.45, 0.6]
    assert os.path.isfile(best_path)
    assert not [n for n in os.listdir(tmp_path / "backup") if n.startswith(".partial-")]
