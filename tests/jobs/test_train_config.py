"""Bad configs fail before any work, with a message naming the key and the value."""

import importlib

import pytest

from albert_keras.jobs import pretrain as pretrain_module
from albert_keras.jobs.train_config import TrainConfig
from albert_keras.pipeline import ConfigError, pipeline_from_dict, prepare_and_pretrain


def test_defaults_are_valid_and_published_lamb_settings():
    config = TrainConfig()
    assert (config.optimizer, config.learning_rate, config.beta_1, config.beta_2) == \
        ("lamb", 0.00176, 0.9, 0.999)
    assert (config.epsilon, config.weight_decay, config.global_clipnorm) == (1e-6, 0.01, 1.0)


def test_unknown_train_key_is_named():
    with pytest.raises(ConfigError, match="train.stepz"):
        pipeline_from_dict({"name": "x", "train": {"stepz": 10}})


def test_hidden_not_divisible_by_heads_is_named():
    with pytest.raises(ConfigError, match="hidden_dim=10, num_heads=3"):
        pipeline_from_dict({"name": "x", "model": {"hidden_dim": 10, "num_heads": 3}})


@pytest.mark.parametrize("values, message", [
    ({"steps": 250, "steps_per_epoch": 100}, "train.steps=250, train.steps_per_epoch=100"),
    ({"global_batch_size": 0}, "train.global_batch_size=0"),
    ({"strategy": "horovod"}, "train.strategy='horovod'"),
    ({"precision": "float16"}, "train.precision='float16'"),
    ({"warmup_steps": 1000, "steps": 1000}, "train.warmup_steps=1000"),
    ({"global_clipnorm": -1.0}, "train.global_clipnorm=-1.0"),
    ({"steps_per_execution": 3}, "train.steps_per_execution=3"),
    ({"beta_2": 1.0}, "train.beta_2=1.0"),
])
def test_bad_values_are_named(values, message):
    with pytest.raises(ValueError, match=message.replace(".", r"\.").replace("(", r"\(")):
        TrainConfig(**values)
    with pytest.raises(ConfigError, match=message.split("=")[0].replace(".", r"\.")):
        pipeline_from_dict({"name": "x", "train": values})


class _FourReplicas:
    num_replicas_in_sync = 4
    cluster_resolver = None


def _no_work(*args, **kwargs):
    raise AssertionError("work started before the config was checked")


def test_batch_not_divisible_by_replicas_fails_before_any_work(monkeypatch, tmp_path):
    monkeypatch.setattr(pretrain_module, "make_strategy", lambda name: _FourReplicas())
    monkeypatch.setattr(pretrain_module, "checked_records", _no_work)
    config = pipeline_from_dict({"name": "x", "train": {"global_batch_size": 10,
                                                        "output_dir": str(tmp_path)}})
    with pytest.raises(ValueError, match="train.global_batch_size=10, replicas=4"):
        pretrain_module.pretrain(config)
    assert not any(tmp_path.iterdir())


def test_missing_records_are_named(monkeypatch, tmp_path):
    prepare_module = importlib.import_module("albert_keras.pretraining_data.prepare")
    monkeypatch.setattr(prepare_module, "prepare", _no_work)
    pattern = str(tmp_path / "nothing-*.tfrecord")
    config = pipeline_from_dict({"name": "x", "train": {"records": pattern,
                                                        "output_dir": str(tmp_path / "runs")}})
    with pytest.raises(ValueError, match=r"train\.records="):
        pretrain_module.pretrain(config)
    # Missing prepared records: `pretrain` never prepares them (the job does, when asked).
    for prepare_if_missing in (True, False):
        config = pipeline_from_dict({
            "name": "x", "data": {"output_dir": str(tmp_path / "records")},
            "train": {"prepare_if_missing": prepare_if_missing,
                      "output_dir": str(tmp_path / "runs")}})
        with pytest.raises(ValueError, match="No pretraining records in .*records/x/"):
            pretrain_module.pretrain(config)
    with pytest.raises(ValueError, match="No pretraining records in .*records/x/"):
        prepare_and_pretrain(config)  # prepare_if_missing=False
    assert not (tmp_path / "runs").exists()
