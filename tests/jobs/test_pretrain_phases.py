"""`train.phases`: one `pretrain` job in phases (shorter sequences first), each phase continuing
the one before, on records of its own length made with one tokenizer."""

import json
import os

import pytest

from albert_keras.jobs.pretrain_phases import phases, records_order
from albert_keras.pipeline import ConfigError, output_places, pipeline_from_dict
from tests.helpers import tiny_pretraining_config

TWO_PHASES = [{"steps": 2, "max_sequence_length": 16, "max_predictions": 3},
              {"steps": 2, "learning_rate": 0.005}]


def _config(tmp_path, phase_list=TWO_PHASES, **train):
    raw = tiny_pretraining_config(tmp_path, phases=phase_list, **train)
    return pipeline_from_dict(raw)


def test_each_phase_is_a_pipeline_of_its_own(tmp_path):
    config = _config(tmp_path)
    first, last = phases(config)
    assert (first.config.name, last.config.name) == ("tiny.phase1", "tiny")
    assert first.config.data.max_sequence_length == 16 and first.config.data.max_predictions == 3
    assert last.config.data == config.data  # The pipeline's own records.
    # One tokenizer for every phase: the one the last phase's records train.
    assert first.config.data.tokenizer_path == str(tmp_path / "records" / "tiny" / "tokenizer")
    assert (first.config.train.steps, last.config.train.steps) == (2, 2)
    assert last.config.train.learning_rate == 0.005
    assert first.config.train.learning_rate == config.train.learning_rate
    assert not first.config.train.phases and not last.config.train.phases
    assert [p.config.name for p in records_order([first, last])] == ["tiny", "tiny.phase1"]
    # Both runs and both record sets are the job's (locked while it runs).
    assert set(output_places(config, "pretrain")) == {
        str(tmp_path / "runs" / "tiny"), str(tmp_path / "runs" / "tiny.phase1"),
        str(tmp_path / "records" / "tiny"), str(tmp_path / "records" / "tiny.phase1")}


def test_a_given_tokenizer_serves_every_phase(tmp_path):
    raw = tiny_pretraining_config(tmp_path, phases=TWO_PHASES)
    raw["data"]["tokenizer_path"] = str(tmp_path / "spiece.model")
    assert {p.config.data.tokenizer_path for p in phases(pipeline_from_dict(raw))} == {
        str(tmp_path / "spiece.model")}


def test_one_phase_is_the_pipeline_itself(tmp_path):
    config = pipeline_from_dict(tiny_pretraining_config(tmp_path))
    assert [p.config for p in phases(config)] == [config]


@pytest.mark.parametrize("phase_list, train, message", [
    ([{"steps": 2}, {"steps": 4}], {}, r"add up to `train.steps`.*sum 6"),
    ([{"steps": 3}, {"steps": 1}], {}, r"train.phases\[0\].steps=3, train.steps_per_epoch=2"),
    ([{"steps": 2, "warmup_steps": 2}, {"steps": 2}], {},
     r"warmup_steps=2, train.phases\[0\].steps=2"),
    ([{"steps": 2, "learning_rate": 0}, {"steps": 2}], {}, r"phases\[0\].learning_rate=0"),
    (TWO_PHASES, {"max_minutes": 1.0}, r"train.max_minutes=1.0, 2 phases"),
    (TWO_PHASES, {"records": "x/*.tfrecord"}, r"train.records='x/\*.tfrecord', 2 phases"),
    ([{"steps": 2, "max_sequence_length": 16, "length_buckets": [8, 4]}, {"steps": 2}], {},
     r"In `train.phases`.*length_buckets"),
    ([{"steps": 2, "sequence_length": 16}, {"steps": 2}], {},
     r"Unknown key\(s\) train.phases\[0\].sequence_length"),
])
def test_bad_phases_fail_before_any_work(tmp_path, phase_list, train, message):
    with pytest.raises(ConfigError, match=message):
        _config(tmp_path, phase_list, **train)
    assert not os.listdir(tmp_path)


def test_a_phase_longer_than_the_encoder_fails_before_any_work(tmp_path):
    from albert_keras.pipeline import load_pipeline

    raw = tiny_pretraining_config(tmp_path, phases=[
        {"steps": 2}, {"steps": 2, "max_sequence_length": 64}])
    path = tmp_path / "p.yaml"
    path.write_text(json.dumps(raw))
    with pytest.raises(ConfigError, match=r"data.max_sequence_length=64"):
        load_pipeline(str(path), command="pretrain")


@pytest.mark.large
def test_a_run_in_phases_continues_each_phase_and_reruns_only_what_changed(tmp_path, capsys):
    from albert_keras.pipeline import prepare_and_pretrain

    summary = prepare_and_pretrain(_config(tmp_path))
    out = capsys.readouterr().out
    assert summary["status"] == "completed" and summary["name"] == "tiny"
    assert [(e["name"], e["max_sequence_length"], e["steps_run"]) for e in summary["phases"]] \
        == [("tiny.phase1", 16, 2), ("tiny", 32, 2)]
    assert summary["steps"] == summary["steps_run"] == 4
    assert summary["train_seconds"] == pytest.approx(
        sum(e["train_seconds"] for e in summary["phases"]), abs=0.11)
    # The second phase starts from the first one's weights and heads, not fresh ones.
    assert "the phase before=" in out and "masked-LM head: loaded from the checkpoint" in out
    assert "initialized fresh" not in out.split("phase 2 of 2")[1]
    assert "in phases: 2 steps of 16 tokens" in out
    runs, records = tmp_path / "runs", tmp_path / "records"
    for run in ("tiny", "tiny.phase1"):
        assert (runs / run / "pretrainer.keras").exists() and not (runs / run / "backup").exists()
    # One tokenizer: the records of phase 1 were made with the pipeline's.
    manifest = json.loads((records / "tiny.phase1" / "manifest.json").read_text())
    assert json.loads((records / "tiny" / "manifest.json").read_text())[
        "tokenizer_fingerprint"] == manifest["tokenizer_fingerprint"]
    first = json.loads((runs / "tiny.phase1" / "summary.json").read_text())

    # Run again: the first phase, finished with the same settings, is not trained again.
    again = prepare_and_pretrain(_config(tmp_path))
    out = capsys.readouterr().out
    assert "phase 1 of 2: 2 steps of 16-token sequences (warmup 1, peak 0.01): finished " \
           "before" in out
    assert json.loads((runs / "tiny.phase1" / "summary.json").read_text()) == first
    assert again["weights_sha256"] == summary["weights_sha256"]  # The same run, deterministic.

    # A changed first phase trains again, and so does every phase after it.
    changed = [{**TWO_PHASES[0], "learning_rate": 0.02}, TWO_PHASES[1]]
    third = prepare_and_pretrain(_config(tmp_path, changed))
    assert "finished before" not in capsys.readouterr().out
    assert json.loads((runs / "tiny.phase1" / "summary.json").read_text())[
        "weights_sha256"] != first["weights_sha256"]
    assert third["weights_sha256"] != summary["weights_sha256"]


@pytest.mark.large
def test_prepare_makes_every_phase_records_the_pipeline_ones_first(tmp_path):
    from albert_keras.pipeline import prepare_job

    prepare_job(_config(tmp_path))
    records = tmp_path / "records"
    made = [(records / name / "manifest.json").stat().st_mtime_ns
            for name in ("tiny", "tiny.phase1")]
    assert made[0] < made[1]  # The tokenizer's records first; phase 1's read its tokenizer.
    manifest = json.loads((records / "tiny.phase1" / "manifest.json").read_text())
    assert manifest["data_config"]["max_sequence_length"] == 16
    assert manifest["data_config"]["tokenizer_path"] == str(records / "tiny" / "tokenizer")


_KILLED_IN_PHASE_2 = """
import os, signal, sys
sys.path.insert(0, {repo!r})
import keras
from albert_keras.cli import main
from albert_keras.jobs import pretrain_fit  # Where `fit_pretrainer` looks up its callbacks.

class KillInThePhase2SecondEpoch(keras.callbacks.Callback):
    batches = 0

    def on_train_batch_begin(self, batch, logs=None):
        KillInThePhase2SecondEpoch.batches += 1
        if KillInThePhase2SecondEpoch.batches == 4 + 3:  # Phase 1's 4, then 2 + 1 of phase 2.
            os.kill(os.getpid(), signal.SIGKILL)

make_callbacks = pretrain_fit.make_callbacks
pretrain_fit.make_callbacks = lambda *args: [*make_callbacks(*args),
                                            KillInThePhase2SecondEpoch()]
sys.exit(main(["pretrain", "--config", {config!r}]))
"""


@pytest.mark.large
def test_a_run_killed_in_its_second_phase_goes_on_there(tmp_path):
    import signal
    import subprocess
    import sys
    import textwrap

    import yaml

    repo = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
    raw = tiny_pretraining_config(tmp_path, steps=8, eval_batches=1, phases=[
        {"steps": 4, "max_sequence_length": 16, "max_predictions": 3}, {"steps": 4}])
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(raw))
    killed = subprocess.run([sys.executable, "-c", textwrap.dedent(_KILLED_IN_PHASE_2.format(
        repo=repo, config=str(config)))], capture_output=True, text=True, timeout=600, cwd=repo)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    runs = tmp_path / "runs"
    first = json.loads((runs / "tiny.phase1" / "summary.json").read_text())
    assert sorted(os.listdir(runs / "tiny" / "backup")) == ["epoch-00001"]

    resumed = subprocess.run([sys.executable, "-m", "albert_keras.cli", "pretrain", "--config",
                              str(config)], capture_output=True, text=True, timeout=600,
                             cwd=repo)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "phase 1 of 2" in resumed.stdout and "finished before" in resumed.stdout
    assert json.loads((runs / "tiny.phase1" / "summary.json").read_text()) == first
    summary = json.loads((runs / "tiny" / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["resumed_from_epoch"] == 1
    assert summary["steps_run"] == 8 and [e["steps_run"] for e in summary["phases"]] == [4, 4]
    assert not (runs / "tiny" / "backup").exists()
