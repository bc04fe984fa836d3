"""A real SIGKILL in the middle of an export: the versions before it stay, the rerun completes."""

import os
import signal
import subprocess
import sys
import textwrap

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

_EXPORT = """
import os, signal, sys
sys.path.insert(0, {repo!r})
import keras
from albert_keras import Encoder
from albert_keras.export import export_for_serving, warmup
from tests.helpers import sentencepiece

if {kill!r}:
    write_warmup_file = warmup.write_warmup_file

    def killed(directory, requests):  # The SavedModel and half the warmup file are written.
        path = write_warmup_file(directory, requests)
        with open(path, "r+b") as f:
            f.truncate(os.path.getsize(path) // 2)
        os.kill(os.getpid(), signal.SIGKILL)

    warmup.write_warmup_file = killed
keras.utils.set_random_seed(0)
tokenizer = sentencepiece()
encoder = Encoder(vocabulary_size=tokenizer.vocabulary_size(), num_layers=1, num_heads=2,
                  hidden_dim=8, intermediate_dim=16, max_sequence_length=16, share="all")
print(export_for_serving(encoder, tokenizer, {export_dir!r}, sequence_length=16))
"""


def _export(export_dir, kill):
    script = textwrap.dedent(_EXPORT.format(repo=REPO, kill=kill, export_dir=str(export_dir)))
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=300, cwd=REPO)


def _tree(directory):
    return {os.path.relpath(os.path.join(root, name), directory):
            open(os.path.join(root, name), "rb").read()
            for root, _, names in os.walk(directory) for name in names}


@pytest.mark.large
def test_a_killed_export_leaves_earlier_versions_whole_and_the_rerun_completes(tmp_path):
    export_dir = tmp_path / "saved_models" / "tiny"
    first = _export(export_dir, kill=False)
    assert first.returncode == 0, first.stderr[-2000:]
    before = _tree(export_dir / "1")
    config = (tmp_path / "saved_models" / "models.config").read_text()

    killed = _export(export_dir, kill=True)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    left = sorted(os.listdir(export_dir))
    assert left[0].startswith(".2.staging-") and left[1:] == ["1"]  # Not a version to serve.
    assert _tree(export_dir / "1") == before
    assert (tmp_path / "saved_models" / "models.config").read_text() == config

    rerun = _export(export_dir, kill=False)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert rerun.stdout.strip().endswith(os.path.join("tiny", "2"))
    assert sorted(os.listdir(export_dir)) == ["1", "2"]  # The killed one's staging is gone.
    assert _tree(export_dir / "1") == before
    warmup = export_dir / "2" / "assets.extra" / "tf_serving_warmup_requests"
    assert warmup.stat().st_size == (export_dir / "1" / "assets.extra" /
                                     "tf_serving_warmup_requests").stat().st_size
