import os

import pytest

from albert_keras.pipeline import (ConfigError, load_pipeline, pipeline_from_dict,
                                   prepare_and_pretrain)


def _write(tmp_path, text):
    path = tmp_path / "pipeline.yaml"
    path.write_text(text)
    return str(path)


def test_loads_sections_and_applies_overrides(tmp_path):
    path = _write(tmp_path, "name: demo\nmodel:\n  preset: bert_tiny\n  num_layers: 3\n")
    config = load_pipeline(path, ["model.hidden_dim=64", "model.num_heads=4"])
    assert config.name == "demo"
    encoder = config.model.encoder_config(vocabulary_size=99)
    assert (encoder.num_layers, encoder.hidden_dim, encoder.num_heads) == (3, 64, 4)
    assert encoder.vocabulary_size == 99 and encoder.activation == "gelu"


@pytest.mark.parametrize("text,overrides,message", [
    ("name: x\nmodel:\n  hiden_dim: 3\n", [], "model.hiden_dim"),
    ("name: x\nbogus: 1\n", [], "bogus"),
    ("name: x\n", ["model.num_layers=two"], "model.num_layers='two'"),
    ("name: x\n", ["model.hidden_dim=10", "model.num_heads=3"],
     "Received: hidden_dim=10, num_heads=3"),
    ("name: x\n", ["model.preset=bert_huge"], "bert_huge"),
    ("model:\n  preset: bert_tiny\n", [], "name"),
    ("name: x\n", ["model.num_layers"], "model.num_layers"),
])
def test_bad_configs_name_the_key_and_value(tmp_path, text, overrides, message):
    with pytest.raises(ConfigError) as error:
        load_pipeline(_write(tmp_path, text), overrides)
    assert message in str(error.value)


def test_a_file_that_is_not_text_is_named(tmp_path):
    path = tmp_path / "pipeline.yaml"
    path.write_bytes(b"name: x\ntrain:\n  steps: \xff\xfe\n")
    with pytest.raises(ConfigError, match=r"pipeline.yaml: not UTF-8 text"):
        load_pipeline(str(path))


def test_missing_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="nowhere.yaml"):
        load_pipeline(str(tmp_path / "nowhere.yaml"))


def test_from_dict_uses_the_same_checks():
    with pytest.raises(ConfigError) as error:
        pipeline_from_dict({"name": "x", "model": {"share": "some"}})
    assert "In `model`" in str(error.value) and "share='some'" in str(error.value)


def test_exponents_without_a_dot_are_numbers():
    config = pipeline_from_dict({"name": "x", "train": {"learning_rate": "1e-3"}})
    assert config.train.learning_rate == 0.001
    with pytest.raises(ConfigError, match=r"train.learning_rate='fast'"):
        pipeline_from_dict({"name": "x", "train": {"learning_rate": "fast"}})


@pytest.mark.parametrize("text,message", [
    ("name: x\ntrain:\n\tsteps: 3\n", r"not a valid YAML file: found character '\\t' .* line 3"),
    ("name: x\ntrain:\n  steps: 10\ntrain:\n  steps: 20\n",
     r"duplicate key 'train' \(first given at line 2.*line 4"),
    ("name: x\ntrain:\n  steps: 10\n  steps: 20\n", r"duplicate key 'steps'"),
])
def test_yaml_syntax_errors_and_repeated_keys_are_one_config_error(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message) as error:
        load_pipeline(_write(tmp_path, text))
    assert "pipeline.yaml" in str(error.value) and "\n" not in str(error.value)


@pytest.mark.parametrize("override,message", [
    ("train.steps=[1", r"`--set train.steps` is not valid YAML"),
    ("train.learning_rate=.inf", r"`train.learning_rate` must be a finite number. "
                                 r"Received: train.learning_rate=inf"),
    ("train.end_learning_rate=.nan", r"train.end_learning_rate=nan"),
    ("finetune.learning_rate=.inf", r"finetune.learning_rate=inf"),
    ("finetune.learning_rates=[0.001, -.inf]", r"finetune.learning_rates\[1\]=-inf"),
    ("name=../../escape", r"`name` must be one folder name.*name='../../escape'"),
    ("name=naïve run", r"name='naïve run'"),
    ("data.output_dir=foo://bucket/x", r"`data.output_dir` is a foo:// URL, but no installed "
                                       r"file system handles foo://"),
    ("data.output_dir=foo://x", r"data.output_dir='foo://x'"),
    ("export.base_dir=nope://b/models", r"`export.base_dir` is a nope:// URL"),
    ("data.corpus=a.txt,foo://b/c.txt", r"`data.corpus` is a foo:// URL"),
])
def test_bad_values_are_refused_when_loaded(tmp_path, override, message):
    with pytest.raises(ConfigError, match=message):
        load_pipeline(_write(tmp_path, "name: x\n"), [override])


def test_urls_of_installed_file_systems_load_for_the_jobs_that_write_through_them(tmp_path):
    overrides = ["data.corpus=ram://b/corpus/*.txt", "data.output_dir=gs://b/records",
                 "train.output_dir=gs://b/runs", "export.base_dir=gs://b/saved_models",
                 "finetune.train=gs://b/train.csv"]
    for command in ("prepare", "pretrain", "export"):
        config = load_pipeline(_write(tmp_path, "name: x\n"), overrides, command=command)
        assert config.data.output_dir == "gs://b/records"
    config = load_pipeline(_write(tmp_path, "name: x\n"), ["finetune.output_dir=gs://b/o"],
                           command="finetune")
    assert config.finetune.output_dir == "gs://b/o"
    config = load_pipeline(_write(tmp_path, "name: x\n"), ["compare.output_dir=gs://b/o",
                                                           "data.output_dir=gs://b/records"],
                           command="compare")
    assert (config.compare.output_dir, config.data.output_dir) == ("gs://b/o", "gs://b/records")
    # `ram://` holds files for one process; compare's arms run in processes of their own.
    for key in ("compare.output_dir", "data.output_dir"):
        with pytest.raises(ConfigError, match=rf"`{key}` is a ram:// URL, but "
                                              rf"`albert-keras compare` runs each arm in a "
                                              rf"process of its own.*{key}='ram://b/o'"):
            load_pipeline(_write(tmp_path, "name: x\n"), [f"{key}=ram://b/o"], command="compare")
    assert load_pipeline(_write(tmp_path, "name: x\n"), ["data.output_dir=ram://b/o"],
                         command="pretrain").data.output_dir == "ram://b/o"


def test_sequence_lengths_must_fit_the_encoder_in_the_jobs_that_use_them(tmp_path):
    path = _write(tmp_path, "name: x\nmodel:\n  max_sequence_length: 64\n")
    for command in ("prepare", "pretrain"):
        with pytest.raises(ConfigError, match=r"`data.max_sequence_length` must be at most the "
                                              r"encoder's max_sequence_length=64.*=128"):
            load_pipeline(path, [], command=command)
    with pytest.raises(ConfigError, match=r"`finetune.max_sequence_length` must be at most"):
        load_pipeline(path, ["data.max_sequence_length=64"], command="finetune")
    # `finetune` never reads `data.`; a checkpoint's length is checked when it is loaded.
    assert load_pipeline(path, ["finetune.max_sequence_length=64"], command="finetune")
    assert load_pipeline(path, ["model.pretrained=somewhere"], command="pretrain")
    config = load_pipeline(path, [f"train.output_dir={tmp_path / 'runs'}",
                                  f"data.output_dir={tmp_path / 'records'}"])
    with pytest.raises(ConfigError, match=r"data.max_sequence_length=128"):
        prepare_and_pretrain(config)  # Library callers get the same check, before any work.
    assert sorted(os.listdir(tmp_path)) == ["pipeline.yaml"]


def test_direct_configs_refuse_non_finite_rates():
    from albert_keras.jobs.finetune_config import FinetuneConfig
    from albert_keras.jobs.train_config import TrainConfig

    with pytest.raises(ValueError, match=r"train.learning_rate=inf"):
        TrainConfig(learning_rate=float("inf"))
    with pytest.raises(ValueError, match=r"finetune.learning_rates=\[nan\]"):
        FinetuneConfig(learning_rates=(float("nan"),))


@pytest.mark.large
def test_two_pretrain_runs_of_one_name_at_once_the_second_fails_at_once(tmp_path):
    """The issue's case: two `albert-keras pretrain` of the same name started together. The
    second stops with one line naming the first (its pid); the first completes."""
    import json
    import subprocess
    import sys
    import time

    import yaml

    from tests.helpers import tiny_pretraining_config

    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(tiny_pretraining_config(tmp_path)))
    command = [sys.executable, "-m", "albert_keras.cli", "pretrain", "--config", str(config)]
    repo = os.path.join(os.path.dirname(__file__), "..")
    env = {**os.environ, "PYTHONPATH": os.path.abspath(repo), "TF_CPP_MIN_LOG_LEVEL": "3"}
    first = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        lock = tmp_path / "runs" / ".tiny.lock"
        deadline = time.monotonic() + 120
        while not lock.exists() and first.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert lock.exists(), "the first run never took its lock"
        second = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True,
                                timeout=120)
        first_out, first_err = first.communicate(timeout=300)
    finally:
        first.kill()
    assert second.returncode == 1, second.stderr[-2000:]
    lines = [line for line in second.stderr.splitlines() if line.startswith("albert-keras")]
    assert "Traceback" not in second.stderr and len(lines) == 1, second.stderr[-2000:]
    assert f"pid {first.pid} on host" in lines[0]
    assert "runs/tiny is being written by another process" in lines[0]
    assert first.returncode == 0, first_err[-3000:]
    summary = json.loads((tmp_path / "runs" / "tiny" / "summary.json").read_text())
    assert summary["status"] == "completed" and not lock.exists()


@pytest.mark.large
def test_two_exports_at_once_never_publish_the_same_version(tmp_path):
    """The issue's case: two `albert-keras export` of different models to one served name,
    started together. Each either gets a version of its own or is refused naming the other;
    never two "version 1"."""
    import re
    import subprocess
    import sys

    import yaml

    from albert_keras.tokenizers.tokenizer_files import save_tokenizer
    from tests.helpers.export_models import tiny_encoder
    from tests.helpers import wordpiece

    tokenizer = wordpiece()
    configs = []
    for index in range(2):
        run = tmp_path / f"run{index}"
        os.makedirs(run)
        tiny_encoder(tokenizer).save(str(run / "encoder.keras"))
        save_tokenizer(tokenizer, str(run / "tokenizer"))
        configs.append(tmp_path / f"p{index}.yaml")
        configs[-1].write_text(yaml.safe_dump({
            "name": f"run{index}", "data": {"max_sequence_length": 12},
            "export": {"base_dir": str(tmp_path / "saved_models"), "model_name": "shared",
                       "model_path": str(run / "encoder.keras")}}))
    repo = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
    env = {**os.environ, "PYTHONPATH": repo, "TF_CPP_MIN_LOG_LEVEL": "3"}
    processes = [subprocess.Popen([sys.executable, "-m", "albert_keras.cli", "export",
                                   "--config", str(config)], cwd=tmp_path, env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for config in configs]
    results = [(p.wait(timeout=300), p.stdout.read(), p.stderr.read()) for p in processes]
    versions = []
    for code, out, err in results:
        if code == 0:
            versions.append(re.search(r"\[export\] shared version (\d+)", out).group(1))
        else:
            assert code == 1 and "saved_models is being written by another process" in err, err
    assert versions and len(set(versions)) == len(versions)  # Never one version twice.
    assert sorted(os.listdir(tmp_path / "saved_models" / "shared")) == sorted(versions)
