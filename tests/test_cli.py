import os
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


_CONFIG_ERROR_WITHOUT_TENSORFLOW = """
import sys
from albert_keras.cli import main
codes = [main([command, "--config", "pipelines/albert_tiny.yaml", "--set", override])
         for command, override in [("pretrain", "train.steps=many"),
                                   ("finetune", "finetune.epochs=0"),
                                   ("prepare", "data.unknown_key=1"),
                                   ("export", "model.share=half")]]
heavy = sorted(m for m in ("tensorflow", "keras", "keras_hub") if m in sys.modules)
print(codes, heavy)
"""


def test_config_errors_fail_before_tensorflow_is_imported():
    """A bad config is answered in a blink: no TensorFlow import, no C++ logs first."""
    result = subprocess.run([sys.executable, "-c", _CONFIG_ERROR_WITHOUT_TENSORFLOW],
                            capture_output=True, text=True, timeout=120, cwd=REPO)
    assert result.stdout.strip() == "[2, 2, 2, 2] []", result.stderr[-2000:]
    errors = result.stderr.strip().splitlines()
    assert len(errors) == 4 and "train.steps" in errors[0] and "'many'" in errors[0]
    assert "finetune.epochs" in errors[1] and "data.unknown_key" in errors[2]
    assert "In `model`" in errors[3] and "share='half'" in errors[3]


def test_public_names_still_import_from_the_package():
    import albert_keras
    from albert_keras import Encoder, SharedTransformerLayer
    from albert_keras.data import pretraining_dataset
    from albert_keras.training import Lamb

    assert Encoder.__name__ == "Encoder" and callable(pretraining_dataset)
    assert SharedTransformerLayer.__module__ == "albert_keras.layers.shared_transformer_layer"
    assert Lamb.__module__ == "albert_keras.training.lamb" and "Encoder" in dir(albert_keras)
    with pytest.raises(AttributeError, match="no attribute 'Encodr'"):
        albert_keras.Encodr
