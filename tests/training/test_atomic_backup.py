"""Backups that survive kills: resume, corrupt and partial backups, NaN epochs, a real SIGKILL."""

import json
import os
import signal
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from albert_keras.training.atomic_backup import AtomicBackupAndRestore

REPO = os.path.join(os.path.dirname(__file__), "..", "..")


def _model(seed=0):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    return model


def _data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 4)).astype("float32")
    return x, x.sum(axis=1, keepdims=True)


class _StopAfter(keras.callbacks.Callback):
    """Raises at the end of an epoch, after the backup (a crash between two epochs)."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.epoch:
            raise KeyboardInterrupt


def _fit(model, backup_dir, epochs=4, extra=()):
    x, y = _data()
    return model.fit(x, y, batch_size=8, epochs=epochs, shuffle=False, verbose=0,
                     callbacks=[AtomicBackupAndRestore(str(backup_dir)), *extra])


def test_a_restarted_fit_resumes_where_the_backup_left_off(tmp_path):
    reference = _model()
    _fit(reference, tmp_path / "reference")
    assert not (tmp_path / "reference").exists()  # A finished run deletes its backups.

    model = _model()
    with pytest.raises(KeyboardInterrupt):
        _fit(model, tmp_path / "backup", extra=[_StopAfter(3)])
    assert sorted(os.listdir(tmp_path / "backup")) == ["epoch-00002", "epoch-00003"]  # Keeps 2.
    resumed = _model(seed=1)  # Other initial weights: the backup must replace them.
    history = _fit(resumed, tmp_path / "backup")
    assert history.epoch == [3]
    assert int(resumed.optimizer.iterations) == int(reference.optimizer.iterations) == 16
    for a, b in zip(reference.get_weights(), resumed.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_backups_on_a_url_resume_and_one_without_its_metadata_is_passed_over(ram_dir):
    from albert_keras.utils import file_io

    reference = _model()
    _fit(reference, f"{ram_dir}/reference")
    assert not file_io.exists(f"{ram_dir}/reference")  # A finished run deletes its backups.
    backup_dir = f"{ram_dir}/runs/x/backup"
    with pytest.raises(KeyboardInterrupt):
        _fit(_model(), backup_dir, extra=[_StopAfter(3)])
    assert file_io.listdir(backup_dir) == ["epoch-00002", "epoch-00003"]
    # What a kill while the newest backup was moved in leaves: no metadata, passed over.
    file_io.remove(f"{backup_dir}/epoch-00003/training_metadata.json")
    with pytest.warns(UserWarning, match=r"epoch-00003.*cannot be read"):
        resumed = _model(seed=1)
        history = _fit(resumed, backup_dir)
    assert history.epoch == [2, 3]
    for a, b in zip(reference.get_weights(), resumed.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_a_corrupt_backup_is_named_and_the_one_before_it_is_used(tmp_path):
    model = _model()
    with pytest.raises(KeyboardInterrupt):
        _fit(model, tmp_path / "backup", extra=[_StopAfter(3)])
    latest = tmp_path / "backup" / "epoch-00003" / "latest.weights.h5"
    latest.write_bytes(latest.read_bytes()[:96])  # What a kill in the middle of h5 writing leaves.
    (tmp_path / "backup" / ".partial-epoch-00004.123").mkdir()  # A killed writer's leftover.
    with pytest.warns(UserWarning, match=r"epoch-00003.*cannot be read"):
        history = _fit(_model(seed=1), tmp_path / "backup")
    assert history.epoch == [2, 3]


def test_an_epoch_with_a_nan_loss_is_not_backed_up_and_the_good_backups_stay(tmp_path):
    model = _model()
    x, y = _data()
    y_bad = y.copy()
    y_bad[-1] = np.nan  # The last batch of every epoch has a NaN loss.
    model.fit(x, y, batch_size=8, epochs=1, verbose=0,
              callbacks=[AtomicBackupAndRestore(str(tmp_path / "backup"), delete_on_finish=False)])
    model.fit(x, y_bad, batch_size=8, epochs=3, initial_epoch=1, verbose=0, shuffle=False,
              callbacks=[AtomicBackupAndRestore(str(tmp_path / "backup")),
                         keras.callbacks.TerminateOnNaN()])
    assert sorted(os.listdir(tmp_path / "backup")) == ["epoch-00001"]
    metadata = json.loads((tmp_path / "backup" / "epoch-00001" / "training_metadata.json").read_text())
    assert metadata["epoch"] == 1 and len(metadata["history"]["loss"]) == 1
    assert np.isfinite(metadata["history"]["loss"][0]) and metadata["train_seconds"] > 0


_KILLED_DURING_BACKUP = """
import os, signal, sys
sys.path.insert(0, {repo!r})
import keras, numpy as np
from tests.training.test_atomic_backup import _data, _fit, _model

original = keras.Model.save_weights
calls = []

def save_weights(self, path, *args, **kwargs):
    calls.append(path)
    original(self, path, *args, **kwargs)
    if len(calls) == {kill_at}:  # Half a file written, then the process dies.
        with open(path, "r+b") as f:
            f.truncate(os.path.getsize(path) // 2)
        os.kill(os.getpid(), signal.SIGKILL)

keras.Model.save_weights = save_weights
_fit(_model(), {backup!r})
"""


@pytest.mark.large
def test_sigkill_during_a_backup_write_leaves_a_resumable_run(tmp_path):
    backup = str(tmp_path / "backup")
    script = _KILLED_DURING_BACKUP.format(repo=os.path.abspath(REPO), kill_at=3, backup=backup)
    killed = subprocess.run([sys.executable, "-c", textwrap.dedent(script)],
                            capture_output=True, text=True, timeout=300)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    left = sorted(os.listdir(backup))
    assert left[0].startswith(".partial-epoch-00003.")  # The half-written backup...
    assert left[1:] == ["epoch-00001", "epoch-00002"]  # ...beside the intact ones.
    reference = _model()
    _fit(reference, tmp_path / "reference")
    resumed = _model(seed=1)
    history = _fit(resumed, backup)
    assert history.epoch == [2, 3]
    assert not os.path.exists(backup)  # Finished: the partial write is gone with the rest.
    for a, b in zip(reference.get_weights(), resumed.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6)
