"""Failed runs fail and keep what was good; records, manifest and tokenizer are checked as one."""

import json
import os

import keras
import numpy as np
import pytest
import yaml

from albert_keras.cli import main
from albert_keras.pipeline import pipeline_from_dict
from tests.helpers import tiny_pretraining_config


def _raw(tmp_path, **train):
    return tiny_pretraining_config(tmp_path, **{"eval_batches": 1, **train})


@pytest.mark.large
def test_a_nan_run_exits_nonzero_records_the_failure_and_keeps_the_good_model(tmp_path, capsys):
    from albert_keras.jobs.pretrain import TrainingFailed, pretrain
    from albert_keras.pipeline import prepare_and_pretrain

    keras.utils.set_random_seed(0)
    prepare_and_pretrain(pipeline_from_dict(_raw(tmp_path)))
    run = tmp_path / "runs" / "tiny"
    good = (run / "encoder.keras").read_bytes()

    bad = _raw(tmp_path, optimizer="adamw", learning_rate=1.0e30, global_clipnorm=None)
    with pytest.raises(TrainingFailed, match=r"loss became nan.*Nothing was saved"):
        pretrain(pipeline_from_dict(bad))
    assert (run / "encoder.keras").read_bytes() == good
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "failed" and "nan" in summary["failure"]
    assert summary["final"] is None

    config = tmp_path / "bad.yaml"
    config.write_text(yaml.safe_dump(bad))
    assert main(["pretrain", "--config", str(config)]) == 1
    assert "failed: the loss became nan" in capsys.readouterr().err
    assert (run / "encoder.keras").read_bytes() == good
    # The export refuses a model whose weights are not finite, naming the first bad one.
    from albert_keras.export import export_for_serving
    from albert_keras.tokenizers.tokenizer_files import load_tokenizer

    encoder = keras.saving.load_model(run / "encoder.keras")
    weights = encoder.token_embedding.embeddings
    weights.assign(np.where(np.arange(weights.shape[0])[:, None] == 3, np.nan, weights.numpy()))
    with pytest.raises(ValueError, match=r"token_embedding/embeddings. holds 8 NaN or infinite value"):
        export_for_serving(encoder, load_tokenizer(str(run / "tokenizer")),
                           str(tmp_path / "saved_models" / "tiny"))


@pytest.mark.large
def test_records_that_do_not_match_their_tokenizer_or_the_config_are_refused(tmp_path):
    from albert_keras.jobs.pretrain import pretrain
    from albert_keras.pretraining_data.prepare import prepare

    prepare(pipeline_from_dict(_raw(tmp_path)), progress=False)
    records = tmp_path / "records" / "tiny"

    changed = _raw(tmp_path)
    changed["data"] = {**changed["data"], "vocabulary_size": 150, "max_sequence_length": 24}
    with pytest.raises(ValueError, match=r"data.vocabulary_size: records 200, config 150.*"
                                         r"data.max_sequence_length: records 32, config 24"):
        pretrain(pipeline_from_dict(changed))

    config_file = records / "tokenizer" / "tokenizer.json"
    settings = json.loads(config_file.read_text())
    config_file.write_text(json.dumps({**settings, "lowercase": not settings["lowercase"]}))
    with pytest.raises(ValueError, match=r"tokenizer.*is not the one the records were made with.*"
                                         r"manifest.json"):
        pretrain(pipeline_from_dict(_raw(tmp_path)))

    os.remove(records / "manifest.json")
    with pytest.raises(ValueError, match=r"No manifest.json in .*Run `albert-keras prepare`"):
        pretrain(pipeline_from_dict(_raw(tmp_path)))


class _StopAfterFirstEpoch(keras.callbacks.Callback):
    """A crash right after the first epoch's backup (as a kill there would leave it)."""

    def on_epoch_end(self, epoch, logs=None):
        raise KeyboardInterrupt


@pytest.mark.large
@pytest.mark.parametrize("accumulation", [1, 2])
def test_a_resumed_run_trains_on_the_batches_of_the_uninterrupted_one(tmp_path, monkeypatch,
                                                                        accumulation):
    from albert_keras.jobs import pretrain as pretrain_module
    from albert_keras.jobs import pretrain_fit  # Where `fit_pretrainer` looks up its callbacks.
    from albert_keras.pretraining_data.prepare import prepare

    prepare(pipeline_from_dict(_raw(tmp_path)), progress=False)
    records = str(tmp_path / "records" / "tiny" / "*.tfrecord")

    def run(name):
        keras.utils.set_random_seed(0)
        return pretrain_module.pretrain(
            pipeline_from_dict({**_raw(tmp_path, records=records, steps=6,
                                       gradient_accumulation_steps=accumulation), "name": name}))

    uninterrupted = run("a")
    make_callbacks = pretrain_fit.make_callbacks
    monkeypatch.setattr(pretrain_fit, "make_callbacks", lambda *args: [
        *make_callbacks(*args), _StopAfterFirstEpoch()])
    with pytest.raises(KeyboardInterrupt):
        run("b")
    monkeypatch.setattr(pretrain_fit, "make_callbacks", make_callbacks)
    resumed = run("b")

    assert resumed["resumed_from_epoch"] == 1 and uninterrupted["resumed_from_epoch"] == 0
    assert len(resumed["history"]["loss"]) == len(uninterrupted["history"]["loss"]) == 3
    np.testing.assert_allclose(resumed["history"]["loss"], uninterrupted["history"]["loss"],
                               rtol=1e-5)
    assert resumed["final"]["mlm_loss"] == pytest.approx(uninterrupted["final"]["mlm_loss"],
                                                         rel=1e-5)
    a = keras.saving.load_model(tmp_path / "runs" / "a" / "encoder.keras")
    b = keras.saving.load_model(tmp_path / "runs" / "b" / "encoder.keras")
    for x, y in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6)
