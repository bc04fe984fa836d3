import os
import re
import subprocess
import sys

import pytest

from albert_keras.cli import main
from albert_keras.models.encoder_config import PRESETS, EncoderConfig

REPO = os.path.join(os.path.dirname(__file__), "..")


def test_presets_table_lists_every_preset_and_sharing_mode(capsys):
    assert main(["presets"]) == 0
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines() if line.split() and line.split()[0] in PRESETS]
    assert len(rows) == len(PRESETS) * 4
    published = {row[0]: row for row in rows if "*" in row}
    assert published["albert_base"][6] == "11,683,584"
    assert published["bert_large"][6] == "335,141,888"
    expected = EncoderConfig.preset("albert_xxlarge", share="none").num_parameters()
    assert any(row[:2] == ["albert_xxlarge", "none"] and row[5] == f"{expected:,}" for row in rows)


def test_bad_config_fails_with_one_clear_line(tmp_path, capsys):
    path = tmp_path / "p.yaml"
    path.write_text("name: x\nmodel:\n  num_heads: 0\n")
    assert main(["prepare", "--config", str(path)]) == 2
    assert "num_heads=0" in capsys.readouterr().err


def test_console_script_runs():
    result = subprocess.run([sys.executable, "-m", "albert_keras.cli", "presets"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "albert_xxlarge" in result.stdout


_BAD_CONFIGS = [("pretrain", "train.steps=many"), ("finetune", "finetune.epochs=0"),
                ("prepare", "data.unknown_key=1"), ("export", "model.share=half")]
# What pip writes as the `albert-keras` console script (setup.py's entry point).
_CONSOLE_SCRIPT = """import re, sys
from albert_keras.cli import main
if __name__ == "__main__":
    sys.argv[0] = re.sub(r"(-script\\.pyw|\\.exe)?$", "", sys.argv[0])
    sys.exit(main())
"""


def _imported_packages(stderr: str) -> set[str]:
    """Top-level packages named by `python -X importtime`'s lines on stderr."""
    return {line.rsplit("|", 1)[1].strip().split(".")[0] for line in stderr.splitlines()
            if line.startswith("import time:") and "|" in line}


@pytest.mark.parametrize("entry", ["module", "console_script"])
def test_config_errors_fail_before_tensorflow_is_imported(entry, tmp_path):
    """A bad config is answered in a blink, through either entry point: no TensorFlow, Keras
    or keras-hub import (`-X importtime` lists every import), no C++ logs first."""
    script = tmp_path / "albert-keras"
    script.write_text(_CONSOLE_SCRIPT)
    program = ["-m", "albert_keras.cli"] if entry == "module" else [str(script)]
    errors = []
    for command, override in _BAD_CONFIGS if entry == "module" else _BAD_CONFIGS[:1]:
        result = subprocess.run(
            [sys.executable, "-X", "importtime", *program, command, "--config",
             "pipelines/albert_tiny.yaml", "--set", override],
            capture_output=True, text=True, timeout=120, cwd=REPO)
        imported = _imported_packages(result.stderr)
        assert "albert_keras" in imported and "yaml" in imported  # The probe sees imports.
        assert not imported & {"tensorflow", "keras", "keras_hub"}, (command, imported)
        assert result.returncode == 2, result.stderr[-2000:]
        lines = [line for line in result.stderr.splitlines() if line.startswith("albert-keras")]
        assert len(lines) == 1, result.stderr[-2000:]
        errors.append(lines[0])
    assert "train.steps" in errors[0] and "'many'" in errors[0]
    if entry == "module":
        assert "finetune.epochs" in errors[1] and "data.unknown_key" in errors[2]
        assert "In `model`" in errors[3] and "share='half'" in errors[3]


def test_public_names_still_import_from_the_package():
    import albert_keras
    from albert_keras import Encoder, SharedTransformerLayer
    from albert_keras.pretraining_data import pretraining_dataset
    from albert_keras.training import Lamb

    assert Encoder.__name__ == "Encoder" and callable(pretraining_dataset)
    assert SharedTransformerLayer.__module__ == "albert_keras.layers.shared_transformer_layer"
    assert Lamb.__module__ == "albert_keras.training.lamb" and "Encoder" in dir(albert_keras)
    with pytest.raises(AttributeError, match="no attribute 'Encodr'"):
        albert_keras.Encodr


def _one_error_line(capsys):
    """The one error line of a command (progress bars may be above it), no traceback."""
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.startswith("albert-keras")]
    assert len(lines) == 1 and "Traceback" not in captured.err, captured.err
    return lines[0]


@pytest.mark.parametrize("text,overrides,expected", [
    ("name: x\ntrain:\n\tsteps: 3\n", [], "not a valid YAML file"),
    ("name: x\n", ["train.steps=[1"], "`--set train.steps` is not valid YAML"),
    ("name: x\ntrain: {steps: 2}\ntrain: {steps: 4}\n", [], "duplicate key 'train'"),
    ("name: x\n", ["train.learning_rate=.inf"], "train.learning_rate=inf"),
    ("name: x\n", ["data.output_dir=foo://bucket/x"], "no installed file system handles foo://"),
])
def test_bad_yaml_and_values_are_one_line_before_any_work(tmp_path, capsys, text, overrides,
                                                          expected):
    path = tmp_path / "p.yaml"
    path.write_text(text)
    argv = ["pretrain", "--config", str(path)]
    for override in overrides:
        argv += ["--set", override]
    assert main(argv) == 2
    assert expected in _one_error_line(capsys)
    assert os.listdir(tmp_path) == ["p.yaml"]  # Nothing written (no `gs:` folder).


@pytest.mark.parametrize("error,path", [
    (OSError(28, "No space left on device", "tf_records/x/train-00001-of-00004.tfrecord"),
     "tf_records/x/train-00001-of-00004.tfrecord"),
    (RuntimeError("{{function_node __wrapped__WriteFile_device_/job:localhost/replica:0/task:0"
                  "/device:CPU:0}} tf_records/x/.partial-x.1/a.tfrecord; No space left on "
                  "device [Op:WriteFile]"), "tf_records/x/.partial-x.1/a.tfrecord"),
    (OSError("Unable to synchronously create file (unable to open file: name = "
             "'runs/x/backup/a.h5', errno = 28, error message = 'No space left on device')"),
     "runs/x/backup/a.h5"),
    (OSError(28, "No space left on device"), "tf_records/x"),  # No file: the job's places.
])
def test_a_full_disk_is_one_line_naming_the_path(tmp_path, capsys, monkeypatch, error, path):
    import albert_keras.pipeline

    def prepare_job(config, static_masking=False):
        raise error

    monkeypatch.setattr(albert_keras.pipeline, "prepare_job", prepare_job)
    config = tmp_path / "p.yaml"
    config.write_text("name: x\n")
    assert main(["prepare", "--config", str(config)]) == 1
    line = _one_error_line(capsys)
    assert line.startswith("albert-keras prepare: error: no space left on the device while "
                           f"writing {'to ' if path == 'tf_records/x' else ''}{path}; ")
    assert re.search(r"; [\d,]+ bytes free there", line)


_HOLD = """
import sys, time
from albert_keras.utils.run_lock import RunLock
with RunLock(sys.argv[1], "albert-keras prepare", inside="inside" in sys.argv[2:]):
    print("held", flush=True)
    time.sleep(60)
"""


@pytest.mark.parametrize("command,place,inside", [
    ("prepare", "records/x", False),  # The records directory.
    ("export", "saved_models", True),  # The export base: never two exports of one version.
    ("finetune", "runs/x", False),  # The run directory.
])
def test_a_second_writer_of_the_same_place_fails_at_once(tmp_path, capsys, command, place,
                                                         inside):
    path = tmp_path / "p.yaml"
    path.write_text(f"name: x\ndata:\n  output_dir: {tmp_path / 'records'}\n"
                    f"finetune:\n  output_dir: {tmp_path / 'runs'}\n  train: t.csv\n"
                    f"export:\n  base_dir: {tmp_path / 'saved_models'}\n")
    holder = subprocess.Popen([sys.executable, "-c", _HOLD, str(tmp_path / place),
                               "inside" if inside else "beside"],
                              stdout=subprocess.PIPE, text=True, cwd=REPO)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert main([command, "--config", str(path)]) == 1
    finally:
        holder.kill()
        holder.wait()
    line = _one_error_line(capsys)
    assert f"{tmp_path / place} is being written by another process" in line
    assert f"pid {holder.pid}" in line and "albert-keras prepare" in line
    written = os.listdir(tmp_path / place) if os.path.exists(tmp_path / place) else []
    assert written == ([".lock"] if inside else [])  # No work was done; the holder's lock.


def test_rows_longer_than_the_encoder_are_refused_before_any_work(tmp_path, capsys):
    path = tmp_path / "p.yaml"
    path.write_text("name: x\ndata:\n  max_sequence_length: 600\n")
    assert main(["prepare", "--config", str(path)]) == 2
    assert "Received: data.max_sequence_length=600" in _one_error_line(capsys)
    assert os.listdir(tmp_path) == ["p.yaml"]


def test_a_truncated_tokenizer_file_is_one_line_naming_it(tmp_path, capsys):
    model = tmp_path / "spiece.model"
    model.write_bytes(b"\n\x0b\n\x05<pad>\x15\x00\x00")  # The first bytes of a model, cut.
    path = tmp_path / "p.yaml"
    path.write_text(f"name: x\ndata:\n  tokenizer_path: {model}\n  max_documents: 2\n"
                    f"  output_dir: {tmp_path / 'records'}\n")
    assert main(["prepare", "--config", str(path)]) == 2
    line = _one_error_line(capsys)
    assert f"{model} is not a usable SentencePiece model (truncated or corrupt?" in line
    assert not os.path.exists(tmp_path / "records" / "x")


def test_a_second_comparison_of_the_same_name_fails_at_once(tmp_path, capsys):
    place = tmp_path / "runs" / "compare"
    holder = subprocess.Popen([sys.executable, "-c", _HOLD, str(place)],
                              stdout=subprocess.PIPE, text=True, cwd=REPO)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert main(["compare", "--config", os.path.join(REPO, "pipelines", "compare.yaml"),
                     "--set", f"compare.output_dir={tmp_path / 'runs'}",
                     "--set", f"data.output_dir={tmp_path / 'records'}"]) == 1
    finally:
        holder.kill()
        holder.wait()
    assert f"{place} is being written by another process" in _one_error_line(capsys)
    assert sorted(os.listdir(tmp_path)) == ["runs"]  # No records were prepared.


def test_convert_refuses_a_url_destination_by_name(tmp_path, capsys):
    source = tmp_path / "encoder.keras"
    source.write_bytes(b"")
    assert main(["convert", "--to", "hf", str(source), "gs://bucket/hf"]) == 2
    line = _one_error_line(capsys)
    assert "`destination` is a gs:// URL, but `albert-keras convert` reads and writes local " \
           "paths only" in line
    assert not os.path.exists("gs:") and os.listdir(tmp_path) == ["encoder.keras"]


def test_export_refuses_a_url_model_by_name(tmp_path, capsys):
    path = tmp_path / "p.yaml"
    path.write_text(f"name: x\nexport:\n  base_dir: {tmp_path / 'saved_models'}\n")
    assert main(["export", "--config", str(path), "--model", "foo://bucket/model.keras"]) == 2
    assert "`--model` is a foo:// URL, but no installed file system" in _one_error_line(capsys)
    assert os.listdir(tmp_path) == ["p.yaml"]


def test_a_full_disk_in_pretraining_says_what_its_models_need(tmp_path, capsys, monkeypatch):
    import albert_keras.pipeline

    def prepare_and_pretrain(config):
        raise OSError(28, "No space left on device", "runs/x/backup/epoch-00001")

    monkeypatch.setattr(albert_keras.pipeline, "prepare_and_pretrain", prepare_and_pretrain)
    config = tmp_path / "p.yaml"
    config.write_text("name: x\n")
    assert main(["pretrain", "--config", str(config)]) == 1
    line = _one_error_line(capsys)
    assert "no space left on the device while writing runs/x/backup/epoch-00001" in line
    assert re.search(r"; its models and backups need about [\d,]+ bytes\. Free some", line)
