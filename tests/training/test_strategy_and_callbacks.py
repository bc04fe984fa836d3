import keras
import pytest
import tensorflow as tf

from albert_keras.training.atomic_backup import AtomicBackupAndRestore
from albert_keras.training.callbacks import make_callbacks
from albert_keras.training.strategy import is_chief, make_strategy


def test_default_and_mirrored_strategies():
    assert make_strategy("default") is tf.distribute.get_strategy()
    mirrored = make_strategy("mirrored")
    assert isinstance(mirrored, tf.distribute.MirroredStrategy)
    assert mirrored.num_replicas_in_sync >= 1
    assert is_chief(mirrored)


def test_multi_worker_without_tf_config_and_unknown_names(monkeypatch):
    for name in ("TF_CONFIG", "CLUSTER_SPEC", "JOBSET_NAME", "JOB_COMPLETION_INDEX",
                 "SLURM_PROCID", "TPU_NAME", "TPU_ACCELERATOR_TYPE"):  # Even under a scheduler.
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ValueError, match="TF_CONFIG"):
        make_strategy("multi_worker")
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(ValueError, match="TF_CONFIG"):
        make_strategy("multi_worker")
    with pytest.raises(ValueError, match="train.strategy='gpu'"):
        make_strategy("gpu")


def test_callbacks_back_up_every_epoch_and_write_under_the_run_dir(tmp_path):
    callbacks = make_callbacks(str(tmp_path), tf.distribute.get_strategy())
    kinds = {type(c) for c in callbacks}
    assert {AtomicBackupAndRestore, keras.callbacks.TerminateOnNaN,
            keras.callbacks.ModelCheckpoint} <= kinds
    backup = next(c for c in callbacks if isinstance(c, AtomicBackupAndRestore))
    assert backup.backup_dir == str(tmp_path / "backup")
    checkpoint = next(c for c in callbacks if isinstance(c, keras.callbacks.ModelCheckpoint))
    assert checkpoint.filepath.startswith(str(tmp_path / "checkpoints"))
