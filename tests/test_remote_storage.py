"""A whole trip on a URL: `prepare --runner beam` -> `pretrain` -> `export`, every path under
`ram://` (TensorFlow's in-memory file system, standing in for `gs://`), nothing on the disk.

`ram://` lives in one process, so the trip runs in a child process whose working directory and
`TMPDIR` are empty folders that must stay empty; Beam runs in-process (`in_memory`). Only the
pipeline YAML is local, by choice (`--config` reads local files).
"""

import json
import os
import subprocess
import sys

import pytest
import yaml

from tests.helpers import tiny_pretraining_config

REPO = os.path.join(os.path.dirname(__file__), "..")
_TRIP = """
import json, os, sys
import tensorflow as tf
from albert_keras.cli import main
from albert_keras.pretraining_data.corpus import read_documents
from albert_keras.pretraining_data.records.records_manifest import read_manifest

root, config = sys.argv[1], sys.argv[2]
documents = list(read_documents("stdlib", max_documents=12))
for part in range(3):  # The corpus too is read from the URL, by the Beam workers.
    with tf.io.gfile.GFile(f"{root}/corpus/part-{part}.txt", "w") as f:
        f.write("\\n\\n".join("\\n".join(d) for d in documents[part::3]) + "\\n")
beam = ["--runner", "beam", "--beam-option", "runner=FnApiRunner",
        "--beam-option", "direct_running_mode=in_memory"]
codes = [main(["prepare", "--config", config, *beam]),
         main(["prepare", "--config", config, *beam]),  # Replaces the set, published again.
         main(["pretrain", "--config", config]),
         main(["export", "--config", config]),
         main(["export", "--config", config, "--version", "1", "--overwrite"])]  # Replaced.
served = tf.saved_model.load(f"{root}/saved_models/tiny/1").signatures["serving_default"]
answer = served(text=tf.constant(["Return the sum of two numbers.", ""]),
                text_pair=tf.constant(["", ""]))
print("RESULT " + json.dumps({
    "codes": codes,
    "embeddings": answer["embeddings"].shape.as_list(),
    "finite": bool(tf.reduce_all(tf.math.is_finite(answer["embeddings"]))),
    "runner": read_manifest(f"{root}/records/tiny").runner,
    "records": sorted(tf.io.gfile.listdir(f"{root}/records/tiny")),
    "run": sorted(tf.io.gfile.listdir(f"{root}/runs/tiny")),
    "version": sorted(tf.io.gfile.listdir(f"{root}/saved_models/tiny/1")),
    "versions": sorted(tf.io.gfile.listdir(f"{root}/saved_models/tiny")),
    "models_config": tf.io.gfile.GFile(f"{root}/saved_models/models.config").read()}))
"""


@pytest.mark.large  # 20-35 s: a child process that imports TensorFlow and Beam.
def test_prepare_with_beam_pretrain_and_export_on_ram_urls_touch_no_disk(tmp_path):
    root = "ram://trip"
    raw = tiny_pretraining_config(tmp_path)
    raw["data"].update(corpus=f"{root}/corpus/*.txt", output_dir=f"{root}/records",
                       held_out_fraction=0.25)
    raw["train"].update(output_dir=f"{root}/runs")
    raw["export"] = {"base_dir": f"{root}/saved_models"}
    config = tmp_path / "tiny.yaml"  # The one local file, outside the folders watched.
    config.write_text(yaml.safe_dump(raw))
    cwd, tmpdir = tmp_path / "cwd", tmp_path / "tmp"
    cwd.mkdir()
    tmpdir.mkdir()
    env = {**os.environ, "TMPDIR": str(tmpdir), "PYTHONPATH": os.path.abspath(REPO),
           "TF_CPP_MIN_LOG_LEVEL": "2"}
    result = subprocess.run([sys.executable, "-c", _TRIP, root, str(config)], cwd=cwd, env=env,
                            capture_output=True, text=True, timeout=900)
    lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
    assert result.returncode == 0 and lines, result.stderr[-4000:]
    trip = json.loads(lines[0][len("RESULT "):])
    assert trip["codes"] == [0, 0, 0, 0, 0]
    assert trip["embeddings"] == [2, 16] and trip["finite"]
    assert trip["runner"] == "beam"
    assert trip["records"] == ["held_out", "manifest.json", "pretraining-00000-of-00002.tfrecord",
                               "pretraining-00001-of-00002.tfrecord", "tokenizer"]
    assert {"encoder.keras", "pretrainer.keras", "tokenizer", "summary.json", "run.json",
            "checkpoints", "logs"} <= set(trip["run"])  # Keras' callbacks wrote there too.
    assert "backup" not in trip["run"]  # Deleted once the outputs were published.
    assert {"saved_model.pb", "variables", "assets", "assets.extra"} <= set(trip["version"])
    assert [name.rstrip("/") for name in trip["versions"]] == ["1"]  # No staging left.
    assert f'base_path: "{root}/saved_models/tiny"' in trip["models_config"]
    assert os.listdir(cwd) == [] and os.listdir(tmpdir) == []  # Nothing landed on the disk.
