"""Original google-research TF1 checkpoints, written here with the original variable names."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from albert_keras import Encoder
from albert_keras.convert import load_encoder, load_pretrainer
from albert_keras.models.encoder import INPUT_NAMES
from albert_keras.models.pretrainer import Pretrainer
from tests.helpers.convert_models import assert_close
from tests.helpers import tiny_inputs

TINY = dict(vocabulary_size=50, num_heads=2, hidden_dim=16, intermediate_dim=32,
            max_sequence_length=16, dropout=0.0)
# `"hidden_act": "gelu"` (what `_write_config` writes) is tanh in ALBERT's code, erf in BERT's.
ALBERT = dict(TINY, num_layers=4, embedding_dim=8, share="all", num_groups=2,
              activation="gelu_approximate")
BERT = dict(TINY, num_layers=2, activation="gelu")


def _random_pretrainer(fields, pair_task, seed):
    """A `Pretrainer` with every weight random (LayerNorm scales near 1)."""
    pretrainer = Pretrainer(Encoder(**fields), pair_task=pair_task)
    rng = np.random.default_rng(seed)
    for variable in pretrainer.weights:
        shape = tuple(variable.shape)
        scale = rng.normal(size=shape) * 0.2
        variable.assign((1.0 + scale if variable.path.endswith("gamma") else scale * 2.5)
                        .astype("float32"))
    return pretrainer


def _original_names(pretrainer, albert):
    """Our weights under the names the original modeling.py / run_pretraining.py give them."""
    encoder = pretrainer.encoder
    hidden = encoder.hidden_dim
    layer = encoder.get_layer
    tensors = {
        "bert/embeddings/word_embeddings": encoder.token_embedding.embeddings,
        "bert/embeddings/position_embeddings": layer("position_embedding").position_embeddings,
        "bert/embeddings/token_type_embeddings": layer("segment_embedding").embeddings,
        "bert/embeddings/LayerNorm/gamma": layer("embeddings_layer_norm").gamma,
        "bert/embeddings/LayerNorm/beta": layer("embeddings_layer_norm").beta,
        "bert/pooler/dense/kernel": layer("pooler_dense").kernel,
        "bert/pooler/dense/bias": layer("pooler_dense").bias,
        "cls/predictions/transform/dense/kernel": pretrainer.mlm_head.dense.kernel,
        "cls/predictions/transform/dense/bias": pretrainer.mlm_head.dense.bias,
        "cls/predictions/transform/LayerNorm/gamma": pretrainer.mlm_head.layer_norm.gamma,
        "cls/predictions/transform/LayerNorm/beta": pretrainer.mlm_head.layer_norm.beta,
        "cls/predictions/output_bias": pretrainer.mlm_head.bias,
        "cls/seq_relationship/output_weights": np.asarray(pretrainer.pair_head.kernel).T,
        "cls/seq_relationship/output_bias": pretrainer.pair_head.bias,
    }
    if albert:
        projection = encoder.embeddings_projection
        tensors["bert/encoder/embedding_hidden_mapping_in/kernel"] = projection.kernel
        tensors["bert/encoder/embedding_hidden_mapping_in/bias"] = projection.bias
    for i, block in enumerate(encoder.blocks):
        if albert:
            scope = f"bert/encoder/transformer/group_{i}/inner_group_0/"
            attention, norm_1, ffn, ffn_out, norm_2 = (
                "attention_1/", "LayerNorm", "ffn_1/intermediate/dense",
                "ffn_1/intermediate/output/dense", "LayerNorm_1")
        else:
            scope = f"bert/encoder/layer_{i}/"
            attention, norm_1, ffn, ffn_out, norm_2 = (
                "attention/", "attention/output/LayerNorm", "intermediate/dense", "output/dense",
                "output/LayerNorm")
        mha = block.self_attention
        for name, dense in (("self/query", mha._query_dense), ("self/key", mha._key_dense),
                            ("self/value", mha._value_dense), ("output/dense", mha._output_dense)):
            kernel = np.asarray(dense.kernel)  # 3-D in Keras, 2-D in the original checkpoints
            output = name == "output/dense"
            tensors[f"{scope}{attention}{name}/kernel"] = (
                kernel.reshape(-1, hidden) if output else kernel.reshape(hidden, -1))
            tensors[f"{scope}{attention}{name}/bias"] = np.asarray(dense.bias).reshape(-1)
        for name, norm in ((norm_1, block.attention_layer_norm), (norm_2, block.output_layer_norm)):
            tensors[f"{scope}{name}/gamma"] = norm.gamma
            tensors[f"{scope}{name}/beta"] = norm.beta
        for name, dense in ((ffn, block.feedforward.intermediate_dense),
                            (ffn_out, block.feedforward.output_dense)):
            tensors[f"{scope}{name}/kernel"] = dense.kernel
            tensors[f"{scope}{name}/bias"] = dense.bias
    return {name: np.asarray(value, dtype="float32") for name, value in tensors.items()}


def _write_tf1_checkpoint(tensors, prefix, with_optimizer=True, scope=""):
    """Writes `tensors` with a TF1 `Saver`, as run_pretraining.py did (plus Adam slots)."""
    graph = tf.Graph()
    with graph.as_default():
        variables = [tf.compat.v1.Variable(value, name=scope + name)
                     for name, value in tensors.items()]
        if with_optimizer:
            variables += [tf.compat.v1.Variable(np.zeros_like(value), name=f"{scope}{name}/{slot}")
                          for name, value in tensors.items() for slot in ("adam_m", "adam_v")]
            variables.append(tf.compat.v1.Variable(np.int64(1000), name="global_step"))
        saver = tf.compat.v1.train.Saver(variables)
        with tf.compat.v1.Session(graph=graph) as session:
            session.run(tf.compat.v1.global_variables_initializer())
            saver.save(session, prefix, write_meta_graph=False)
    return prefix


def _write_config(directory, fields, albert):
    config = {"vocab_size": fields["vocabulary_size"], "hidden_size": fields["hidden_dim"],
              "num_hidden_layers": fields["num_layers"],
              "num_attention_heads": fields["num_heads"],
              "intermediate_size": fields["intermediate_dim"], "hidden_act": "gelu",
              "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0,
              "max_position_embeddings": fields["max_sequence_length"], "type_vocab_size": 2,
              "initializer_range": 0.02}
    if albert:
        config.update(embedding_size=fields["embedding_dim"],
                      num_hidden_groups=fields["num_groups"], inner_group_num=1)
    name = "albert_config.json" if albert else "bert_config.json"
    with open(os.path.join(directory, name), "w") as f:
        json.dump(config, f)


def _checkpoint(tmp_path, fields, albert, pair_task, **write_kwargs):
    original = _random_pretrainer(fields, pair_task, seed=7 if albert else 8)
    _write_config(tmp_path, fields, albert)
    prefix = _write_tf1_checkpoint(_original_names(original, albert),
                                   str(tmp_path / "model.ckpt-1000"), **write_kwargs)
    return original, prefix


def _inputs():
    inputs = tiny_inputs(batch_size=2, sequence_length=10, num_padded=3, seed=9)
    return {**inputs, "mask_positions": np.array([[1, 4, 9], [0, 2, 7]], "int32")}


@pytest.mark.parametrize("fields,albert,pair_task", [(ALBERT, True, "sop"), (BERT, False, "nsp")],
                         ids=["albert_2_groups", "bert"])
def test_round_trip_gives_identical_outputs(tmp_path, fields, albert, pair_task):
    original, prefix = _checkpoint(tmp_path, fields, albert, pair_task)
    inputs = _inputs()
    expected = original(inputs)
    encoder_inputs = {name: inputs[name] for name in INPUT_NAMES}
    expected_encoded = original.encoder(encoder_inputs)

    pretrainer = load_pretrainer(prefix)  # the checkpoint prefix
    assert pretrainer.pair_task == pair_task
    assert pretrainer.encoder.encoder_config == original.encoder.encoder_config
    for name in ("mlm", "pair"):
        assert_close(pretrainer(inputs)[name], expected[name], 1e-6, name)
    encoder = load_encoder(str(tmp_path))  # the directory; heads and Adam slots skipped
    for name in ("sequence_output", "pooled_output"):
        assert_close(encoder(encoder_inputs)[name], expected_encoded[name], 1e-6, name)


def test_tf_hub_module_prefix_is_stripped(tmp_path):
    original, prefix = _checkpoint(tmp_path, BERT, False, "nsp", with_optimizer=False,
                                   scope="module/")
    inputs = _inputs()
    assert_close(load_pretrainer(prefix)(inputs)["mlm"], original(inputs)["mlm"], 1e-6)


def test_missing_tensor_is_named(tmp_path):
    original = _random_pretrainer(ALBERT, "sop", seed=3)
    tensors = _original_names(original, albert=True)
    del tensors["bert/encoder/transformer/group_1/inner_group_0/LayerNorm_1/beta"]
    _write_config(tmp_path, ALBERT, albert=True)
    prefix = _write_tf1_checkpoint(tensors, str(tmp_path / "model.ckpt-1"))
    with pytest.raises(ValueError, match=r"Missing tensor.*group_1/inner_group_0/LayerNorm_1/beta"
                                         r".*transformer_layer_1/output_layer_norm/beta"):
        load_encoder(prefix)


def test_config_weights_mismatch_is_named(tmp_path):
    """bert_config.json says 3 layers; the checkpoint holds 2."""
    original = _random_pretrainer(BERT, "nsp", seed=4)
    _write_config(tmp_path, {**BERT, "num_layers": 3}, albert=False)
    prefix = _write_tf1_checkpoint(_original_names(original, False), str(tmp_path / "model.ckpt-1"),
                                   with_optimizer=False)
    with pytest.raises(ValueError, match=r"Missing tensor.*bert/encoder/layer_2/"):
        load_encoder(prefix)


def test_missing_config_is_named(tmp_path):
    original = _random_pretrainer(BERT, "nsp", seed=5)
    prefix = _write_tf1_checkpoint(_original_names(original, False), str(tmp_path / "model.ckpt-1"),
                                   with_optimizer=False)
    with pytest.raises(FileNotFoundError, match="albert_config.json or bert_config.json"):
        load_encoder(prefix)
