"""A comparison whose report folder and records are URLs: every file goes through the file layer.

`file://` is read and written by TensorFlow's file systems, as `gs://` is, and (unlike `ram://`,
which holds files for one process) is seen by the arms' own processes: the URL code paths run in
the parent and in every arm. Nothing may land in the working directory (a folder named `file:`).
"""

import io
import json
import os
import re

import matplotlib.image
import pytest

from albert_keras.cli import main
from albert_keras.utils import file_io

REPO = os.path.join(os.path.dirname(__file__), "..", "..")
ARMS = ("[{name: bert, preset: albert_tiny, share: none, embedding_dim: 16, num_layers: 2, "
        "hidden_dim: 16, num_heads: 2, intermediate_dim: 32}, {name: albert, preset: albert_tiny, "
        "embedding_dim: 8, num_layers: 2, hidden_dim: 16, num_heads: 2, intermediate_dim: 32}]")


@pytest.mark.large
def test_a_comparison_on_urls_writes_its_report_and_keeps_finished_arms(tmp_path, capsys,
                                                                        monkeypatch):
    store = f"file://{tmp_path / 'store'}"
    working = tmp_path / "working"
    working.mkdir()
    monkeypatch.chdir(working)
    overrides = {
        "name": "on_url", "compare.arms": ARMS,
        "data.max_documents": 40, "data.vocabulary_size": 200, "data.max_sequence_length": 32,
        "data.length_buckets": "[]", "data.dupe_factor": 1, "data.held_out_fraction": 0.2,
        "data.max_predictions": 5, "data.num_workers": 1,
        "data.output_dir": f"{store}/records", "compare.output_dir": f"{store}/runs",
        "compare.eval_every": 5, "compare.eval_batches": 1, "compare.latency_iterations": 1,
        "train.steps": 10, "train.steps_per_epoch": 5, "train.warmup_steps": 2,
        "train.global_batch_size": 4, "compare.downstream_examples_per_label": 30,
        "compare.downstream_seeds": "[0]", "finetune.learning_rates": "[1.0e-3]",
        "finetune.epochs": 1, "finetune.max_sequence_length": 32,
    }
    args = ["compare", "--config", os.path.join(REPO, "pipelines", "compare.yaml")]
    for key, value in overrides.items():
        args += ["--set", f"{key}={value}"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    run = f"{store}/runs/on_url"
    assert f"[compare] report: {run}/report.md" in printed

    # Everything under the URLs; nothing local beside them (no `file:` folder, no lock files).
    assert os.listdir(working) == []
    assert sorted(os.listdir(tmp_path / "store")) == ["records", "runs"]
    assert file_io.isfile(f"{store}/records/on_url/manifest.json")
    assert {"report.json", "report.md", "plots", "arms", "downstream_data"} <= set(
        file_io.listdir(run))
    for name in ("bert", "albert"):
        arm = f"{run}/arms/{name}"
        assert {"arm.json", "arm_settings.json", "encoder.keras", "saved_model", "curve.json",
                "downstream"} <= set(file_io.listdir(arm)), name
        assert not file_io.exists(f"{arm}/backup")  # Deleted once the arm's result was written.
        assert file_io.isfile(f"{arm}/saved_model/encoder/1/saved_model.pb")

    report = json.loads(file_io.read_text(f"{run}/report.json"))
    assert [arm["name"] for arm in report["arms"]] == ["bert", "albert"]
    assert report["shared"]["records"] == f"{store}/records/on_url"
    assert report["downstream_task"]["source"] == "built-in"
    for arm in report["arms"]:
        assert [point["step"] for point in arm["curve"]] == [0, 5, 10]
        # Sizes measured through the URL: those of the files the URL names on this disk.
        local = tmp_path / "store" / "runs" / "on_url" / "arms" / arm["name"]
        exported = sum(os.path.getsize(os.path.join(folder, name))
                       for folder, _, names in os.walk(local / "saved_model" / "encoder" / "1")
                       for name in names)
        assert arm["saved_model_mb"] == pytest.approx(exported / 2**20) and exported > 0
        assert arm["keras_file_mb"] == pytest.approx(
            os.path.getsize(local / "encoder.keras") / 2**20)
        assert arm["tokens_per_second"] > 0 and {"batch_1", "batch_32"} == set(arm["latency_ms"])
        downstream = arm["downstream"]
        assert downstream["split"] == "test" and downstream["seeds"] == [0]
        for init in ("pretrained", "random_init"):
            assert len(downstream[init]["values"]) == 1
            assert 0 <= downstream[init]["values"][0] <= 1
        assert arm["fingerprints"]["records"] == f"{store}/records/on_url"
    assert report["arms"][0]["fingerprints"] == report["arms"][1]["fingerprints"]
    assert report["arms"][1]["parameters"]["encoder"] < report["arms"][0]["parameters"]["encoder"]

    markdown = file_io.read_text(f"{run}/report.md")
    assert markdown.splitlines()[2] == "## The answer"
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", markdown)
    assert len(images) == 6 and sorted(images) == sorted(report["plots"].values())
    for image in images:
        pixels = matplotlib.image.imread(io.BytesIO(file_io.read_bytes(f"{run}/{image}")),
                                         format="png")
        assert pixels.shape[0] > 100 and pixels.shape[1] > 100, image

    # A rerun keeps the finished arms (read back from the URL): nothing is trained again.
    assert main(args) == 0
    printed = capsys.readouterr().out
    for name in ("bert", "albert"):
        assert f"[compare] {name}: finished before with the same settings" in printed
    assert "step 5/10" not in printed
    rerun = json.loads(file_io.read_text(f"{run}/report.json"))
    assert rerun["arms"] == report["arms"]
    assert os.listdir(working) == []


def test_a_comparison_refuses_ram_urls_the_arms_cannot_see(tmp_path, capsys):
    args = ["compare", "--config", os.path.join(REPO, "pipelines", "compare.yaml"),
            "--set", f"data.output_dir={tmp_path / 'records'}",
            "--set", "compare.output_dir=ram://runs"]
    assert main(args) == 2  # Before any work: no records made.
    assert "`compare.output_dir` is a ram:// URL, but `albert-keras compare` runs each arm in " \
           "a process of its own" in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "records")
