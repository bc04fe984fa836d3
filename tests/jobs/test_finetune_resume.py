"""`finetune` is reproducible for a seed, resumes after a kill like `pretrain` (refusing changed
settings), never lets a killed run replace the previous one, and refuses a tokenizer that is
not its `.keras` encoder's."""

import json
import os
import signal

import keras
import pytest

from albert_keras.jobs.finetune import finetune
from albert_keras.models.encoder import Encoder
from albert_keras.pipeline import pipeline_from_dict
from tests.helpers import finetune_data
from tests.helpers.processes import run_cli


def _config(tmp_path, name="ft", **finetune_args):
    train = finetune_data.write_csv(tmp_path, "train.csv", finetune_data.reviews(64, seed=0))
    validation = finetune_data.write_csv(tmp_path, "val.csv", finetune_data.reviews(16, seed=1))
    return {"name": name,
            "model": {"preset": "bert_tiny", **finetune_data.TINY_ENCODER},
            "data": {"max_sequence_length": 32},
            "finetune": {"train": train, "validation": validation,
                         "tokenizer": finetune_data.write_vocabulary(tmp_path),
                         "max_sequence_length": 32, "batch_size": 16, "epochs": 2,
                         "learning_rate": 3e-3, "output_dir": str(tmp_path / "runs"),
                         "tensorboard": False, "verbose": 0, **finetune_args}}


@pytest.mark.large
def test_two_runs_with_one_seed_give_equal_scores(tmp_path):
    # Seeding is enough on CPU; a GPU may also need tf.config.experimental.enable_op_determinism.
    first = finetune(pipeline_from_dict(_config(tmp_path, name="a", seed=3, epochs=1)))
    keras.utils.set_random_seed(99)  # Whatever the global state was, the job's seed rules.
    second = finetune(pipeline_from_dict(_config(tmp_path, name="b", seed=3, epochs=1)))
    assert first["history"] == second["history"]
    assert first["metrics"]["validation"] == second["metrics"]["validation"]
    other = finetune(pipeline_from_dict(_config(tmp_path, name="c", seed=4, epochs=1)))
    assert other["history"]["loss"] != first["history"]["loss"]  # The seed is what decides.


def test_a_pretrained_keras_encoder_refuses_another_tokenizer(tmp_path):
    checkpoint = tmp_path / "pretrained"
    checkpoint.mkdir()
    Encoder(vocabulary_size=len(finetune_data.VOCABULARY) + 9,
            **finetune_data.TINY_ENCODER).save(str(checkpoint / "encoder.keras"))
    raw = _config(tmp_path)
    raw["model"] = {"pretrained": str(checkpoint / "encoder.keras")}
    with pytest.raises(ValueError, match=r"The tokenizer .*vocab.txt \(71 tokens\) does not "
                                         r"belong to .*encoder.keras \(vocabulary_size=80\)"):
        finetune(pipeline_from_dict(raw))
    assert not (tmp_path / "runs").exists()  # Refused before any work.


@pytest.mark.large
def test_a_killed_finetune_resumes_refuses_changed_settings_and_keeps_the_previous_run(tmp_path):
    import yaml

    def write(name, **changes):
        raw = _config(tmp_path, epochs=3, early_stopping_patience=0, **changes)
        path = tmp_path / name
        path.write_text(yaml.safe_dump(raw))
        return str(path)

    config = write("ft.yaml")
    run = tmp_path / "runs" / "ft"
    assert run_cli(["finetune", "--config", config]).returncode == 0
    previous = {name: (run / name).read_bytes() for name in ("model.keras", "report.json")}

    # Killed once its second epoch is backed up.
    killed = run_cli(["finetune", "--config", config], kill_when=[f"{run}/backup/epoch-00002"])
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert {name: (run / name).read_bytes() for name in previous} == previous
    assert sorted(os.listdir(run)) == [".published", "backup", "labels.json", "model.keras",
                                       "report.json", "report.md", "tokenizer"]

    changed = run_cli(["finetune", "--config", write("other.yaml", learning_rate=1e-3)])
    assert changed.returncode == 2  # A bad setting, named in one line.
    error = changed.stderr.strip().splitlines()[-1]
    assert "Cannot resume from the backup" in error and "finetune.learning_rate 0.003 -> 0.001" \
        in error and "to start fresh" in error

    resumed = run_cli(["finetune", "--config", config])
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    report = json.loads((run / "report.json").read_text())
    assert report["resumed_from_epoch"] == 2 and report["epochs_run"] == 3
    assert len(report["history"]["val_loss"]) == 3
    assert not (run / "backup").exists()
