"""The disk a job's models and backups need, as the one line of a full disk says it."""

import os

import pytest

from albert_keras.disk_space import BACKUP_COPIES, bytes_needed
from albert_keras.pipeline import load_pipeline
from albert_keras.models.encoder import Encoder

REPO = os.path.join(os.path.dirname(__file__), "..")


def _config(name, overrides=()):
    return load_pipeline(os.path.join(REPO, "pipelines", name), list(overrides))


@pytest.mark.parametrize("steps,per_epoch", [(400, 50), (200, 100), (1000, 10)])
def test_pretrain_counts_its_models_backups_and_checkpoints(steps, per_epoch):
    config = _config("albert_tiny.yaml", [f"train.steps={steps}", "train.phases=[]",
                                          f"train.steps_per_epoch={per_epoch}"])
    weights = 4 * config.model.encoder_config(vocabulary_size=4000).num_parameters()
    assert bytes_needed(config, "pretrain") == weights * (2 + BACKUP_COPIES + steps // per_epoch)
    # In phases, each phase's run keeps its models.
    config = _config("albert_tiny.yaml", [f"train.steps_per_epoch={per_epoch}"])
    assert bytes_needed(config, "pretrain") == weights * (
        2 * len(config.train.phases) + BACKUP_COPIES + config.train.steps // per_epoch)
    assert bytes_needed(config, "prepare") is None  # Records depend on the corpus.


def test_a_saved_encoder_is_about_the_size_counted(tmp_path):
    config = _config("albert_tiny.yaml", ["data.vocabulary_size=500"])
    encoder = Encoder(**config.model.encoder_config(vocabulary_size=500).to_dict())
    path = tmp_path / "encoder.keras"
    encoder.save(path)
    weights = bytes_needed(config, "export")
    assert weights == 4 * encoder.count_params()
    assert 0.8 < os.path.getsize(path) / weights < 1.1  # Weights plus a small archive.

    config = _config("albert_tiny.yaml", [f"model.pretrained={path}"])
    assert bytes_needed(config, "export") == os.path.getsize(path)  # A file: its size.


def test_compare_grows_with_its_arms_and_downstream_runs():
    two = bytes_needed(_config("compare.yaml"), "compare")
    fewer_seeds = bytes_needed(_config("compare.yaml", ["compare.downstream_seeds=[0]"]),
                               "compare")
    one_arm = bytes_needed(_config("compare.yaml", [
        "compare.arms=[{name: albert, preset: albert_tiny}]"]), "compare")
    assert two > fewer_seeds > 0 and two > one_arm > 0
