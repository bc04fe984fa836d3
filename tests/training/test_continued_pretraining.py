"""`pretrain` with `model.pretrained` continues the checkpoint: its heads, its tokenizer.

A tiny random `BertForPreTraining` (transformers, test-only) with a WordPiece vocabulary trained
on the built-in corpus stands in for a published model.
"""

from __future__ import annotations

import json
import os

import keras
import numpy as np
import pytest

from albert_keras.pipeline import pipeline_from_dict

SEQUENCE_LENGTH = 32


@pytest.fixture(scope="module")
def bert_checkpoint(tmp_path_factory):
    """(directory, transformers model) of a random `BertForPreTraining` with a real vocab.txt."""
    transformers = pytest.importorskip("transformers")
    torch = pytest.importorskip("torch")
    from albert_keras.pretraining_data.corpus import read_documents
    from albert_keras.tokenizers.tokenizer_training import train_tokenizer

    sentences = [s for d in read_documents("stdlib", max_documents=40) for s in d]
    vocabulary = train_tokenizer(sentences, "wordpiece", 150).get_vocabulary()
    config = transformers.BertConfig(
        vocab_size=len(vocabulary), hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=32, max_position_embeddings=SEQUENCE_LENGTH, hidden_act="gelu",
        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    torch.manual_seed(3)
    model = transformers.BertForPreTraining(config)
    with torch.no_grad():  # An output bias far from a fresh head's zeros.
        model.cls.predictions.bias.copy_(torch.linspace(2.0, -2.0, len(vocabulary)))
    model.eval()
    directory = tmp_path_factory.mktemp("bert") / "checkpoint"
    model.save_pretrained(str(directory))
    (directory / "vocab.txt").write_text("".join(t + "\n" for t in vocabulary), encoding="utf-8")
    (directory / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": True}))
    # The fast tokenizer's file, as published models have it: not our tokenizer.json.
    (directory / "tokenizer.json").write_text(json.dumps({"version": "1.0", "model": {
        "type": "WordPiece", "vocab": {token: i for i, token in enumerate(vocabulary)}}}))
    return str(directory), model


def _config(tmp_path, pretrained, **data):
    return pipeline_from_dict({
        "name": "adapt", "model": {"pretrained": pretrained},
        "data": {"corpus": "stdlib", "max_documents": 12, "max_sequence_length": SEQUENCE_LENGTH,
                 "max_predictions": 5, "num_shards": 1, "num_workers": 1, "pair_task": "nsp",
                 "masking": "token", "output_dir": str(tmp_path / "records"), **data},
        "train": {"global_batch_size": 8, "steps": 2, "steps_per_epoch": 2, "warmup_steps": 1,
                  "learning_rate": 1e-4, "eval_batches": 1, "precision": "float32",
                  "verbose": 0, "output_dir": str(tmp_path / "runs")}})


def _transformers_scores(model, batch) -> tuple[float, float]:
    """transformers' masked-LM and NSP losses on one of our batches."""
    import torch

    x, y, weights = (keras.tree.map_structure(np.asarray, part) for part in batch)
    with torch.no_grad():
        out = model(input_ids=torch.tensor(x["token_ids"], dtype=torch.long),
                    token_type_ids=torch.tensor(x["segment_ids"], dtype=torch.long),
                    attention_mask=torch.tensor(x["padding_mask"], dtype=torch.long))
    logits = out.prediction_logits.numpy()  # (batch, seq, vocab)
    logits = np.take_along_axis(logits, x["mask_positions"][..., None], axis=1)
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    targets = np.take_along_axis(log_probs, y["mlm"][..., None], axis=-1)[..., 0]
    mlm = -(targets * weights["mlm"]).sum() / weights["mlm"].sum()
    pair = out.seq_relationship_logits.numpy()
    pair_log_probs = pair - np.log(np.exp(pair).sum(-1, keepdims=True))
    nsp = -np.take_along_axis(pair_log_probs, y["pair"][:, None], axis=1).mean()
    return float(mlm), float(nsp)


@pytest.mark.large
def test_pretrain_starts_from_the_checkpoints_own_mlm_loss(tmp_path, bert_checkpoint, capsys):
    from albert_keras.pipeline import prepare_and_pretrain
    from albert_keras.pretraining_data.reader.pretraining_dataset import (
        pretraining_dataset_from_config)
    from albert_keras.tokenizers.tokenizer_files import load_tokenizer

    directory, model = bert_checkpoint
    config = _config(tmp_path, directory)
    assert config.data.tokenizer_path == directory  # Records use the checkpoint's tokenizer.
    summary = prepare_and_pretrain(config)
    printed = capsys.readouterr().out
    assert "masked-LM head: loaded from the checkpoint" in printed
    assert "pair head: loaded from the checkpoint" in printed

    records = str(tmp_path / "records" / "adapt")
    tokenizer = load_tokenizer(os.path.join(records, "tokenizer"))
    assert tokenizer.get_vocabulary() == load_tokenizer(directory).get_vocabulary()
    batch = next(iter(pretraining_dataset_from_config(
        config, os.path.join(records, "*.tfrecord"), tokenizer, 8, verify=False)))
    mlm, nsp = _transformers_scores(model, batch)
    assert summary["initial"]["mlm_loss"] == pytest.approx(mlm, rel=1e-4)
    assert summary["initial"]["pair_loss"] == pytest.approx(nsp, rel=1e-4)
    # Fresh heads over the same encoder score otherwise: the heads were not re-initialised.
    from albert_keras.convert import load_encoder
    from albert_keras.models.pretrainer import Pretrainer
    from albert_keras.training.masked_lm_loss import MaskedLMLoss

    keras.utils.set_random_seed(1)
    fresh = Pretrainer(load_encoder(directory), pair_task="nsp")(batch[0])["mlm"]
    fresh_loss = float(MaskedLMLoss()(batch[1]["mlm"], fresh, batch[2]["mlm"]))
    assert abs(fresh_loss - mlm) > 0.5


def test_heads_are_loaded_where_the_checkpoint_has_them(tmp_path, bert_checkpoint):
    import transformers

    from albert_keras.tokenizers.tokenizer_files import load_tokenizer
    from albert_keras.training.continued_pretraining import continued_pretrainer

    directory, model = bert_checkpoint
    tokenizer = load_tokenizer(directory)
    pretrainer, notes = continued_pretrainer(directory, tokenizer, "nsp")
    assert notes == ["masked-LM head: loaded from the checkpoint",
                     "pair head: loaded from the checkpoint"]
    np.testing.assert_allclose(pretrainer.pair_head.kernel.numpy(),
                               model.cls.seq_relationship.weight.detach().numpy().T, atol=1e-6)
    # Records of the other pair task: that head starts fresh, and the output says why.
    _, notes = continued_pretrainer(directory, tokenizer, "sop")
    assert notes[1] == ("pair head: initialized fresh (the checkpoint's is for NSP, the "
                        "records are SOP)")
    # A masked-LM model without NSP head, and a bare encoder.
    for cls, expected in ((transformers.BertForMaskedLM, ("loaded", "initialized fresh")),
                          (transformers.BertModel, ("initialized fresh", "initialized fresh"))):
        partial = tmp_path / cls.__name__
        cls(model.config).save_pretrained(str(partial))
        for name in ("vocab.txt", "tokenizer_config.json"):
            (partial / name).write_bytes(open(os.path.join(directory, name), "rb").read())
        _, notes = continued_pretrainer(str(partial), tokenizer, "nsp")
        assert notes[0] == "pooler: initialized fresh (the checkpoint has none)" or (
            cls is transformers.BertModel)
        heads = [note.split(": ")[1].split(" (")[0].replace(" from the checkpoint", "")
                 for note in notes if not note.startswith("pooler")]
        assert heads == list(expected), cls.__name__


def test_a_keras_pretrainer_brings_its_heads(tmp_path, bert_checkpoint):
    from albert_keras.tokenizers.tokenizer_files import load_tokenizer, save_tokenizer
    from albert_keras.training.continued_pretraining import continued_pretrainer

    directory, _ = bert_checkpoint
    tokenizer = load_tokenizer(directory)
    source, _ = continued_pretrainer(directory, tokenizer, "nsp")
    source.save(str(tmp_path / "pretrainer.keras"))
    source.encoder.save(str(tmp_path / "encoder.keras"))
    save_tokenizer(tokenizer, str(tmp_path / "tokenizer"))
    loaded, notes = continued_pretrainer(str(tmp_path / "pretrainer.keras"), tokenizer, "nsp",
                                         dtype="mixed_bfloat16")
    assert all("loaded" in note for note in notes)
    assert loaded.encoder.token_embedding.dtype_policy.name == "mixed_bfloat16"
    for ours, theirs in zip(loaded.weights, source.weights):
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    _, notes = continued_pretrainer(str(tmp_path / "encoder.keras"), tokenizer, "nsp")
    assert all("initialized fresh" in note for note in notes)


def test_a_tokenizer_other_than_the_checkpoints_is_an_error_naming_both(tmp_path,
                                                                        bert_checkpoint):
    from albert_keras.tokenizers.tokenizer_files import load_tokenizer, save_tokenizer
    from albert_keras.tokenizers.tokenizer_training import train_tokenizer
    from albert_keras.training.continued_pretraining import continued_pretrainer

    directory, _ = bert_checkpoint
    own = load_tokenizer(directory)
    other_dir = str(tmp_path / "other")
    save_tokenizer(train_tokenizer(["some other text entirely"] * 20, "wordpiece", 60,
                                   strip_accents=True), other_dir)
    with pytest.raises(ValueError, match=rf"tokenizer \({other_dir}\) is not the one of "
                                         rf"model.pretrained='{directory}'.*vocabulary_size"):
        continued_pretrainer(directory, load_tokenizer(other_dir), "nsp", tokenizer_dir=other_dir)
    # The same vocabulary with another casing is another tokenizer too.
    cased = str(tmp_path / "cased")
    save_tokenizer(own, cased)
    settings_path = os.path.join(cased, "tokenizer.json")
    settings = json.load(open(settings_path))
    json.dump({**settings, "lowercase": False}, open(settings_path, "w"))
    with pytest.raises(ValueError, match="lowercase True vs False|lowercase False vs True"):
        continued_pretrainer(directory, load_tokenizer(cased), "nsp", tokenizer_dir=cased)


def test_records_default_to_the_checkpoints_tokenizer(tmp_path, bert_checkpoint):
    directory, _ = bert_checkpoint
    assert _config(tmp_path, directory).data.tokenizer_path == directory
    assert _config(tmp_path, directory, tokenizer_path="mine").data.tokenizer_path == "mine"
    assert _config(tmp_path, None).data.tokenizer_path is None


@pytest.mark.large
def test_adapt_yaml_two_commands(tmp_path, bert_checkpoint, monkeypatch):
    """README's "Adapt a published model": pretrain on the task text, then fine-tune."""
    import csv

    from albert_keras.cli import main

    directory, _ = bert_checkpoint
    rng = np.random.default_rng(5)
    words = "open the file and read every line of text then close it again".split()
    train = tmp_path / "train.csv"
    with open(train, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([["text", "label"]] + [
            [" ".join(rng.choice(words, rng.integers(3, 12))), str(rng.integers(2))]
            for _ in range(80)])
    monkeypatch.chdir(tmp_path)
    config = os.path.join(os.path.dirname(__file__), "..", "..", "pipelines", "adapt.yaml")
    tiny = ["--set", f"finetune.train={train}", "--set", "data.max_sequence_length=32",
            "--set", "data.length_buckets=[16]", "--set", "finetune.max_sequence_length=32"]
    assert main(["pretrain", "--config", config, "--set", f"model.pretrained={directory}",
                 "--set", "train.steps=2", "--set", "train.steps_per_epoch=2",
                 "--set", "train.warmup_steps=1",
                 "--set", "train.global_batch_size=8", "--set", "train.eval_batches=1",
                 "--set", "train.verbose=0", *tiny]) == 0
    summary = json.loads((tmp_path / "runs" / "adapt" / "summary.json").read_text())
    assert summary["status"] == "completed"
    assert (tmp_path / "tf_records" / "adapt.finetune-train.txt").read_text().count("\n\n") > 50
    assert main(["finetune", "--config", config, "--set",
                 "model.pretrained=runs/adapt/encoder.keras", "--set", "finetune.epochs=1",
                 *tiny]) == 0
    report = json.loads((tmp_path / "runs" / "finetuned" / "adapt" / "report.json").read_text())
    assert report["task"] == "text_classification"


@pytest.mark.large
def test_compare_arms_from_a_checkpoint(tmp_path, bert_checkpoint):
    """"The published model vs the same model adapted here" as one comparison."""
    from albert_keras.cli import main

    directory, _ = bert_checkpoint
    config = os.path.join(os.path.dirname(__file__), "..", "..", "pipelines", "compare.yaml")
    overrides = {
        "name": "adapted_vs_published",
        "compare.arms": f"[{{name: published, pretrained: '{directory}', pretrain: false}}, "
                        f"{{name: adapted, pretrained: '{directory}'}}]",
        "data.max_documents": 40, "data.max_sequence_length": SEQUENCE_LENGTH,
        "data.length_buckets": "[]", "data.dupe_factor": 1, "data.held_out_fraction": 0.2,
        "data.max_predictions": 5, "data.num_workers": 1, "data.pair_task": "nsp",
        "data.output_dir": str(tmp_path / "records"),
        "compare.output_dir": str(tmp_path / "runs"), "compare.eval_every": 5,
        "compare.eval_batches": 2, "compare.downstream_examples_per_label": 20,
        "compare.downstream_seeds": "[0]", "finetune.learning_rates": "[]",
        "compare.latency_iterations": 2,
        "train.steps": 10, "train.steps_per_epoch": 5, "train.warmup_steps": 2,
        "train.global_batch_size": 8, "train.learning_rate": 1e-3, "finetune.epochs": 1,
        "finetune.max_sequence_length": SEQUENCE_LENGTH}
    args = ["compare", "--config", config]
    for key, value in overrides.items():
        args += ["--set", f"{key}={value}"]
    assert main(args) == 0
    report = json.loads((tmp_path / "runs" / "adapted_vs_published" / "report.json").read_text())
    published, adapted = report["arms"]
    assert [published["name"], adapted["name"]] == ["published", "adapted"]
    assert published["encoder_config"]["vocabulary_size"] == 149 == report["shared"][
        "vocabulary_size"]
    assert [point["step"] for point in published["curve"]] == [0]
    assert [point["step"] for point in adapted["curve"]] == [0, 5, 10]
    # Both start from the checkpoint itself: the same held-out scores before any step.
    assert published["curve"][0]["mlm_loss"] == pytest.approx(adapted["curve"][0]["mlm_loss"])
    for arm in (published, adapted):
        assert set(arm["downstream"]) >= {"pretrained", "random_init", "gain"}
