import glob
import os

import pytest

from albert_keras.jobs.finetune_config import FinetuneConfig
from albert_keras.pipeline import ConfigError, load_pipeline, pipeline_from_dict

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_defaults_are_valid():
    config = FinetuneConfig()
    assert config.task == "text_classification" and config.bucket_by_length


@pytest.mark.parametrize("key,value,message", [
    ("task", "summarization", "finetune.task"),
    ("max_sequence_length", 2, "finetune.max_sequence_length"),
    ("batch_size", 0, "finetune.batch_size"),
    ("validation_fraction", 1.0, "finetune.validation_fraction"),
    ("layer_decay", 0.0, "finetune.layer_decay"),
    ("learning_rate", -1.0, "finetune.learning_rate"),
    ("early_stopping_patience", -1, "finetune.early_stopping_patience"),
    ("pooling", "max", "finetune.pooling"),
    ("format", "xml", "finetune.format"),
])
def test_bad_values_name_the_key(key, value, message):
    with pytest.raises(ConfigError, match=message):
        pipeline_from_dict({"name": "x", "finetune": {key: value}})


def test_validation_once_needs_no_early_stopping_nor_best_restore():
    with pytest.raises(ConfigError, match="finetune.early_stopping_patience=2, "
                                          "finetune.restore_best_checkpoint=True"):
        pipeline_from_dict({"name": "x", "finetune": {"validate_each_epoch": False}})
    config = pipeline_from_dict({"name": "x", "finetune": {
        "validate_each_epoch": False, "early_stopping_patience": 0,
        "restore_best_checkpoint": False}})
    assert not config.finetune.validate_each_epoch


def test_unknown_key_is_listed():
    with pytest.raises(ConfigError, match="finetune.epoch"):
        pipeline_from_dict({"name": "x", "finetune": {"epoch": 3}})


@pytest.mark.parametrize("path", sorted(glob.glob(os.path.join(REPO, "pipelines", "finetune_*.yaml"))))
def test_pipeline_files_load_with_overrides(path):
    config = load_pipeline(path, ["finetune.train=train.csv", "finetune.epochs=1"])
    assert config.finetune.train == "train.csv" and config.finetune.epochs == 1


def test_pipeline_files_exist():
    names = {os.path.basename(p) for p in glob.glob(os.path.join(REPO, "pipelines", "finetune_*.yaml"))}
    assert {"finetune_classifier.yaml", "finetune_tagger.yaml"} <= names
