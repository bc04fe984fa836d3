"""Only the chief keeps the run's files: what a non-chief worker writes, and where (in-process,
with a strategy object that looks like worker 1 of 2; the real 2-worker run is in
test_multi_worker_launch.py)."""

import json
import math
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from albert_keras.jobs.pretrain import check_shards_per_worker
from albert_keras.jobs.pretrain_report import initial_scores, weights_digest
from albert_keras.training.callbacks import backup_directory, make_callbacks
from albert_keras.training.strategy import is_chief, num_workers, output_directory


class _Seen:
    """What `is_chief`, `num_workers` and the callbacks read of a strategy: its resolver."""

    def __init__(self, cluster, task_type, task_id):
        self.cluster_resolver = tf.distribute.cluster_resolver.SimpleClusterResolver(
            tf.train.ClusterSpec(cluster), task_type=task_type, task_id=task_id)


WORKER_1 = _Seen({"worker": ["a:1", "b:1"]}, "worker", 1)
WORKER_0 = _Seen({"worker": ["a:1", "b:1"]}, "worker", 0)
CHIEF = _Seen({"chief": ["c:1"], "worker": ["a:1", "b:1"]}, "chief", 0)
WORKER_0_WITH_CHIEF = _Seen({"chief": ["c:1"], "worker": ["a:1", "b:1"]}, "worker", 0)


def test_who_is_chief_and_how_many_workers():
    assert [is_chief(s) for s in (WORKER_0, WORKER_1, CHIEF, WORKER_0_WITH_CHIEF)] == [
        True, False, True, False]
    assert [num_workers(s) for s in (WORKER_1, CHIEF, tf.distribute.get_strategy())] == [2, 3, 1]


def test_output_directory_is_the_run_on_the_chief_and_a_deleted_folder_elsewhere(tmp_path):
    run = str(tmp_path / "run")
    with output_directory(run, WORKER_0) as out:
        assert out == run
    with pytest.raises(RuntimeError):
        with output_directory(run, WORKER_1) as out:
            assert not out.startswith(run) and os.path.isdir(out)
            open(os.path.join(out, "summary.json"), "w").close()
            raise RuntimeError("a failed run")
    assert not os.path.exists(out)  # Deleted, even after an error.
    assert not os.path.exists(run)


def _tiny_model():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    return model


def test_a_non_chief_worker_checkpoints_into_a_temporary_folder_and_leaves_nothing(tmp_path):
    run = tmp_path / "run"
    assert backup_directory(str(run), WORKER_1) == str(run / "backup-worker-1")
    assert backup_directory(str(run), CHIEF) == str(run / "backup")
    callbacks = make_callbacks(str(run), WORKER_1)
    checkpoint = next(c for c in callbacks if isinstance(c, keras.callbacks.ModelCheckpoint))
    assert not checkpoint.filepath.startswith(str(run))
    assert not any(isinstance(c, keras.callbacks.TensorBoard) for c in callbacks)
    seen = []

    class Look(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append(sorted(os.listdir(os.path.dirname(checkpoint.filepath))))

    x = np.ones((4, 3), "float32")
    _tiny_model().fit(x, x[:, :1], epochs=2, verbose=0, callbacks=[*callbacks, Look()])
    assert seen[-1] == ["epoch-001.weights.h5", "epoch-002.weights.h5"]  # It did save...
    assert not os.path.exists(os.path.dirname(checkpoint.filepath))  # ...and deleted them.
    assert not os.path.exists(run / "backup-worker-1")  # Backup gone with a finished run.
    assert not os.path.exists(run / "checkpoints")


def test_records_need_a_shard_per_worker(tmp_path):
    for i in range(2):
        (tmp_path / f"p-{i:05d}-of-00002.tfrecord").write_bytes(b"")
    pattern = str(tmp_path / "*.tfrecord")
    check_shards_per_worker(pattern, 2)
    check_shards_per_worker(pattern, 1)
    with pytest.raises(ValueError, match=r"2 shard\(s\) for 3 workers.*data.num_shards >= 3.*"
                                         r"Received: shards=2, workers=3"):
        check_shards_per_worker(pattern, 3)


def test_a_resumed_run_never_evaluates_its_initial_scores(tmp_path):
    (tmp_path / "initial_scores.json").write_text(json.dumps({"loss": 1.5}))
    # No model: evaluating would fail. The chief reads its file; a worker without one gets NaN.
    assert initial_scores(None, None, None, str(tmp_path), resumed=True) == {"loss": 1.5}
    nan = initial_scores(None, None, None, str(tmp_path / "elsewhere"), resumed=True)
    assert set(nan) >= {"mlm_loss", "pair_accuracy"} and all(map(math.isnan, nan.values()))


def test_multi_worker_does_not_prepare_missing_records(tmp_path):
    from albert_keras.pipeline import pipeline_from_dict, prepare_and_pretrain
    from tests.helpers import tiny_pretraining_config

    config = pipeline_from_dict(tiny_pretraining_config(tmp_path, strategy="multi_worker"))
    with pytest.raises(ValueError, match="prepared beforehand.*albert-keras prepare.*Received: "
                                         "train.strategy='multi_worker'"):
        prepare_and_pretrain(config)
    assert not (tmp_path / "records").exists()


def test_weights_digest_follows_the_weights():
    model = _tiny_model()
    before = weights_digest(model)
    assert before == weights_digest(model) and len(before) == 64
    model.layers[0].bias.assign([0.5])
    assert weights_digest(model) != before


def test_fine_tuning_batches_state_their_auto_shard_policy():
    from albert_keras.tasks.inputs.encoded_split import EncodedSplit
    from albert_keras.tasks.inputs.labeled_batches import make_dataset

    rows = [np.array([2, 7, 3], "int32"), np.array([2, 8, 9, 3], "int32")]
    split = EncodedSplit(token_ids=rows, segment_ids=[np.zeros_like(r) for r in rows],
                         y=np.array([0, 1]), examples=[{}, {}])
    dataset = make_dataset(split, batch_size=2, training=True)
    assert (dataset.options().experimental_distribute.auto_shard_policy
            == tf.data.experimental.AutoShardPolicy.DATA)


def test_workers_resume_from_the_newest_epoch_all_of_them_have(tmp_path, monkeypatch):
    from albert_keras.training import callbacks as callbacks_module
    from albert_keras.training.atomic_backup import AtomicBackupAndRestore
    from albert_keras.training.callbacks import agreed_resume_epoch

    x = np.ones((4, 3), "float32")
    stopped = _tiny_model()
    stopped.fit(x, x[:, :1], epochs=3, verbose=0,
                callbacks=[AtomicBackupAndRestore(str(tmp_path), delete_on_finish=False)])
    assert [epoch for epoch, _ in AtomicBackupAndRestore(str(tmp_path)).backups()] == [2, 3]
    # The other worker was killed while writing its epoch-3 backup: it has epoch 2 only.
    calls = []
    monkeypatch.setattr(callbacks_module, "min_over_workers",
                        lambda strategy, value: calls.append(value) or min(value, 2))
    backup = AtomicBackupAndRestore(str(tmp_path))
    assert agreed_resume_epoch(backup, WORKER_1) == 2
    assert calls == [3, 2]  # Asked, then confirmed with the epoch this worker can restore.
    history = _tiny_model().fit(x, x[:, :1], epochs=4, verbose=0, callbacks=[backup])
    assert history.epoch == [2, 3]  # Resumed from epoch 2, not from its own newest (3).
    # With one worker, nothing to agree on: its newest backup.
    assert agreed_resume_epoch(AtomicBackupAndRestore(str(tmp_path / "none")),
                               tf.distribute.get_strategy()) == 0
