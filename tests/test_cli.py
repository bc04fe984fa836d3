import subprocess
import sys

from albert_keras.cli import main
from albert_keras.models.encoder_config import PRESETS, EncoderConfig


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
