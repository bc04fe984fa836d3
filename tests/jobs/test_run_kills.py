"""Real SIGKILLs at the end of a run, driven from the file system (`kill_when.py`): killed after
its last epoch, a run resumes instead of retraining; killed between `model.keras` and
`tokenizer/`, the run directory holds the old run or the new one, never a mix."""

import json
import signal

import keras
import pytest
import yaml

from tests.helpers import finetune_data, tiny_pretraining_config
from tests.helpers.processes import run_cli


@pytest.mark.large
def test_a_pretrain_killed_after_its_last_epoch_resumes_without_retraining(tmp_path):
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(tiny_pretraining_config(tmp_path, eval_batches=1)))
    run = tmp_path / "runs" / "tiny"
    # The final encoder.keras being written: training and the final scores are done.
    killed = run_cli(["pretrain", "--config", str(config)], kill_when=[
        f"{run}/.partial-encoder.keras*", f"{run}/.published/.partial-*/encoder.keras"])
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert not (run / "encoder.keras").exists()

    # Another batch size would mix settings: refused in one line that says how to start fresh.
    other = tmp_path / "other.yaml"
    other.write_text(yaml.safe_dump(tiny_pretraining_config(tmp_path, eval_batches=1,
                                                            global_batch_size=4)))
    refused = run_cli(["pretrain", "--config", str(other)])
    assert refused.returncode == 2, refused.stderr[-2000:]
    error = refused.stderr.strip().splitlines()[-1]
    assert "Cannot resume from the backup" in error
    assert "train.global_batch_size 8 -> 4" in error and f"delete {run / 'backup'}" in error

    rerun = run_cli(["pretrain", "--config", str(config)])
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "completed"
    assert summary["resumed_from_epoch"] == 2  # Both epochs were kept: nothing retrained.
    assert summary["steps_run"] == 4 and len(summary["history"]["loss"]) == 2
    assert "[backup] resuming from" in rerun.stdout
    assert not (run / "backup").exists()  # Deleted once the outputs were published.


def _finetune_config(tmp_path, vocabulary, name="ft"):
    vocabulary_dir = tmp_path / f"vocab-{len(vocabulary)}"
    vocabulary_dir.mkdir(exist_ok=True)
    (vocabulary_dir / "vocab.txt").write_text("\n".join(vocabulary) + "\n")
    train = finetune_data.write_csv(tmp_path, "train.csv", finetune_data.reviews(48, seed=0))
    path = tmp_path / f"{name}-{len(vocabulary)}.yaml"
    path.write_text(yaml.safe_dump({
        "name": name,
        "model": {"preset": "bert_tiny", **finetune_data.TINY_ENCODER},
        "data": {"max_sequence_length": 32},
        "finetune": {"train": train, "tokenizer": str(vocabulary_dir / "vocab.txt"),
                     "max_sequence_length": 32, "batch_size": 16, "epochs": 1,
                     "output_dir": str(tmp_path / "runs"), "tensorboard": False,
                     "verbose": 0}}))
    return str(path)


def _pair(run):
    """(the model's vocabulary size, the tokenizer's, model.keras bytes, vocab.txt bytes)."""
    from albert_keras.models import Encoder  # noqa: F401  (registers the classes)

    model = keras.saving.load_model(run / "model.keras", compile=False)
    vocabulary = (run / "tokenizer" / "vocab.txt").read_bytes()
    return (model.encoder.vocabulary_size, len(vocabulary.splitlines()),
            (run / "model.keras").read_bytes(), vocabulary)


@pytest.mark.large
def test_a_finetune_killed_between_model_and_tokenizer_leaves_a_whole_run(tmp_path):
    old_vocabulary = finetune_data.VOCABULARY
    new_vocabulary = old_vocabulary + [f"extra{i}" for i in range(20)]
    run = tmp_path / "runs" / "ft"
    first = run_cli(["finetune", "--config", _finetune_config(tmp_path, old_vocabulary)])
    assert first.returncode == 0, first.stderr[-2000:]
    old = _pair(run)
    assert old[0] == old[1] == len(old_vocabulary)

    # The new model.keras is written; its tokenizer/ is being written.
    new_config = _finetune_config(tmp_path, new_vocabulary)
    killed = run_cli(["finetune", "--config", new_config], kill_when=[
        f"{run}/.partial-tokenizer*", f"{run}/.published/.partial-*/tokenizer"])
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert _pair(run) == old  # The old run, whole.

    rerun = run_cli(["finetune", "--config", new_config])
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    new = _pair(run)
    assert new[0] == new[1] == len(new_vocabulary)  # The new run, whole.
