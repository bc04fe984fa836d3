"""Real SIGKILLs of `albert-keras pretrain`: between the backups of an epoch and in the middle of
the final save. Every rerun completes, and nothing a user had before the kill is lost."""

import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest
import yaml

from tests.helpers import tiny_pretraining_config

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

_PRETRAIN = """
import os, signal, sys
sys.path.insert(0, {repo!r})
import keras
from albert_keras.cli import main
from albert_keras.jobs import pretrain_fit  # Where `fit_pretrainer` looks up its callbacks.

def die():
    os.kill(os.getpid(), signal.SIGKILL)

if {kill!r} == "step":
    class KillInTheSecondEpoch(keras.callbacks.Callback):
        batches = 0

        def on_train_batch_begin(self, batch, logs=None):
            KillInTheSecondEpoch.batches += 1
            if KillInTheSecondEpoch.batches == 4:  # Epoch 2 has trained one of its 2 steps.
                die()

    make_callbacks = pretrain_fit.make_callbacks
    pretrain_fit.make_callbacks = lambda *args: [*make_callbacks(*args),
                                                KillInTheSecondEpoch()]
if {kill!r} == "final_save":
    save = keras.Model.save

    def save_then_die(self, path, *args, **kwargs):  # Half of encoder.keras's new version.
        save(self, path, *args, **kwargs)
        with open(path, "r+b") as f:
            f.truncate(os.path.getsize(path) // 2)
        die()

    keras.Model.save = save_then_die
sys.exit(main(["pretrain", "--config", {config!r}]))
"""


def _pretrain(config, kill=None):
    script = textwrap.dedent(_PRETRAIN.format(repo=REPO, kill=kill, config=str(config)))
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=600, cwd=REPO)


@pytest.mark.large
def test_pretrain_killed_mid_epoch_and_mid_save_loses_nothing(tmp_path):
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(tiny_pretraining_config(tmp_path, eval_batches=1)))
    run = tmp_path / "runs" / "tiny"

    killed = _pretrain(config, kill="step")
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert sorted(os.listdir(run / "backup")) == ["epoch-00001"]
    assert not (run / "encoder.keras").exists()

    resumed = _pretrain(config)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["resumed_from_epoch"] == 1
    assert len(summary["history"]["loss"]) == 2  # The whole run's history, both epochs.
    assert not (run / "backup").exists()
    good = {name: (run / name).read_bytes() for name in ("encoder.keras", "summary.json")}

    killed = _pretrain(config, kill="final_save")  # A new run over the finished one.
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert {name: (run / name).read_bytes() for name in good} == good
    assert any(name.startswith(".partial-") for name in os.listdir(run / ".published"))

    rerun = _pretrain(config)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert not [name for name in os.listdir(run) + os.listdir(run / ".published")
                if name.startswith(".partial-")]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "completed"
    import keras

    from albert_keras import Encoder  # The first public name registers the classes with Keras.

    assert isinstance(keras.saving.load_model(run / "encoder.keras"), Encoder)  # Whole.

    # A finished run's encoder.keras is a valid starting point for more pretraining.
    from albert_keras.pipeline import pipeline_from_dict
    from albert_keras.pipeline import prepare_and_pretrain

    # Under the other precision (float32 and bfloat16 each way, by the CPU's `auto`): trained
    # in that precision (the copy itself: test_continued_pretraining.py), saved in float32
    # either way, with the training precision recorded beside the file.
    other = "float32" if summary["precision"] != "float32" else "mixed_bfloat16"
    more = tiny_pretraining_config(tmp_path, eval_batches=1, steps=2, precision=other)
    more["name"], more["model"] = "more", {"pretrained": str(run / "encoder.keras")}
    summary = prepare_and_pretrain(pipeline_from_dict(more))
    assert summary["status"] == "completed" and summary["steps"] == 2
    assert summary["precision"] == other
    continued = keras.saving.load_model(os.path.join(summary["run_dir"], "encoder.keras"))
    assert {block.self_attention.dtype_policy.name for block in continued.layers
            if hasattr(block, "self_attention")} == {"float32"}
