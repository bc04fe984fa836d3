"""Hugging Face directories: our outputs equal transformers' on the same weights (1e-5)."""

import json
import os
import shutil

import numpy as np
import pytest

from albert_keras import Encoder
from albert_keras.convert import convert, load_encoder, load_pretrainer
from albert_keras.models.pretrainer import Pretrainer
from tests.helpers.convert_models import assert_close, randomize, torch_inputs
from tests.helpers import tiny_inputs

ATOL = 1e-5


def _reference(hf_model, backbone_name, inputs):
    """transformers' sequence, pooled, MLM and pair outputs for `inputs`."""
    import torch

    with torch.no_grad():
        backbone = getattr(hf_model, backbone_name)(**torch_inputs(inputs))
        heads = hf_model(**torch_inputs(inputs))
    pair = heads.sop_logits if backbone_name == "albert" else heads.seq_relationship_logits
    return {"sequence_output": backbone.last_hidden_state.numpy(),
            "pooled_output": backbone.pooler_output.numpy(),
            "mlm": heads.prediction_logits.numpy(), "pair": pair.numpy()}


def _all_positions(inputs):
    batch, length = inputs["token_ids"].shape
    return {**inputs, "mask_positions": np.tile(np.arange(length, dtype="int32"), (batch, 1))}


@pytest.mark.parametrize("fixture,backbone_name,pair_task", [
    ("hf_albert", "albert", "sop"), ("hf_bert", "bert", "nsp")])
def test_pretrainer_equals_transformers(fixture, backbone_name, pair_task, request):
    directory, hf_model = request.getfixturevalue(fixture)
    inputs = tiny_inputs(batch_size=2, sequence_length=10, num_padded=3, seed=4)
    expected = _reference(hf_model, backbone_name, inputs)

    pretrainer = load_pretrainer(directory)
    assert isinstance(pretrainer, Pretrainer) and pretrainer.pair_task == pair_task
    outputs = pretrainer(_all_positions(inputs))
    encoded = pretrainer.encoder(inputs)
    for name in ("sequence_output", "pooled_output"):
        assert_close(encoded[name], expected[name], ATOL, name)
    # Logits up to ~4 after a vocabulary-wide matmul: float32 rounding is relative there.
    assert_close(outputs["mlm"], expected["mlm"], ATOL, "mlm", rtol=1e-5)
    assert_close(outputs["pair"], expected["pair"], ATOL, "pair")
    # Padding included: the padded positions of row 0 are compared too, and they matter.
    assert np.abs(expected["sequence_output"][0, -3:]).max() > 0.1


def test_albert_config_comes_from_the_checkpoint(hf_albert):
    encoder = load_encoder(hf_albert[0])
    config = encoder.encoder_config
    assert (config.share, config.num_groups, config.num_layers) == ("all", 2, 4)
    assert config.activation == "gelu_approximate"
    assert (config.embedding_dim, config.hidden_dim) == (8, 16)
    assert len(encoder.blocks) == 2


def test_bert_encoder_without_prefix_equals_transformers(hf_bert, tmp_path):
    """A bare `BertModel` (no `bert.` prefix, as most hub models) loads as an encoder."""
    import torch

    _, hf_model = hf_bert
    hf_model.bert.save_pretrained(str(tmp_path))
    encoder = load_encoder(str(tmp_path))
    assert encoder.encoder_config.activation == "gelu"
    inputs = tiny_inputs(sequence_length=8, seed=5)
    with torch.no_grad():
        expected = hf_model.bert(**torch_inputs(inputs))
    outputs = encoder(inputs)
    assert_close(outputs["sequence_output"], expected.last_hidden_state, ATOL)
    assert_close(outputs["pooled_output"], expected.pooler_output, ATOL)


def test_missing_pooler_is_an_error_unless_allowed(tmp_path):
    transformers = pytest.importorskip("transformers")
    config = transformers.BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1,
                                     num_attention_heads=2, intermediate_size=32,
                                     max_position_embeddings=16)
    model = transformers.BertModel(config, add_pooling_layer=False)
    randomize(model, seed=3)
    model.save_pretrained(str(tmp_path))
    with pytest.raises(ValueError, match=r"pooler\.dense\.weight.*pooler_dense/kernel"):
        load_encoder(str(tmp_path))
    encoder = load_encoder(str(tmp_path), allow_missing=("pooler_dense",))
    assert_close(encoder.token_embedding.embeddings.numpy(),
                 model.embeddings.word_embeddings.weight.detach().numpy(), 0)


def test_encoder_only_checkpoint_has_no_heads_for_a_pretrainer(hf_bert, tmp_path):
    hf_bert[1].bert.save_pretrained(str(tmp_path))
    with pytest.raises(ValueError, match="holds an encoder only, no pretraining heads"):
        load_pretrainer(str(tmp_path))


def test_checkpoint_without_pair_head_is_an_error_unless_allowed(hf_bert, tmp_path):
    """A `BertForMaskedLM`: masked-LM head, no NSP head, no pooler."""
    transformers = pytest.importorskip("transformers")
    model = transformers.BertForMaskedLM(hf_bert[1].config)
    randomize(model, seed=8)
    model.save_pretrained(str(tmp_path))
    with pytest.raises(ValueError, match=r"'cls\.seq_relationship\.weight' for model weight "
                                         r"'pair_head/kernel'"):
        load_pretrainer(str(tmp_path))
    pretrainer = load_pretrainer(str(tmp_path), allow_missing=("pair_head", "pooler_dense"))
    np.testing.assert_array_equal(pretrainer.mlm_head.bias.numpy(),
                                  model.cls.predictions.bias.detach().numpy())


def test_convert_writes_a_keras_file_that_reloads(hf_bert, tmp_path):
    import keras

    destination = convert(hf_bert[0], str(tmp_path / "bert.keras"), task="pretrainer")
    reloaded = keras.saving.load_model(destination, compile=False)
    original = load_pretrainer(hf_bert[0])
    inputs = _all_positions(tiny_inputs())
    for name in ("mlm", "pair"):
        assert_close(reloaded(inputs)[name], original(inputs)[name], 1e-6, name)
    with pytest.raises(FileExistsError, match="bert.keras"):
        convert(hf_bert[0], destination)


# === Wrong inputs ===

def _copy(directory, tmp_path):
    target = tmp_path / "copy"
    shutil.copytree(directory, target)
    return target


def test_config_weights_mismatch_names_the_tensor(hf_bert, tmp_path):
    target = _copy(hf_bert[0], tmp_path)
    config = json.loads((target / "config.json").read_text())
    config["intermediate_size"] = 48
    (target / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match=r"Config/weights mismatch.*intermediate\.dense\.weight"
                                         r".*\(16, 32\).*expects \(16, 48\)"):
        load_encoder(str(target))


def test_missing_tensor_is_named(hf_albert, tmp_path):
    from safetensors.numpy import load_file, save_file

    target = _copy(hf_albert[0], tmp_path)
    tensors = load_file(str(target / "model.safetensors"))
    del tensors["albert.encoder.albert_layer_groups.1.albert_layers.0.ffn.bias"]
    save_file(tensors, str(target / "model.safetensors"))
    with pytest.raises(ValueError, match=r"Missing tensor.*albert_layer_groups\.1\.albert_layers"
                                         r"\.0\.ffn\.bias.*transformer_layer_1/feedforward"):
        load_encoder(str(target))


def test_unused_tensor_is_named(hf_albert, tmp_path):
    """A third group in the weights but two in config.json: the extra tensors are errors."""
    from safetensors.numpy import load_file, save_file

    target = _copy(hf_albert[0], tmp_path)
    tensors = load_file(str(target / "model.safetensors"))
    extra = "albert.encoder.albert_layer_groups.2.albert_layers.0.ffn.bias"
    tensors[extra] = np.zeros(32, "float32")
    save_file(tensors, str(target / "model.safetensors"))
    with pytest.raises(ValueError, match=r"1 checkpoint tensor.*albert_layer_groups\.2"):
        load_encoder(str(target))


def test_unsupported_model_type_is_named(hf_bert, tmp_path):
    target = _copy(hf_bert[0], tmp_path)
    config = json.loads((target / "config.json").read_text())
    config["model_type"] = "roberta"
    (target / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="model_type='roberta'"):
        load_encoder(str(target))


def test_a_directory_that_is_none_of_the_formats(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ValueError, match=r"none of a Hugging Face directory.*notes\.txt"):
        load_encoder(str(tmp_path))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        Encoder.from_pretrained(str(tmp_path / "absent"))
    assert os.listdir(tmp_path) == ["notes.txt"]


def test_encoder_of_a_fine_tuned_classifier(hf_bert, tmp_path):
    """`BertForSequenceClassification`: the encoder loads, its `classifier.*` is skipped."""
    import torch

    transformers = pytest.importorskip("transformers")
    model = transformers.BertForSequenceClassification(hf_bert[1].config)
    randomize(model, seed=12)
    model.save_pretrained(str(tmp_path))
    encoder = load_encoder(str(tmp_path))
    inputs = tiny_inputs(seed=13)
    with torch.no_grad():
        expected = model.bert(**torch_inputs(inputs))
    assert_close(encoder(inputs)["pooled_output"], expected.pooler_output, ATOL)
    with pytest.raises(ValueError, match=r"'classifier\.bias', 'classifier\.weight'"):
        load_pretrainer(str(tmp_path), allow_missing=("mlm_head", "pair_head"))


def test_a_truncated_safetensors_file_is_named(tmp_path):
    from albert_keras.convert.hugging_face import _safetensors_keys

    path = tmp_path / "model.safetensors"
    path.write_bytes(b"\x40\x00\x00\x00\x00\x00\x00\x00{\"a\": {\"dtype\"")  # Cut in its header.
    with pytest.raises(ValueError, match=r"model.safetensors.*truncated or not a safetensors"):
        _safetensors_keys(str(path))
