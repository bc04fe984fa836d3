"""An arm of `compare` killed while pretraining resumes from its backup when compare runs again.

The kill is a real SIGKILL of the arm's own (spawned) process, the moment its second backup
appears (`tests/helpers/kill_when.py`); the rerun goes on from that backup with the learning
curve recorded so far, instead of starting the arm again.
"""

import json

import pytest

from tests.helpers.compare_runs import (COMPARE_YAML, fake_backup, run_compare,
                                        tiny_compare_overrides)


def _compare(tmp_path, kill_when=None):
    return run_compare(tiny_compare_overrides(tmp_path, name="resumed"), kill_when)


@pytest.mark.large
def test_an_arm_killed_while_pretraining_resumes_from_its_backup(tmp_path):
    arm = tmp_path / "runs" / "resumed" / "arms" / "albert"
    killed = _compare(tmp_path, kill_when=f"{arm}/backup/epoch-00002")
    assert killed.returncode != 0, killed.stdout[-2000:]
    assert "Arm 'albert' failed (exit code -9)" in killed.stderr, killed.stderr[-2000:]
    before = json.loads((arm / "curve.json").read_text())
    assert [point["step"] for point in before] == [0, 5, 10]
    assert not (arm / "arm.json").exists()

    rerun = _compare(tmp_path)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert "[compare] albert: resuming at step 10" in rerun.stdout
    # Training went on from step 10 only: the steps before were not trained again.
    assert "step 5/15" not in rerun.stdout and "step 15/15" in rerun.stdout
    report = json.loads((tmp_path / "runs" / "resumed" / "report.json").read_text())
    curve = report["arms"][0]["curve"]
    assert [point["step"] for point in curve] == [0, 5, 10, 15]
    assert curve[:3] == before  # The points recorded before the kill, as they were.
    assert curve[3]["seconds"] > curve[2]["seconds"]
    assert report["arms"][0]["steps_run"] == 15
    assert not (arm / "backup").exists()  # Deleted once the arm's result was written.


def test_a_backup_made_with_other_settings_is_set_aside_and_the_arm_starts_again(tmp_path,
                                                                                   capsys):
    from albert_keras.compare import arm_pretraining
    from albert_keras.pipeline import load_pipeline

    config = load_pipeline(COMPARE_YAML)
    arm = config.compare.arms[1]

    def backups():
        return arm_pretraining.phase_backups(config, arm, ["records"], "tok", str(tmp_path),
                                             "float32")

    [backup] = backups()
    assert backup.backups() == [] and backup.backup_dir == str(tmp_path / "backup")

    fake_backup(tmp_path / "backup", backup.settings)  # The same settings: resumed.
    (tmp_path / "curve.json").write_text("[]")
    [same] = backups()
    assert same.resume_epoch() == 1 and (tmp_path / "curve.json").exists()
    assert arm_pretraining.resume_step(config, [same]) == config.compare.eval_every

    other = json.loads(json.dumps(backup.settings))
    other["train"]["learning_rate"], other["precision"] = 0.001, "bfloat16"
    (tmp_path / "backup" / "epoch-00001" / "training_metadata.json").unlink()
    fake_backup(tmp_path / "backup", other, epoch=2)
    [fresh] = backups()
    printed = capsys.readouterr().out
    assert "[compare] albert: starting again, not resuming: Cannot resume" in printed
    assert f"train.learning_rate 0.001 -> {config.train.learning_rate}" in printed
    assert "precision 'bfloat16' -> 'float32'" in printed
    assert fresh.resume_epoch() == 0 and not (tmp_path / "backup").exists()
    assert not (tmp_path / "curve.json").exists()  # A fresh arm's curve starts at step 0.
