"""The checkpoint's tokenizer (lower-casing as the checkpoint says), bfloat16 weights, convert."""

import json
import os
import shutil

import numpy as np
import pytest

from albert_keras.convert import (checkpoint_format, convert, load_encoder,
                                  load_pretrained_tokenizer)
from albert_keras.tokenizers.tokenizer_files import load_tokenizer
from albert_keras.tokenizers.tokenizer_training import train_tokenizer
from tests.helpers.convert_models import TINY_HF, assert_close, randomize, torch_inputs
from tests.helpers import tiny_inputs

VOCABULARY = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "Hello", "world", "##s", "!",
              "cafe", "café"]


def _hf_bert_dir(directory, tokenizer_config=None):
    """A tiny Hugging Face BERT directory with a vocab.txt (weights from transformers)."""
    transformers = pytest.importorskip("transformers")
    config = transformers.BertConfig(**{**TINY_HF, "num_hidden_layers": 1})
    transformers.BertModel(config).save_pretrained(str(directory))
    (directory / "vocab.txt").write_text("\n".join(VOCABULARY) + "\n")
    if tokenizer_config is not None:
        (directory / "tokenizer_config.json").write_text(json.dumps(tokenizer_config))
    return str(directory)


@pytest.mark.parametrize("tokenizer_config,expected", [
    (None, [5, 7, 8, 9, 10]),  # BertTokenizer's default: lower-case and strip accents
    ({"do_lower_case": False}, [6, 7, 8, 9, 11]),  # cased: "Hello", "café" kept
    ({"do_lower_case": True, "strip_accents": False}, [5, 7, 8, 9, 11]),
])
def test_wordpiece_follows_the_checkpoint_lower_casing(tmp_path, tokenizer_config, expected):
    directory = _hf_bert_dir(tmp_path, tokenizer_config)
    tokenizer = load_pretrained_tokenizer(directory)
    assert list(np.asarray(tokenizer("Hello worlds! café"))) == expected


@pytest.mark.parametrize("release,lowercase", [
    ("uncased_L-2_H-16_A-2", True), ("cased_L-2_H-16_A-2", False),
    ("multi_cased_L-2_H-16_A-2", False)])
def test_tf1_release_name_says_cased_or_not(tmp_path, release, lowercase):
    from albert_keras.convert import tf1_checkpoint

    directory = tmp_path / release
    directory.mkdir()
    (directory / "vocab.txt").write_text("\n".join(VOCABULARY) + "\n")
    files = tf1_checkpoint._vocabulary_files(str(directory), is_albert=False)
    assert (files["kind"], files["lowercase"]) == ("wordpiece", lowercase)


def test_sentencepiece_model_loads_with_the_same_pieces(tmp_path, hf_albert):
    directory = tmp_path / "albert"
    shutil.copytree(hf_albert[0], directory)
    sentences = [f"sentence number {i} about cats, dogs and the weather." for i in range(200)]
    trained = train_tokenizer(sentences, kind="sentencepiece", vocabulary_size=40)
    (directory / "spiece.model").write_bytes(trained.proto)
    (directory / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": True}))

    ours = load_pretrained_tokenizer(str(directory))
    assert ours.get_vocabulary() == trained.get_vocabulary()
    text = "cats and dogs about the weather"
    np.testing.assert_array_equal(ours(text), trained(text))


def test_bfloat16_weights_load(tmp_path):
    """Weights saved in bfloat16 (numpy lacks the type) load exactly into float32."""
    transformers = pytest.importorskip("transformers")
    torch = pytest.importorskip("torch")
    model = transformers.BertModel(transformers.BertConfig(**{**TINY_HF, "num_hidden_layers": 1}))
    randomize(model, seed=6)
    model.to(torch.bfloat16).save_pretrained(str(tmp_path))
    encoder = load_encoder(str(tmp_path))
    inputs = tiny_inputs(seed=7)
    with torch.no_grad():
        expected = model.float()(**torch_inputs(inputs)).last_hidden_state
    assert_close(encoder(inputs)["sequence_output"], expected, 1e-5)


def test_convert_writes_the_tokenizer_beside_the_model(tmp_path):
    (tmp_path / "hf").mkdir()
    source = _hf_bert_dir(tmp_path / "hf")
    destination = convert(source, str(tmp_path / "out" / "encoder.keras"))
    assert os.path.isfile(destination)
    tokenizer = load_tokenizer(str(tmp_path / "out" / "tokenizer"))
    assert tokenizer.get_vocabulary() == VOCABULARY
    assert list(np.asarray(tokenizer("Hello café"))) == [5, 10]
    assert checkpoint_format(source) == "hugging_face"
    with pytest.raises(ValueError, match="must be a .keras file"):
        convert(source, str(tmp_path / "out" / "encoder.h5"))
    with pytest.raises(ValueError, match="task='classifier'"):
        convert(source, str(tmp_path / "other.keras"), task="classifier")


@pytest.mark.parametrize("layout", ["pytorch_model.bin", "sharded_safetensors"])
def test_other_weight_layouts_load(tmp_path, layout):
    """Older `pytorch_model.bin` files and sharded safetensors with an index."""
    transformers = pytest.importorskip("transformers")
    torch = pytest.importorskip("torch")
    from safetensors.torch import save_file

    model = transformers.BertModel(transformers.BertConfig(**{**TINY_HF, "num_hidden_layers": 1}))
    randomize(model, seed=9)
    model.config.to_json_file(str(tmp_path / "config.json"))
    state = {name: tensor.contiguous() for name, tensor in model.state_dict().items()}
    if layout == "pytorch_model.bin":
        torch.save(state, str(tmp_path / "pytorch_model.bin"))
    else:
        names = sorted(state)
        shards = {"model-00001-of-00002.safetensors": names[::2],
                  "model-00002-of-00002.safetensors": names[1::2]}
        for shard, shard_names in shards.items():
            save_file({name: state[name] for name in shard_names}, str(tmp_path / shard))
        weight_map = {name: shard for shard, shard_names in shards.items() for name in shard_names}
        (tmp_path / "model.safetensors.index.json").write_text(
            json.dumps({"metadata": {}, "weight_map": weight_map}))
    encoder = load_encoder(str(tmp_path))
    inputs = tiny_inputs(seed=10)
    with torch.no_grad():
        expected = model(**torch_inputs(inputs))
    assert_close(encoder(inputs)["sequence_output"], expected.last_hidden_state, 1e-5)
    assert_close(encoder(inputs)["pooled_output"], expected.pooler_output, 1e-5)
