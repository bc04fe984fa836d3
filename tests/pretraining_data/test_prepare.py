import json
import os

import numpy as np
import pytest

from albert_keras.cli import main
from albert_keras.pipeline import ConfigError, load_pipeline, pipeline_from_dict
from albert_keras.pretraining_data.prepare import prepare
from albert_keras.pretraining_data.reader.pretraining_dataset import (ReaderOptions,
                                                                      pretraining_dataset)
from albert_keras.tokenizers.special_tokens import special_token_ids
from albert_keras.tokenizers.tokenizer_files import load_tokenizer
from tests.helpers.pipeline_records import tiny_pipeline

REPO = os.path.join(os.path.dirname(__file__), "..", "..")


def test_prepare_writes_shards_manifest_and_tokenizer(prepared):
    summary, directory = prepared
    manifest = json.load(open(os.path.join(directory, "manifest.json")))
    names = sorted(n for n in os.listdir(directory) if n.endswith(".tfrecord"))
    assert names == [f"pretraining-{i:05d}-of-00003.tfrecord" for i in range(3)]
    assert [s["file"] for s in manifest["shard_files"]] == names
    assert sum(s["num_sequences"] for s in manifest["shard_files"]) == summary["sequences"] > 500
    assert summary["documents"] == 60 and summary["sentences"] > 1000
    assert summary["tokens"] > summary["sequence_tokens"] / 2 > 0
    assert 0.45 < summary["pair_label_1"] / summary["sequences"] < 0.55
    assert manifest["masking"] == {"mode": "whole_word", "mask_rate": 0.15, "max_predictions": 5,
                                   "max_ngram": 3}
    assert manifest["max_sequence_length"] == 32 and manifest["static_masking"] is False
    tokenizer = load_tokenizer(os.path.join(directory, "tokenizer"))
    assert special_token_ids(tokenizer) == manifest["special_token_ids"]
    assert tokenizer.vocabulary_size() == manifest["vocabulary_size"] == 300


def test_cli_prepare_prints_progress_and_summary(tmp_path, corpus_file, capsys):
    config = os.path.join(REPO, "pipelines", "albert_tiny.yaml")
    code = main(["prepare", "--config", config, "--set", f"data.output_dir={tmp_path}",
                 "--set", f"data.corpus={corpus_file}", "--set", "data.vocabulary_size=300",
                 "--set", "data.max_sequence_length=32", "--set", "data.dupe_factor=1",
                 "--set", "data.max_documents=20", "--set", "train.phases=[]"])
    assert code == 0
    err = capsys.readouterr().err
    assert "pairs" in err and "prepared albert_tiny in" in err and "documents 20" in err
    assert os.path.isfile(tmp_path / "albert_tiny" / "manifest.json")


def test_bad_input_errors_name_the_key_or_pattern(tmp_path):
    with pytest.raises(ConfigError, match="data.dupe_factor"):
        pipeline_from_dict({"name": "x", "data": {"dupe_factor": 0}})
    with pytest.raises(ConfigError, match="data.masking"):
        pipeline_from_dict({"name": "x", "data": {"masking": "span"}})
    with pytest.raises(FileNotFoundError, match="missing-"):
        prepare(tiny_pipeline(tmp_path, str(tmp_path / "missing-*.txt")), progress=False)
    (tmp_path / "one.txt").write_text("Only one document with a few words.\n")
    with pytest.raises(ValueError, match="at least 2 documents"):
        prepare(tiny_pipeline(tmp_path, str(tmp_path / "one.txt"), pair_task="nsp",
                              vocabulary_size=20), progress=False)


@pytest.mark.large
@pytest.mark.parametrize("name", ["albert_tiny", "bert_tiny"])
def test_tiny_pipelines_prepare_from_the_builtin_corpus(name, tmp_path):
    config = load_pipeline(os.path.join(REPO, "pipelines", f"{name}.yaml"),
                           [f"data.output_dir={tmp_path}"])
    summary = prepare(config, progress=False)
    assert summary["sequences"] > 5000 and summary["documents"] > 200
    x, y, weights = next(iter(pretraining_dataset(os.path.join(str(tmp_path), name), 16)))
    assert x["token_ids"].shape == (16, config.data.max_sequence_length)
    assert y["mlm"].shape == (16, config.data.max_predictions)


def test_same_config_gives_byte_identical_output(tmp_path, corpus_file):
    outputs = []
    for run in ("a", "b"):
        prepare(tiny_pipeline(tmp_path / run, corpus_file, max_documents=25), progress=False)
        directory = tmp_path / run / "tiny"
        names = sorted(n for n in os.listdir(directory) if n.endswith(".tfrecord"))
        names.append(os.path.join("tokenizer", "spiece.model"))
        outputs.append({n: (directory / n).read_bytes() for n in names})
    assert outputs[0] == outputs[1] and len(outputs[0]) == 4


def test_held_out_documents_stay_out_of_tokenizer_and_training_records(tmp_path, corpus_file):
    from albert_keras.pretraining_data.runners.shared_steps import split_documents

    documents = [[f"document {i} sentence"] for i in range(40)]
    kept, held_out = split_documents(documents, 0.1, seed=7)
    assert len(held_out) == 4 and len(kept) == 36
    assert sorted(kept + held_out) == sorted(documents)  # Disjoint, nothing lost.
    assert split_documents(documents, 0.1, seed=7) == (kept, held_out)
    assert split_documents(documents, 0.1, seed=8)[1] != held_out
    with pytest.raises(ValueError, match="data.held_out_fraction"):
        split_documents(documents[:1], 0.5, seed=7)

    summary = prepare(tiny_pipeline(tmp_path, corpus_file, held_out_fraction=0.2), progress=False)
    directory = tmp_path / "tiny"
    held = summary["held_out"]
    assert held["documents"] == 12 and held["sequences"] > 20
    manifest = json.load(open(directory / "held_out" / "manifest.json"))
    assert manifest["sequences"] == held["sequences"] and not manifest["static_masking"]
    assert [s["file"] for s in manifest["shard_files"]] == ["pretraining-00000-of-00001.tfrecord"]
    # The training reader's directory holds only training shards; the held-out reader finds
    # its tokenizer through its own manifest.
    assert len([n for n in os.listdir(directory) if n.endswith(".tfrecord")]) == 3
    batches = list(pretraining_dataset(str(directory / "held_out"), 4,
                                       options=ReaderOptions(shuffle=False, repeat=False)))
    assert len(batches) == held["sequences"] // 4
    # Re-prepared without held-out documents: no stale held-out records remain.
    prepare(tiny_pipeline(tmp_path, corpus_file), progress=False)
    assert not (directory / "held_out").exists()


def test_held_out_fraction_must_be_a_share(tmp_path):
    with pytest.raises(ConfigError, match=r"data.held_out_fraction=1.0"):
        pipeline_from_dict({"name": "x", "data": {"held_out_fraction": 1.0}})


_KILLED_PREPARE = """
import os, signal, sys
sys.path.insert(0, {repo!r})
from albert_keras.pretraining_data.runners import local_runner
from albert_keras.pretraining_data.prepare import prepare
from tests.helpers.pipeline_records import tiny_pipeline

def write_manifest(directory, manifest):  # Shards and tokenizer written, then killed.
    os.kill(os.getpid(), signal.SIGKILL)

local_runner.write_manifest = write_manifest
prepare(tiny_pipeline({output!r}, {corpus!r}, max_documents=25, vocabulary_size=250),
        progress=False)
"""


@pytest.mark.large
def test_a_killed_re_prepare_leaves_the_previous_records_whole(tmp_path, corpus_file):
    import signal
    import subprocess
    import sys

    prepare(tiny_pipeline(tmp_path, corpus_file, max_documents=25), progress=False)
    directory = tmp_path / "tiny"
    before = {str(p.relative_to(directory)): p.read_bytes()
              for p in directory.rglob("*") if p.is_file()}
    script = _KILLED_PREPARE.format(repo=os.path.abspath(REPO), output=str(tmp_path),
                                    corpus=corpus_file)
    killed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=300)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    after = {str(p.relative_to(directory)): p.read_bytes()
             for p in directory.rglob("*") if p.is_file()}
    assert after == before  # Old shards, manifest and tokenizer: untouched and together.
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".partial-tiny.")]
    summary = prepare(tiny_pipeline(tmp_path, corpus_file, max_documents=25,
                                    vocabulary_size=250), progress=False)
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".partial-")]
    manifest = json.load(open(directory / "manifest.json"))
    assert manifest["vocabulary_size"] == 250 and manifest["sequences"] == summary["sequences"]


def test_a_corpus_written_as_one_huge_line_gives_many_sequences(tmp_path, stdlib_documents):
    """A corpus of about 300,000 characters on one line: a tokenizer and many pairs, not one truncated row."""
    text = " ".join(s for d in stdlib_documents for s in d)
    assert len(text) > 250_000
    (tmp_path / "one-line.txt").write_text(text, encoding="utf-8")
    summary = prepare(tiny_pipeline(tmp_path / "out", str(tmp_path / "one-line.txt"), dupe_factor=1),
                      progress=False)
    assert summary["documents"] == 1 and summary["long_lines_split"] == 1
    assert summary["sentences"] > 1000
    assert summary["sequences"] > summary["sentences"] / 2  # Not one truncated row.


# Digests of the static masks that `prepare` made before `static_masks` was its one
# implementation (`prepare._static_masks`), on the rows of `_static_rows`, seed 11.
STATIC_DIGESTS = {"token": "7e25e1429fdee0c8", "whole_word": "62d1db2fc0931ba0",
                  "ngram": "2e32d7a05cccf168"}


def _static_rows(vocabulary_size=60):
    """300 padded rows of 16 from 700 documents (sorted), and a random word table."""
    rng = np.random.default_rng(3)
    token_ids = rng.integers(5, vocabulary_size, (300, 16))
    padding_mask = (np.arange(16)[None] < rng.integers(3, 17, (300, 1))).astype(np.int32)
    token_ids[:, 0] = 2
    token_ids = (token_ids * padding_mask).astype(np.int32)
    document_index = np.sort(rng.integers(0, 700, 300)).astype(np.int32)
    table = rng.random(vocabulary_size) < 0.4
    table[:5] = False
    return token_ids, padding_mask, document_index, table


@pytest.mark.parametrize("mode", ["token", "whole_word", "ngram"])
def test_static_masks_in_a_data_map_equal_the_eager_chunks_and_the_earlier_masks(mode):
    import hashlib

    from albert_keras.pretraining_data.masking.masking_config import MaskingConfig
    from albert_keras.pretraining_data.masking.static_masks import (MASK_FEATURE_NAMES, mask_batch,
                                                                    mask_chunk, static_masks)

    token_ids, padding_mask, document_index, table = _static_rows()
    special = {"pad": 0, "unk": 1, "cls": 2, "sep": 3, "mask": 4}
    masking = MaskingConfig(mode=mode, max_predictions=4).with_vocabulary(60, special, table)
    mapped = static_masks(token_ids, padding_mask, document_index, seed=11, masking=masking)
    chunks = mask_chunk(document_index)
    assert len(set(chunks)) == 3
    for chunk in set(chunks):  # Each chunk as the Beam runner masks it, eagerly.
        rows = chunks == chunk
        eager = mask_batch(token_ids[rows], padding_mask[rows], chunk, seed=11, masking=masking)
        for name in MASK_FEATURE_NAMES:
            assert mapped[name].dtype == eager[name].dtype
            np.testing.assert_array_equal(mapped[name][rows], eager[name])
    assert mapped["mask_weights"].sum() > len(token_ids) / 2  # Masks were drawn.
    digest = hashlib.sha256()
    for name in MASK_FEATURE_NAMES:
        for part in (name.encode(), str(mapped[name].dtype).encode(), mapped[name].tobytes()):
            digest.update(part)
    assert digest.hexdigest()[:16] == STATIC_DIGESTS[mode]


