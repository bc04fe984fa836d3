"""A whole comparison at tiny settings: two arms, a few steps, tiny data, the full report."""

import json
import math
import os
import re

import matplotlib.image
import numpy as np
import pytest

from albert_keras.cli import main
from albert_keras.models.encoder_config import EncoderConfig

REPO = os.path.join(os.path.dirname(__file__), "..", "..")
TINY = dict(num_layers=2, hidden_dim=16, num_heads=2, intermediate_dim=32)
ARMS = ("[{name: bert, preset: albert_tiny, share: none, embedding_dim: 16, num_layers: 2, "
        "hidden_dim: 16, num_heads: 2, intermediate_dim: 32}, {name: albert, preset: albert_tiny, "
        "embedding_dim: 8, num_layers: 2, hidden_dim: 16, num_heads: 2, intermediate_dim: 32}]")


def _numbers(value, where=""):
    """Every number in a nested report, with where it is."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _numbers(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _numbers(item, f"{where}[{index}]")
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        yield where, value


@pytest.mark.large
def test_tiny_comparison_writes_a_complete_fair_report(tmp_path, capsys):
    overrides = {
        "name": "tiny_compare", "compare.arms": ARMS,
        "data.max_documents": 60, "data.vocabulary_size": 300, "data.max_sequence_length": 32,
        "data.length_buckets": "[]", "data.dupe_factor": 1, "data.held_out_fraction": 0.2,
        "data.max_predictions": 5, "data.num_workers": 1,
        "data.output_dir": str(tmp_path / "records"),
        "compare.output_dir": str(tmp_path / "runs"), "compare.eval_every": 10,
        "compare.eval_batches": 2, "compare.downstream_examples_per_label": 30,
        "compare.latency_iterations": 3, "train.steps": 20, "train.steps_per_epoch": 10,
        "train.warmup_steps": 2, "train.global_batch_size": 8, "finetune.epochs": 1,
        "finetune.max_sequence_length": 32, "compare.downstream_seeds": "[0, 1]",
        "finetune.learning_rates": "[5.0e-4, 2.0e-3]", "compare.downstream_workers": 2,
    }
    args = ["compare", "--config", os.path.join(REPO, "pipelines", "compare.yaml")]
    for key, value in overrides.items():
        args += ["--set", f"{key}={value}"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert re.search(r"^bert\s+none\s+16\s", printed, re.M)
    assert re.search(r"^albert\s+all\s+8\s", printed, re.M)

    run = tmp_path / "runs" / "tiny_compare"
    report = json.loads((run / "report.json").read_text())
    assert [arm["name"] for arm in report["arms"]] == ["bert", "albert"]
    for where, value in _numbers(report):
        assert math.isfinite(value), where
    fields = {"parameters", "weights_mb", "keras_file_mb", "saved_model_mb", "peak_memory_mb",
              "train_memory_mb", "tokens_per_second", "latency_ms", "curve", "final",
              "downstream", "fingerprints", "encoder_config"}
    for arm in report["arms"]:
        assert fields <= set(arm), arm["name"]
        parts = arm["parameters"]
        assert parts["embeddings"] + parts["transformer"] + parts["pooler"] == parts["encoder"]
        expected = EncoderConfig.from_dict({**arm["encoder_config"]}).num_parameters()
        assert parts["encoder"] == expected and parts["total"] > parts["encoder"]
        assert arm["saved_model_mb"] > 0 and arm["keras_file_mb"] > 0
        assert arm["peak_memory_mb"] > arm["train_memory_mb"] >= 0
        assert arm["tokens_per_second"] > 0
        assert {"batch_1", "batch_32"} == set(arm["latency_ms"])
        assert [p["step"] for p in arm["curve"]] == [0, 10, 20]
        # Untrained, the masked-LM head guesses uniformly over the vocabulary.
        vocabulary_size = arm["encoder_config"]["vocabulary_size"]
        assert abs(arm["curve"][0]["mlm_loss"] - math.log(vocabulary_size)) < 0.5
        assert all(b["seconds"] > a["seconds"] for a, b in zip(arm["curve"], arm["curve"][1:]))
        downstream = arm["downstream"]
        assert (downstream["split"], downstream["selection_split"]) == ("test", "validation")
        assert downstream["learning_rates"] == [5e-4, 2e-3] and downstream["seeds"] == [0, 1]
        for init in ("pretrained", "random_init"):
            part = downstream[init]
            assert len(part["values"]) == 2 and 0 <= part["median"] <= 1
            assert set(part["validation"]) == {"0.0005", "0.002"}
            chosen = max(part["validation"], key=lambda r: np.median(part["validation"][r]))
            assert part["learning_rate"] == float(chosen)
        gain = downstream["gain"]
        assert gain["values"] == pytest.approx([p - r for p, r in zip(
            downstream["pretrained"]["values"], downstream["random_init"]["values"])])
        assert gain["verdict"] == "cannot conclude"  # 2 seeds: too few for the rule
    bert, albert = report["arms"]
    assert albert["parameters"]["encoder"] < bert["parameters"]["encoder"]
    assert albert["encoder_config"]["vocabulary_size"] == bert["encoder_config"]["vocabulary_size"]

    # Fair by construction: the same records, tokenizer, batches, held-out batches and seeds.
    assert bert["fingerprints"] == albert["fingerprints"]
    assert len(bert["fingerprints"]["first_batches"]) == 64
    assert report["views"]["equal_steps"]["step"] == 20
    assert 0 < report["views"]["equal_time"]["seconds"] <= min(bert["train_seconds"],
                                                               albert["train_seconds"])
    # Wall time: each arm's stages lie inside the job's total (arms run one after another).
    for arm in report["arms"]:
        assert arm["wall_seconds"]["pretraining"] > arm["train_seconds"] > 0
        assert arm["wall_seconds"]["downstream"] > 0
    assert report["wall_seconds"]["total"] > report["wall_seconds"]["records"] + sum(
        sum(arm["wall_seconds"].values()) for arm in report["arms"]) + report["wall_seconds"][
        "speed"]
    # Speed: the arms' train steps timed in alternated rounds, in one process after training.
    speed = report["speed"]
    assert speed["rounds"] == 3 and speed["steps_per_round"] == 10
    assert speed["order"] == [["bert", "albert"], ["albert", "bert"], ["bert", "albert"]]
    assert report["wall_seconds"]["speed"] > speed["seconds"] > 0
    for arm in report["arms"]:
        rounds = speed["arms"][arm["name"]]
        assert arm["tokens_per_second"] == rounds["median"] > 0
        assert arm["tokens_per_second_rounds"] == rounds["rounds"] and len(rounds["rounds"]) == 3
        assert arm["tokens_per_second_min"] <= arm["tokens_per_second"] \
            <= arm["tokens_per_second_max"]
        assert arm["train_tokens_per_second"] > 0  # The training run's own figure, kept.
    ratio = speed["ratios"]["albert"]
    assert (ratio["a"], ratio["b"]) == ("albert", "bert") and len(ratio["speed_ratio_rounds"]) == 3
    claim = next(row for row in report["paper"] if row["claim"].startswith("Table 2: at the same"))
    assert claim["verdict"] == {"faster": "agrees", "slower": "differs"}.get(
        ratio["verdict"], "cannot conclude")
    assert report["downstream_task"]["source"] == "built-in"
    assert report["downstream_task"]["test_examples"] > 0
    assert len(report["downstream_task"]["labels"]) >= 2
    assert {row["verdict"] for row in report["paper"]} <= {"agrees", "differs",
                                                           "cannot conclude"}

    markdown = (run / "report.md").read_text()
    assert markdown.splitlines()[2] == "## The answer"
    assert re.search(r"Wall time: (\d+ min )?\d+ s \(records (\d+ min )?\d+ s; bert: "
                     r"pretraining .+, downstream .+; albert: .+; speed rounds (\d+ min )?\d+ s"
                     r"\)\.", markdown)
    assert "Speed comes from alternated rounds" in markdown
    assert "- **bert** (from random weights, 20 of 20 steps of 8): pretraining" in markdown
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", markdown)
    assert len(images) == 6
    for image in images:
        pixels = matplotlib.image.imread(run / image)
        assert pixels.shape[0] > 100 and pixels.shape[1] > 100
        assert len(np.unique(pixels.reshape(-1, pixels.shape[-1]), axis=0)) > 1, image

    # A rerun keeps the finished arms (same settings): nothing is trained again.
    assert main(args) == 0
    printed = capsys.readouterr().out
    for name in ("bert", "albert"):
        assert f"[compare] {name}: finished before with the same settings" in printed
    assert "[compare] speed rounds: measured before with the same settings" in printed
    rerun = json.loads((run / "report.json").read_text())
    assert rerun["arms"] == report["arms"] and rerun["speed"] == report["speed"]
