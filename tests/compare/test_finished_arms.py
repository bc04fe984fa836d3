"""A rerun of `compare` keeps the arms that finished with the same settings, and only those."""

import json
import os

import pytest

from albert_keras.compare import arm_process
from albert_keras.compare.arm_run import ArmPlan, run_arm_in_process
from albert_keras.compare.compare_config import ArmConfig
from albert_keras.compare.finished_arms import (ARM_RESULT, ARM_SETTINGS, arm_settings,
                                                finished_result, settings_digest)
from albert_keras.pipeline import pipeline_from_dict

MANIFEST = {"tokenizer_fingerprint": "abc", "sequences": 10, "seconds": 1.5}


def _setup(tmp_path, **train):
    config = pipeline_from_dict({"name": "c", "train": {"seed": 3, **train}})
    arm = ArmConfig(name="albert", preset="albert_tiny")
    plan = ArmPlan(records=str(tmp_path / "records"), held_out=str(tmp_path / "held_out"),
                   tokenizer=str(tmp_path / "tokenizer"), arm_dir=str(tmp_path / "albert"),
                   tokens_per_sequence=12.0, latency_texts=("a text",))
    return config, arm, plan


def _finished(config, arm, plan, result):
    """The files a finished arm leaves."""
    os.makedirs(plan.arm_dir, exist_ok=True)
    settings = arm_settings(config, arm, plan, MANIFEST)
    with open(os.path.join(plan.arm_dir, ARM_RESULT), "w") as f:
        json.dump(result, f)
    with open(os.path.join(plan.arm_dir, ARM_SETTINGS), "w") as f:
        json.dump({"settings_sha256": settings_digest(settings), "settings": settings}, f)


def _result(plan, seed=3):
    return {"name": "albert", "steps_run": 20, "fingerprints": {
        "records": plan.records, "tokenizer": plan.tokenizer, "seed": seed, "data_seed": 12345}}


def test_a_finished_arm_is_kept_and_not_run_again(tmp_path, monkeypatch, capsys):
    config, arm, plan = _setup(tmp_path)
    _finished(config, arm, plan, _result(plan))

    def run_in_child(*args, **kwargs):
        raise AssertionError("a finished arm ran again")

    monkeypatch.setattr(arm_process, "run_in_child", run_in_child)
    # The wall time of `prepare` is no setting: another value keeps the arm.
    result = run_arm_in_process(config, arm, plan, {**MANIFEST, "seconds": 9.0})
    assert result == _result(plan)
    assert "albert: finished before with the same settings" in capsys.readouterr().out


def test_changed_settings_or_fingerprints_run_the_arm_again(tmp_path, monkeypatch, capsys):
    config, arm, plan = _setup(tmp_path)
    _finished(config, arm, plan, _result(plan))
    changed, _, _ = _setup(tmp_path, learning_rate=0.01)
    settings = arm_settings(changed, arm, plan, MANIFEST)
    result, reason = finished_result(plan.arm_dir, settings)
    assert result is None and reason == "its settings changed: pipeline.train.learning_rate"
    other_manifest = arm_settings(config, arm, plan, {**MANIFEST, "tokenizer_fingerprint": "x"})
    assert finished_result(plan.arm_dir, other_manifest)[1] == (
        "its settings changed: manifest.tokenizer_fingerprint")

    def run_in_child(function, args, name):  # The arm's process, as it ends.
        assert name == "arm-albert" and args[-1] == os.path.join(plan.arm_dir, ARM_RESULT)
        with open(args[-1], "w") as f:
            json.dump({**_result(plan), "steps_run": 40}, f)
        return 0

    monkeypatch.setattr(arm_process, "run_in_child", run_in_child)
    assert run_arm_in_process(changed, arm, plan, MANIFEST)["steps_run"] == 40
    assert "albert: running again: its settings changed" in capsys.readouterr().out
    assert finished_result(plan.arm_dir, settings) == ({**_result(plan), "steps_run": 40}, None)


def test_an_arm_killed_before_its_end_or_with_other_fingerprints_is_not_kept(tmp_path):
    config, arm, plan = _setup(tmp_path)
    settings = arm_settings(config, arm, plan, MANIFEST)
    assert finished_result(plan.arm_dir, settings) == (None, None)  # Never ran.
    _finished(config, arm, plan, _result(plan, seed=4))
    assert finished_result(plan.arm_dir, settings) == (
        None, "its recorded fingerprints differ (seed)")
    os.remove(os.path.join(plan.arm_dir, ARM_SETTINGS))  # Killed before it was recorded.
    assert finished_result(plan.arm_dir, settings) == (None, "it did not finish before")


def test_a_failed_arm_is_an_error_naming_it(tmp_path, monkeypatch):
    config, arm, plan = _setup(tmp_path)
    monkeypatch.setattr(arm_process, "run_in_child", lambda *args, **kwargs: -9)
    with pytest.raises(RuntimeError, match=r"Arm 'albert' failed \(exit code -9\)"):
        run_arm_in_process(config, arm, plan, MANIFEST)
    assert not os.path.exists(os.path.join(plan.arm_dir, ARM_SETTINGS))  # Not "finished".
