"""Held-out accuracies with bootstrap intervals over documents: per arm, in `report.json` and
`report.md`."""

import json
import os
import shutil

import numpy as np
import pytest

from albert_keras.compare.arm_pretraining import held_out_dataset
from albert_keras.compare.held_out_intervals import held_out_intervals
from albert_keras.models.encoder import Encoder
from albert_keras.models.pretrainer import Pretrainer
from albert_keras.pipeline import pipeline_from_dict
from albert_keras.pretraining_data.prepare import prepare
from albert_keras.tokenizers.tokenizer_files import load_tokenizer
from albert_keras.training.pretraining import compile_pretrainer
from tests.helpers.compare_runs import run_compare, tiny_compare_overrides

NAMES = {"step", "mlm_accuracy", "mlm_accuracy_low", "mlm_accuracy_high", "pair_accuracy",
         "pair_accuracy_low", "pair_accuracy_high", "interval_grouping", "num_documents",
         "num_pairs", "num_masked_tokens", "confidence", "resamples", "seed"}


def _without_document_ids(source, target) -> None:
    """A copy of the held-out folder whose records lack `document_id` (as older records)."""
    import tensorflow as tf

    shutil.copytree(source, target)
    for name in os.listdir(target):
        if name.endswith(".tfrecord"):
            path = os.path.join(target, name)
            records = list(tf.data.TFRecordDataset(path).as_numpy_iterator())
            with tf.io.TFRecordWriter(path) as writer:
                for record in records:
                    example = tf.train.Example.FromString(record)
                    del example.features.feature["document_id"]
                    writer.write(example.SerializeToString())


@pytest.fixture(scope="module")
def held_out(tmp_path_factory, stdlib_documents):
    """(config, held-out folder, tokenizer): records of 80 documents, 30% held out."""
    folder = tmp_path_factory.mktemp("intervals")
    corpus = folder / "corpus.txt"
    corpus.write_text("\n\n".join("\n".join(d) for d in stdlib_documents[:80]) + "\n",
                      encoding="utf-8")
    config = pipeline_from_dict({
        "name": "tiny", "data": {"corpus": str(corpus), "output_dir": str(folder),
                                 "vocabulary_size": 200, "max_sequence_length": 32,
                                 "max_predictions": 5, "held_out_fraction": 0.3,
                                 "length_buckets": [], "num_workers": 1, "seed": 3},
        "train": {"global_batch_size": 8, "seed": 0}, "compare": {"eval_batches": 6}})
    prepare(config, progress=False)
    records = folder / "tiny"
    return config, str(records / "held_out"), load_tokenizer(str(records / "tokenizer"))


def test_the_point_is_evaluates_accuracy_and_documents_widen_the_interval(held_out, tmp_path):
    config, directory, tokenizer = held_out
    dataset, batches = held_out_dataset(config, directory, tokenizer)
    encoder = Encoder(vocabulary_size=int(tokenizer.vocabulary_size()), num_layers=2,
                      num_heads=2, hidden_dim=16, intermediate_dim=32, max_sequence_length=32)
    pretrainer = Pretrainer(encoder)
    compile_pretrainer(pretrainer, config.train)
    scores = pretrainer.evaluate(dataset, steps=batches, verbose=0, return_dict=True)

    entry = held_out_intervals(pretrainer, dataset, batches, directory, step=7, seed=1)
    assert set(entry) == NAMES
    assert (entry["step"], entry["seed"], entry["num_pairs"]) == (7, 1, 48)
    assert (entry["interval_grouping"], entry["confidence"], entry["resamples"]) == (
        "document", 0.95, 1000)
    assert 2 <= entry["num_documents"] < 48  # Several pairs per document.
    for name in ("mlm_accuracy", "pair_accuracy"):
        assert entry[name] == pytest.approx(scores[name], abs=1e-6)  # Same batches, same math.
        assert entry[f"{name}_low"] <= entry[name] <= entry[f"{name}_high"]
    assert held_out_intervals(pretrainer, dataset, batches, directory, step=7, seed=1) == entry

    # Records without document ids: one group per pair, said so; the same point values.
    _without_document_ids(directory, tmp_path / "old")
    old = held_out_intervals(pretrainer, dataset, batches, str(tmp_path / "old"), step=7,
                             seed=1)
    assert (old["interval_grouping"], old["num_documents"]) == ("pair", None)
    for name in ("mlm_accuracy", "pair_accuracy"):
        assert old[name] == entry[name]
        assert old[f"{name}_low"] <= old[name] <= old[f"{name}_high"]


@pytest.mark.large
def test_a_comparison_reports_intervals_that_bracket_each_arms_accuracy(tmp_path):
    result = run_compare(tiny_compare_overrides(tmp_path, name="intervals"))
    assert result.returncode == 0, result.stdout[-3000:]
    run = tmp_path / "runs" / "intervals"
    report = json.loads((run / "report.json").read_text())
    (arm,) = report["arms"]
    entry = arm["held_out_intervals"]
    assert set(entry) == NAMES and entry["step"] == arm["final"]["step"] == 15
    assert entry["interval_grouping"] == "document"
    assert 1 <= entry["num_documents"] <= report["shared"]["held_out"]["documents"]
    assert entry["num_pairs"] == report["budget"]["eval_batches"] * 4
    for name in ("mlm_accuracy", "pair_accuracy"):
        assert entry[name] == pytest.approx(arm["final"][name], abs=1e-6)
        assert entry[f"{name}_low"] <= entry[name] <= entry[f"{name}_high"]
        assert np.isfinite([entry[f"{name}_low"], entry[f"{name}_high"]]).all()
    markdown = (run / "report.md").read_text()
    shown = (f"{entry['mlm_accuracy']:.3f} [{entry['mlm_accuracy_low']:.3f}, "
             f"{entry['mlm_accuracy_high']:.3f}]")
    assert f"| {shown} |" in markdown
    assert (f"percentile-bootstrap interval (1000 resamples) over the "
            f"{entry['num_documents']} held-out documents") in markdown
