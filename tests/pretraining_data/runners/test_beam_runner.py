"""`prepare --runner beam` writes records interchangeable with the local runner's.

The runs use real text (two Shakespeare plays from `../shared/data/fetch.sh`) and Beam's
DirectRunner in multi-process mode with 2 workers, as a cluster runner would split the work.
"""

import glob
import os
import sys

import numpy as np
import pytest

from albert_keras.cli import main
from albert_keras.pipeline import ConfigError, pipeline_from_dict
from albert_keras.pretraining_data.pairs.create_pairs import create_pairs, document_pairs
from albert_keras.pretraining_data.prepare import prepare

REPO = os.path.join(os.path.dirname(__file__), "..", "..", "..")
# The DirectRunner's batch engine, named: plain "DirectRunner" first tries to download Prism.
BEAM_OPTIONS = ["runner=FnApiRunner", "direct_num_workers=2"]
COUNTS = ("documents", "sentences", "sequences", "tokens", "sequence_tokens", "pair_label_1",
          "files", "shards")


@pytest.fixture(scope="module")
def plays(shared_data, tmp_path_factory):
    """(corpus pattern, tokenizer directory): two plays and a 600-piece tokenizer trained on them."""
    from albert_keras.pretraining_data.corpus import read_documents
    from albert_keras.tokenizers.tokenizer_files import save_tokenizer
    from albert_keras.tokenizers.tokenizer_training import train_tokenizer

    corpus = ",".join(os.path.join(shared_data, "corpus", "shakespeare", name)
                      for name in ("hamlet*.txt", "macbeth*.txt"))
    sentences = [s for d in read_documents(corpus) for s in d]
    tokenizer_dir = str(tmp_path_factory.mktemp("plays") / "tokenizer")
    save_tokenizer(train_tokenizer(sentences, "sentencepiece", 600), tokenizer_dir)
    return corpus, tokenizer_dir


def _config(output_dir, corpus, tokenizer_dir, runner, pair_task, mode="multi_processing"):
    return pipeline_from_dict({"name": runner, "data": {
        "corpus": corpus, "tokenizer_path": tokenizer_dir, "max_documents": 500,
        "max_sequence_length": 48, "pair_task": pair_task, "dupe_factor": 2, "num_shards": 3,
        "held_out_fraction": 0.1, "masking": "ngram", "max_predictions": 6,
        "output_dir": str(output_dir), "num_workers": 1, "runner": runner,
        "beam_options": [*BEAM_OPTIONS, f"direct_running_mode={mode}"]}})


def _rows(directory, max_predictions=None):
    """Every record of the shards in `directory` as sorted tuples of bytes, and the dtypes."""
    import tensorflow as tf

    from albert_keras.pretraining_data.records.features import parse_examples

    files = sorted(glob.glob(os.path.join(directory, "*.tfrecord")))
    parsed = parse_examples(tf.constant(list(tf.data.TFRecordDataset(files).as_numpy_iterator())),
                            48, max_predictions, with_document_id=True)
    names = sorted(parsed)
    arrays = [parsed[name].numpy().reshape(len(parsed[name]), -1) for name in names]
    rows = sorted(b"|".join(a[i].tobytes() for a in arrays) for i in range(len(arrays[0])))
    return rows, {name: parsed[name].dtype for name in names}


@pytest.mark.large
@pytest.mark.parametrize("pair_task, static_masking, mode", [
    ("nsp", True, "multi_processing"),  # Side input, mask chunks and shards across processes.
    ("sop", False, "in_memory"),  # What differs for SOP (no side input), without the workers'
])                                # start (a TensorFlow import each, most of a small run).
def test_runners_write_the_same_records(plays, tmp_path, pair_task, static_masking, mode):
    from albert_keras.pretraining_data.reader.pretraining_dataset import (ReaderOptions,
                                                                          pretraining_dataset)
    from albert_keras.pretraining_data.records.records_manifest import read_manifest

    corpus, tokenizer_dir = plays
    summaries, manifests = {}, {}
    for runner in ("local", "beam"):
        config = _config(tmp_path, corpus, tokenizer_dir, runner, pair_task, mode)
        summaries[runner] = prepare(config, static_masking=static_masking, progress=False)
        manifests[runner] = read_manifest(str(tmp_path / runner))
    local, beam = summaries["local"], summaries["beam"]
    assert {k: beam[k] for k in COUNTS} == {k: local[k] for k in COUNTS}
    assert local["documents"] == 500 and local["sequences"] > 500
    held = {k: v for k, v in beam["held_out"].items() if k != "shard_files"}
    assert held == {k: v for k, v in local["held_out"].items() if k != "shard_files"}
    assert manifests["beam"].runner == "beam" and manifests["local"].runner == "local"
    entries = manifests["beam"].shard_files
    assert [e["file"] for e in entries] == [f"pretraining-{i:05d}-of-00003.tfrecord"
                                            for i in range(3)]
    assert sum(e["num_sequences"] for e in entries) == beam["sequences"]
    for sub, max_predictions in (("", 6 if static_masking else None), ("held_out", None)):
        local_rows, local_types = _rows(tmp_path / "local" / sub, max_predictions)
        beam_rows, beam_types = _rows(tmp_path / "beam" / sub, max_predictions)
        assert beam_types == local_types
        assert len(beam_rows) == len(local_rows) > 0 and beam_rows == local_rows, sub
    batch = next(iter(pretraining_dataset(str(tmp_path / "beam"), 8,
                                          options=ReaderOptions(seed=1))))
    assert batch[0]["token_ids"].shape == (8, 48)
    assert ("mask_positions" in batch[0]) and batch[0]["mask_positions"].shape == (8, 6)


def test_document_pairs_are_the_rows_of_create_pairs():
    rng = np.random.default_rng(3)
    documents = [[rng.integers(5, 50, rng.integers(1, 12)) for _ in range(rng.integers(1, 6))]
                 for _ in range(20)]
    for pair_task in ("sop", "nsp"):
        settings = dict(max_sequence_length=16, pair_task=pair_task, cls_id=2, sep_id=3, seed=7)
        whole = create_pairs(documents, dupe_factor=2, num_workers=1, **settings)
        parts = [document_pairs(documents, index, dupe=dupe, **settings)
                 for dupe in range(2) for index in range(len(documents))]
        for name, value in whole.items():
            np.testing.assert_array_equal(np.concatenate([p[name] for p in parts]), value)


def test_runner_settings_are_checked_before_any_work(tmp_path, monkeypatch, capsys):
    with pytest.raises(ConfigError, match="data.runner.*Received: data.runner='spark'"):
        pipeline_from_dict({"name": "x", "data": {"runner": "spark"}})
    with pytest.raises(ConfigError, match=r"data.beam_options\[1\]=' runner'"):
        pipeline_from_dict({"name": "x", "data": {"beam_options": ["a=1", " runner"]}})
    config = os.path.join(REPO, "pipelines", "albert_tiny.yaml")
    seen = []
    # By module (the package exports a same-named function).
    module = sys.modules["albert_keras.pretraining_data.prepare"]
    monkeypatch.setattr(module, "prepare", lambda config, **options: seen.append(config.data))
    assert main(["prepare", "--config", config, "--runner", "beam", "--beam-option",
                 "runner=FlinkRunner", "--beam-option", "direct_num_workers=2"]) == 0
    assert seen[0].runner == "beam"
    assert seen[0].beam_options == ("runner=FlinkRunner", "direct_num_workers=2")
    assert main(["prepare", "--config", config, "--beam-option", "workers"]) == 2
    assert "data.beam_options[0]='workers'" in capsys.readouterr().err


def test_missing_beam_names_the_install(monkeypatch):
    from albert_keras.pretraining_data.runners.beam_runner import prepare_with_beam

    monkeypatch.setitem(sys.modules, "apache_beam", None)
    monkeypatch.setitem(sys.modules, "apache_beam.options.pipeline_options", None)
    config = pipeline_from_dict({"name": "x", "data": {"runner": "beam", "corpus": "nowhere-*"}})
    with pytest.raises(ValueError, match=r"pip install 'albert-keras\[beam\]'"):
        prepare_with_beam(config, progress=False)


def test_only_the_pipeline_modules_import_beam():
    import ast

    import albert_keras.pretraining_data

    importers = set()
    package = os.path.dirname(albert_keras.pretraining_data.__file__)
    for path in glob.glob(os.path.join(package, "**", "*.py"), recursive=True):
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read())
        for node in tree.body:  # Module level only: functions may import Beam when called.
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if any(name.split(".")[0] == "apache_beam" for name in names):
                importers.add(os.path.basename(path))
    assert importers == {"beam_pipeline.py", "beam_shards.py", "beam_stages.py"}
