"""A run's outputs published as one unit: the previous set or the new one, never a mix."""

import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from albert_keras.utils.published_run import (PUBLISHED_DIR, check_tokenizer_matches,
                                              publish_run, published_record)

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def _writer(model: str, tokenizer: str):
    def write(staging):
        with open(os.path.join(staging, "model.keras"), "w") as f:
            f.write(model)
        os.makedirs(os.path.join(staging, "tokenizer"))
        with open(os.path.join(staging, "tokenizer", "vocab.txt"), "w") as f:
            f.write(tokenizer)
    return write


def _contents(run_dir):
    with open(os.path.join(run_dir, "model.keras")) as f, \
            open(os.path.join(run_dir, "tokenizer", "vocab.txt")) as g:
        return f.read(), g.read()


def test_publish_replaces_every_output_at_once_and_records_them(tmp_path):
    run = str(tmp_path / "run")
    publish_run(run, _writer("old model", "old vocab"), {"tokenizer_fingerprint": "a" * 64})
    assert _contents(run) == ("old model", "old vocab")
    publish_run(run, _writer("new model", "new vocab"), {"tokenizer_fingerprint": "b" * 64})
    assert _contents(run) == ("new model", "new vocab")
    assert sorted(os.listdir(run)) == [PUBLISHED_DIR, "model.keras", "tokenizer"]
    assert sorted(os.listdir(os.path.join(run, PUBLISHED_DIR))) == ["00002", "current"]
    record, path = published_record(os.path.join(run, "model.keras"))
    assert record == {"tokenizer_fingerprint": "b" * 64, "outputs": ["model.keras", "tokenizer"]}
    assert path == os.path.join(run, PUBLISHED_DIR, "00002", "run.json")


def test_a_run_made_before_published_runs_is_adopted_then_replaced_whole(tmp_path):
    run = tmp_path / "run"
    (run / "tokenizer").mkdir(parents=True)
    (run / "model.keras").write_text("legacy model")
    (run / "tokenizer" / "vocab.txt").write_text("legacy vocab")
    (run / "notes.txt").write_text("not an output")
    publish_run(str(run), _writer("new model", "new vocab"), {})
    assert _contents(str(run)) == ("new model", "new vocab")
    assert (run / "notes.txt").read_text() == "not an output"
    assert published_record(str(run / "model.keras"))[0]["outputs"] == ["model.keras",
                                                                        "tokenizer"]


_KILLED_PUBLISH = """
import os, signal, sys
sys.path.insert(0, {repo!r})
from albert_keras.utils.published_run import publish_run

def write(staging):
    with open(os.path.join(staging, "model.keras"), "w") as f:
        f.write("new model")
    os.kill(os.getpid(), signal.SIGKILL)  # Before the new tokenizer/ is written.

publish_run({run!r}, write, {{}})
"""


def test_a_publisher_killed_between_model_and_tokenizer_leaves_the_old_run(tmp_path):
    run = str(tmp_path / "run")
    publish_run(run, _writer("old model", "old vocab"), {})
    killed = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_KILLED_PUBLISH.format(repo=REPO, run=run))],
        capture_output=True, text=True, timeout=120)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert _contents(run) == ("old model", "old vocab")
    publish_run(run, _writer("new model", "new vocab"), {})  # Cleans up after the killed one.
    assert _contents(run) == ("new model", "new vocab")
    assert sorted(os.listdir(os.path.join(run, PUBLISHED_DIR))) == ["00002", "current"]


def test_a_tokenizer_that_is_not_the_models_is_refused_naming_both(tmp_path):
    run = str(tmp_path / "run")
    publish_run(run, _writer("model", "vocab"), {"tokenizer_fingerprint": "a" * 64})
    model = os.path.join(run, "model.keras")
    check_tokenizer_matches(model, 30, "tok", 30, "a" * 64)  # Its own: accepted.
    with pytest.raises(ValueError, match=r"The tokenizer other/ \(fingerprint bbbbbbbbbbbb\) "
                                         r"is not the one .*model.keras was trained with "
                                         r"\(fingerprint aaaaaaaaaaaa"):
        check_tokenizer_matches(model, 30, "other/", 30, "b" * 64)
    # A model from before fingerprints: the vocabulary sizes must agree.
    legacy = tmp_path / "legacy" / "model.keras"
    legacy.parent.mkdir()
    legacy.write_text("model")
    check_tokenizer_matches(str(legacy), 30522, "tokenizer", 30522, "c" * 64)
    with pytest.raises(ValueError, match=r"The tokenizer tokenizer \(30000 tokens\) does not "
                                         r"belong to .*model.keras \(vocabulary_size=30522\)"):
        check_tokenizer_matches(str(legacy), 30522, "tokenizer", 30000, "c" * 64)
    assert json.loads(json.dumps(published_record(model)[0]))["tokenizer_fingerprint"] == "a" * 64


def test_a_failed_write_keeps_the_published_run_and_leaves_no_staging(tmp_path):
    run = str(tmp_path / "run")
    publish_run(run, _writer("old model", "old vocab"), {})

    def fail(staging):
        _writer("new model", "new vocab")(staging)
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        publish_run(run, fail, {})
    assert _contents(run) == ("old model", "old vocab")
    assert sorted(os.listdir(os.path.join(run, PUBLISHED_DIR))) == ["00001", "current"]
