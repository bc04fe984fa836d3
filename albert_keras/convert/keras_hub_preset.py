"""keras-hub `BertBackbone`/`AlbertBackbone` presets saved on disk (`save_to_preset`).

A preset directory holds `config.json` (the backbone's class and arguments), `model.weights.h5`
and, when a tokenizer was saved too, `tokenizer.json` + `assets/tokenizer/`. keras-hub itself
reads the weights (it is a dependency anyway); we map its layers onto ours. Both keras-hub
backbones use the tanh GELU and LayerNorm epsilon 1e-12.
"""

from __future__ import annotations

import json
import os

from albert_keras.convert import model_weights as mw
from albert_keras.convert.checkpoint import Checkpoint
from albert_keras.convert.weight_assignment import TensorName
from albert_keras.models.encoder_config import EncoderConfig

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.weights.h5"
BACKBONES = ("BertBackbone", "AlbertBackbone")


def matches(path: str) -> bool:
    """True for a directory whose `config.json` names a keras-hub class."""
    config_path = os.path.join(path, CONFIG_FILE)
    if not os.path.isfile(config_path):
        return False
    with open(config_path, encoding="utf-8") as f:
        config = json.load(f)
    return str(config.get("registered_name", "")).startswith("keras_hub>") or str(
        config.get("module", "")).startswith("keras_hub")


def read(path: str) -> Checkpoint:
    """Opens a keras-hub preset directory (see `matches`)."""
    import keras_hub

    config_path = os.path.join(path, CONFIG_FILE)
    with open(config_path, encoding="utf-8") as f:
        preset_config = json.load(f)
    class_name = preset_config.get("class_name")
    if class_name not in BACKBONES:
        raise ValueError(f"Unsupported keras-hub class_name={class_name!r} in {config_path!r}: "
                         f"only {BACKBONES} can be imported.")
    weights_path = os.path.join(path, WEIGHTS_FILE)
    if not os.path.isfile(weights_path):
        raise FileNotFoundError(f"keras-hub preset {path!r} has no {WEIGHTS_FILE}.")
    is_albert = class_name == "AlbertBackbone"
    config = encoder_config(preset_config["config"], is_albert, source=config_path)
    backbone = keras_hub.models.Backbone.from_preset(path)
    variables = {variable.path: variable for variable in backbone.weights}
    return Checkpoint(
        source=weights_path, format="keras_hub_preset", config=config,
        pair_task="sop" if is_albert else "nsp", names=frozenset(variables),
        read_tensor=lambda name: variables[name].numpy(),
        encoder_names=encoder_names(config, is_albert), head_names={},
        tokenizer=tokenizer_files(path))


def encoder_config(backbone_config: dict, is_albert: bool, source: str) -> EncoderConfig:
    """Our `EncoderConfig` from a keras-hub backbone's `get_config()`."""
    fields = dict(
        vocabulary_size=backbone_config["vocabulary_size"],
        num_layers=backbone_config["num_layers"], num_heads=backbone_config["num_heads"],
        hidden_dim=backbone_config["hidden_dim"],
        intermediate_dim=backbone_config["intermediate_dim"],
        max_sequence_length=backbone_config.get("max_sequence_length", 512),
        num_segments=backbone_config.get("num_segments", 2), activation="gelu_approximate",
        dropout=float(backbone_config.get("dropout", 0.0)), layer_norm_epsilon=1e-12)
    if is_albert:
        inner = backbone_config.get("num_inner_repetitions", 1)
        if inner != 1:
            raise ValueError(f"Unsupported num_inner_repetitions={inner} in {source!r}: our "
                             "Encoder applies one block per layer.")
        embedding_dim = backbone_config["embedding_dim"]
        if embedding_dim == fields["hidden_dim"]:
            raise ValueError(
                f"Unsupported AlbertBackbone with embedding_dim == hidden_dim ({embedding_dim}) "
                f"in {source!r}: its embedding projection has no place in our Encoder.")
        fields.update(embedding_dim=embedding_dim, share="all",
                      num_groups=backbone_config.get("num_groups", 1))
    return EncoderConfig(**fields)


def encoder_names(config: EncoderConfig, is_albert: bool) -> dict[str, TensorName]:
    names = {**mw.embedding("token_embedding", "token_embedding/embeddings"),
             **mw.embedding("position_embedding", "position_embedding/embeddings"),
             **mw.embedding("segment_embedding", "segment_embedding/embeddings"),
             **mw.layer_norm("embeddings_layer_norm", "embeddings_layer_norm", pytorch=False),
             **mw.dense("embeddings_projection", "embedding_projection", pytorch=False),
             **mw.dense("pooler_dense", "pooled_dense", pytorch=False)}
    for i in range(mw.num_blocks(config)):
        layer = f"group_{i}_inner_layer_0" if is_albert else f"transformer_layer_{i}"
        names.update(mw.block(i, {
            "self_attention/query": f"{layer}/self_attention_layer/query",
            "self_attention/key": f"{layer}/self_attention_layer/key",
            "self_attention/value": f"{layer}/self_attention_layer/value",
            "self_attention/attention_output": f"{layer}/self_attention_layer/attention_output",
            "attention_layer_norm": f"{layer}/self_attention_layer_norm",
            "feedforward/intermediate_dense": f"{layer}/feedforward_intermediate_dense",
            "feedforward/output_dense": f"{layer}/feedforward_output_dense",
            "output_layer_norm": f"{layer}/feedforward_layer_norm",
        }, pytorch=False))
    return names


def tokenizer_files(path: str) -> dict | None:
    """The preset's saved tokenizer: a `BertTokenizer` vocabulary or `AlbertTokenizer` proto."""
    config_path = os.path.join(path, "tokenizer.json")
    if not os.path.isfile(config_path):
        return None
    with open(config_path, encoding="utf-8") as f:
        tokenizer_config = json.load(f)
    assets = os.path.join(path, "assets", "tokenizer")
    settings = tokenizer_config.get("config", {})
    if tokenizer_config.get("class_name") == "BertTokenizer":
        return {"path": os.path.join(assets, "vocabulary.txt"), "kind": "wordpiece",
                "lowercase": bool(settings.get("lowercase", False)),
                "strip_accents": bool(settings.get("strip_accents", False))}
    if tokenizer_config.get("class_name") == "AlbertTokenizer":
        return {"path": os.path.join(assets, "vocabulary.spm"), "kind": "sentencepiece",
                "lowercase": False}
    return None
