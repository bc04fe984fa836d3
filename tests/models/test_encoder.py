import keras
import keras_hub
import numpy as np
import pytest
import tensorflow as tf

from albert_keras import Encoder, EncoderConfig
from tests.helpers import (assert_config_round_trip, assert_keras_file_round_trip,
                           assert_outputs_close, assert_saved_model_round_trip, tiny_inputs)

TINY = dict(vocabulary_size=50, num_layers=4, num_heads=2, hidden_dim=16, intermediate_dim=32,
            max_sequence_length=16, dropout=0.0)


def _albert(**kwargs):
    return Encoder(**{**TINY, "embedding_dim": 8, "share": "all", **kwargs})


def test_outputs_are_the_documented_dict():
    outputs = _albert()(tiny_inputs())
    assert set(outputs) == {"sequence_output", "pooled_output"}
    assert tuple(outputs["sequence_output"].shape) == (2, 8, 16)
    assert tuple(outputs["pooled_output"].shape) == (2, 16)
    assert [i.name for i in _albert().inputs] == ["padding_mask", "segment_ids", "token_ids"]


@pytest.mark.large
@pytest.mark.parametrize("name,expected", [
    ("albert_base", 11_683_584), ("albert_large", 17_683_968), ("albert_xlarge", 58_724_864),
    ("albert_xxlarge", 222_595_584), ("bert_base", 109_482_240), ("bert_large", 335_141_888)])
def test_built_presets_have_published_parameter_counts(name, expected):
    assert Encoder.from_preset(name).count_params() == expected


def test_all_shared_blocks_are_the_same_variables():
    encoder = _albert(num_layers=6, num_groups=2)
    assert len(encoder.blocks) == 2
    # Layers 0-2 run group 0 and layers 3-5 group 1, as in the original ALBERT code.
    assert len({id(v) for v in encoder.weights}) == len(encoder.weights)
    block_variables = [w for w in encoder.weights if w.path.startswith("transformer_layer_")]
    assert len(block_variables) == 2 * 16
    graph_blocks = [layer for layer in encoder.layers if layer.name.startswith("transformer_layer")]
    assert graph_blocks == encoder.blocks


@pytest.mark.parametrize("share,sublayer", [("attention", "self_attention"), ("ffn", "feedforward")])
def test_partial_sharing_shares_only_that_sublayer(share, sublayer):
    encoder = Encoder(**{**TINY, "share": share})
    blocks = encoder.blocks
    assert len(blocks) == 4
    shared = {id(getattr(block, sublayer)) for block in blocks}
    other = "feedforward" if sublayer == "self_attention" else "self_attention"
    assert len(shared) == 1
    assert len({id(getattr(block, other)) for block in blocks}) == 4
    assert encoder.count_params() == EncoderConfig(**{**TINY, "share": share}).num_parameters()


def test_padding_does_not_change_unpadded_outputs():
    encoder = _albert()
    inputs = tiny_inputs(num_padded=3)
    changed = {k: v.copy() for k, v in inputs.items()}
    changed["token_ids"][0, -3:] = [7, 8, 9]
    changed["segment_ids"][0, -3:] = 1
    a, b = encoder(inputs), encoder(changed)
    np.testing.assert_allclose(a["sequence_output"][0, :5], b["sequence_output"][0, :5], atol=1e-6)
    np.testing.assert_allclose(a["pooled_output"], b["pooled_output"], atol=1e-6)
    np.testing.assert_allclose(a["sequence_output"][1], b["sequence_output"][1], atol=1e-6)


def test_config_round_trip_and_from_preset_overrides():
    encoder = Encoder.from_preset("albert_base", vocabulary_size=60, num_layers=2, hidden_dim=24,
                                  num_heads=2, intermediate_dim=48, embedding_dim=8)
    assert encoder.encoder_config == EncoderConfig.preset(
        "albert_base", vocabulary_size=60, num_layers=2, hidden_dim=24, num_heads=2,
        intermediate_dim=48, embedding_dim=8)
    clone = assert_config_round_trip(encoder)
    assert clone.count_params() == encoder.count_params()
    with pytest.raises(ValueError, match="hidden_size"):
        Encoder.from_preset("bert_base", hidden_size=8)


@pytest.mark.parametrize("share", ["none", "all", "attention", "ffn"])
def test_keras_file_round_trip(share, tmp_path):
    kwargs = {"embedding_dim": 8, "num_groups": 2} if share == "all" else {}
    encoder = Encoder(**{**TINY, "share": share, **kwargs})
    restored = assert_keras_file_round_trip(encoder, tiny_inputs(), tmp_path)
    assert restored.encoder_config == encoder.encoder_config
    assert restored.count_params() == encoder.count_params()


def test_saved_model_round_trip(tmp_path):
    assert_saved_model_round_trip(_albert(), tiny_inputs(), tmp_path, atol=1e-5)


def test_jit_compile_matches_eager():
    encoder = _albert(dropout=0.1)
    inputs = {k: tf.constant(v) for k, v in tiny_inputs().items()}
    compiled = tf.function(lambda x: encoder(x, training=False), jit_compile=True)
    assert_outputs_close(compiled(inputs), encoder(inputs), atol=1e-5)


def test_mixed_bfloat16_policy_passed_in():
    encoder = _albert(dtype="mixed_bfloat16")
    assert keras.config.dtype_policy().name == "float32"  # nothing global changed
    assert encoder.blocks[0].compute_dtype == "bfloat16"
    assert all(w.dtype == "float32" for w in encoder.weights)
    outputs = encoder(tiny_inputs())
    assert outputs["sequence_output"].dtype == "bfloat16"
    reference = _albert()
    reference.set_weights(encoder.get_weights())
    np.testing.assert_allclose(np.asarray(tf.cast(outputs["pooled_output"], "float32")),
                               reference(tiny_inputs())["pooled_output"], atol=0.1)


def test_mixed_policy_survives_keras_file_round_trip(tmp_path):
    encoder = _albert(dtype="mixed_bfloat16")
    assert encoder.get_config()["dtype"]["config"]["name"] == "mixed_bfloat16"
    path = str(tmp_path / "encoder.keras")
    encoder.save(path)
    restored = keras.saving.load_model(path)
    assert restored.blocks[0].compute_dtype == "bfloat16"
    assert restored(tiny_inputs())["sequence_output"].dtype == "bfloat16"


def test_dropout_is_active_only_in_training():
    encoder = _albert(dropout=0.5)
    inputs = tiny_inputs()
    assert_outputs_close(encoder(inputs, training=False), encoder(inputs, training=False))
    assert not np.allclose(encoder(inputs, training=True)["pooled_output"],
                           encoder(inputs, training=False)["pooled_output"])


# --- Same weights as keras-hub's backbones give the same outputs. -----------------------------

_HUB_TO_OURS = {
    "self_attention_layer/": "self_attention/",
    "self_attention_layer_norm/": "attention_layer_norm/",
    "feedforward_layer_norm/": "output_layer_norm/",
    "feedforward_intermediate_dense/": "feedforward/intermediate_dense/",
    "feedforward_output_dense/": "feedforward/output_dense/",
    "embedding_projection/": "embeddings_projection/",
    "pooled_dense/": "pooler_dense/",
}


def _copy_hub_weights(hub, ours):
    """Copies keras-hub weights into ours by path; every weight on both sides is used once."""
    targets = {w.path: w for w in ours.weights}
    used = set()
    for weight in hub.weights:
        path = weight.path
        for group in range(8):  # ALBERT groups are group_g_inner_layer_0 in keras-hub.
            path = path.replace(f"group_{group}_inner_layer_0/", f"transformer_layer_{group}/")
        for old, new in _HUB_TO_OURS.items():
            path = path.replace(old, new)
        targets[path].assign(weight)
        used.add(path)
    assert used == set(targets)


def _random_weights(model, seed):
    rng = np.random.default_rng(seed)
    for weight in model.weights:
        weight.assign(rng.normal(scale=0.2, size=weight.shape).astype("float32"))


def _hub_inputs(inputs):
    return {"token_ids": inputs["token_ids"], "segment_ids": inputs["segment_ids"],
            "padding_mask": inputs["padding_mask"]}


def test_equals_keras_hub_albert_backbone():
    hub = keras_hub.models.AlbertBackbone(
        vocabulary_size=50, num_layers=4, num_heads=2, embedding_dim=8, hidden_dim=16,
        intermediate_dim=32, num_groups=2, dropout=0.0, max_sequence_length=16)
    ours = _albert(num_groups=2)
    _random_weights(hub, seed=1)
    _copy_hub_weights(hub, ours)
    inputs = tiny_inputs(batch_size=3, sequence_length=12, num_padded=4)
    expected = hub(_hub_inputs(inputs))
    actual = ours(inputs)
    mask = inputs["padding_mask"].astype(bool)
    np.testing.assert_allclose(np.asarray(actual["sequence_output"])[mask],
                               np.asarray(expected["sequence_output"])[mask], atol=1e-5)
    np.testing.assert_allclose(actual["pooled_output"], expected["pooled_output"], atol=1e-5)


def test_equals_keras_hub_bert_backbone():
    # keras-hub's BertBackbone uses the tanh GELU; the original BERT code (our bert_* presets)
    # uses the exact erf one, so match keras-hub here and check the difference is visible.
    hub = keras_hub.models.BertBackbone(
        vocabulary_size=50, num_layers=2, num_heads=2, hidden_dim=16, intermediate_dim=32,
        dropout=0.0, max_sequence_length=16)
    ours = Encoder(**{**TINY, "num_layers": 2, "activation": "gelu_approximate"})
    _random_weights(hub, seed=2)
    _copy_hub_weights(hub, ours)
    inputs = tiny_inputs(batch_size=3, sequence_length=12, num_padded=4)
    expected = hub(_hub_inputs(inputs))
    actual = ours(inputs)
    mask = inputs["padding_mask"].astype(bool)
    np.testing.assert_allclose(np.asarray(actual["sequence_output"])[mask],
                               np.asarray(expected["sequence_output"])[mask], atol=1e-5)
    np.testing.assert_allclose(actual["pooled_output"], expected["pooled_output"], atol=1e-5)
    exact = Encoder(**{**TINY, "num_layers": 2, "activation": "gelu"})
    exact.set_weights(ours.get_weights())
    assert not np.allclose(exact(inputs)["pooled_output"], expected["pooled_output"], atol=1e-5)
