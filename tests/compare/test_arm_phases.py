"""`compare` arms pretrained in phases (`train.phases`): shorter sequences first, one curve.

Every phase reads records of its own sequence length made with the comparison's one tokenizer
and continues the weights of the phase before; the held-out curve runs over the whole run. An
arm killed (a real SIGKILL of its process) in its second phase goes on there when `compare`
runs again, without training the first phase again.
"""

import json

import pytest

from tests.helpers.compare_runs import (COMPARE_YAML, fake_backup, run_compare,
                                        tiny_compare_overrides)

PHASES = "[{steps: 10, max_sequence_length: 16, max_predictions: 3}, {steps: 10}]"


def _overrides(tmp_path):
    return tiny_compare_overrides(tmp_path, name="phased") | {
        "train.steps": 20, "train.phases": PHASES, "compare.speed_rounds": 3,
        "compare.speed_steps": 1}


def _compare(tmp_path, kill_when=None):
    return run_compare(_overrides(tmp_path), kill_when)


@pytest.mark.large
def test_an_arm_in_phases_is_one_curve_and_resumes_in_its_second_phase(tmp_path):
    arm = tmp_path / "runs" / "phased" / "arms" / "albert"
    killed = _compare(tmp_path, kill_when=f"{arm}/backup/epoch-00001")  # Phase 2's first.
    assert killed.returncode != 0, killed.stdout[-2000:]
    assert "Arm 'albert' failed (exit code -9)" in killed.stderr, killed.stderr[-2000:]
    assert "phase 1 of 2: 10 steps of 16-token sequences" in killed.stdout
    before = json.loads((arm / "curve.json").read_text())
    assert [point["step"] for point in before] == [0, 5, 10, 15]

    rerun = _compare(tmp_path)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert "[compare] albert: resuming at step 15" in rerun.stdout
    from albert_keras.pipeline import load_pipeline

    peak = load_pipeline(COMPARE_YAML).train.learning_rate
    assert f"phase 1 of 2: 10 steps of 16-token sequences (warmup 2, peak {peak}): finished " \
           "before" in rerun.stdout
    # Only phase 2's last 5 steps were trained again.
    assert "step 10/20" not in rerun.stdout and "step 20/20" in rerun.stdout
    report = json.loads((tmp_path / "runs" / "phased" / "report.json").read_text())
    [result] = report["arms"]
    assert [point["step"] for point in result["curve"]] == [0, 5, 10, 15, 20]
    assert result["curve"][:4] == before
    assert result["steps_run"] == 20 and result["tokens_per_second"] > 0
    assert result["phases"] == [
        {"index": 1, "max_sequence_length": 16, "first_step": 0, "last_step": 10,
         "steps_run": 10},
        {"index": 2, "max_sequence_length": 32, "first_step": 10, "last_step": 20,
         "steps_run": 10}]
    assert report["budget"]["phases"] == [{"steps": 10, "max_sequence_length": 16},
                                          {"steps": 10, "max_sequence_length": 32}]
    assert report["budget"]["max_sequence_length"] == 32
    # Each phase's records, of its own length, made with the one tokenizer.
    manifests = [json.loads((tmp_path / "records" / name / "manifest.json").read_text())
                 for name in ("phased.phase1", "phased")]
    assert [m["max_sequence_length"] for m in manifests] == [16, 32]
    assert manifests[0]["tokenizer_fingerprint"] == manifests[1]["tokenizer_fingerprint"]
    assert not (arm / "backup").exists() and not (arm / "backup.phase1").exists()


def test_a_later_phase_never_resumes_on_an_unfinished_one(tmp_path, capsys):
    from albert_keras.compare import arm_pretraining
    from albert_keras.pipeline import load_pipeline

    config = load_pipeline(COMPARE_YAML, [
        f"{key}={value}" for key, value in _overrides(tmp_path).items()])
    [arm] = config.compare.arms

    def backups():
        return arm_pretraining.phase_backups(config, arm, ["one", "two"], "tok",
                                             str(tmp_path), "float32")

    first, second = backups()
    assert (first.backup_dir, second.backup_dir) == (str(tmp_path / "backup.phase1"),
                                                     str(tmp_path / "backup"))
    assert first.settings["data"]["max_sequence_length"] == 16
    assert first.settings["phase"] == {"index": 1, "count": 2, "steps": [10, 10]}
    fake_backup(tmp_path / "backup.phase1", first.settings, epoch=2)  # Phase 1 done.
    fake_backup(tmp_path / "backup", second.settings, epoch=1)
    assert arm_pretraining.resume_step(config, backups()) == 15

    (tmp_path / "backup.phase1" / "epoch-00002").rename(tmp_path / "backup.phase1" / "epoch-00001")
    metadata = tmp_path / "backup.phase1" / "epoch-00001" / "training_metadata.json"
    metadata.write_text(json.dumps({"epoch": 1, "history": {}, "train_seconds": 1.0,
                                    "settings": first.settings}))
    first, second = backups()  # Phase 1 unfinished: phase 2's backup continued other weights.
    assert "the backups of phase 2 continue an unfinished phase" in capsys.readouterr().out
    assert second.backups() == [] and first.resume_epoch() == 1
    assert arm_pretraining.resume_step(config, [first, second]) == 5
