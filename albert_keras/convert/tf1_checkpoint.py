"""Original google-research BERT and ALBERT TF1 checkpoints (`model.ckpt-N` + its config json).

Variable names as the original `modeling.py` and `run_pretraining.py` create them:
`bert/embeddings/...`, `bert/encoder/layer_{k}/...` (BERT), `bert/encoder/transformer/
group_{g}/inner_group_0/...` (ALBERT), `bert/pooler/dense/...`, `cls/predictions/...`,
`cls/seq_relationship/...`. Optimizer slots and step counters are skipped; the `module/`
prefix of TF-Hub exports is stripped. `"hidden_act": "gelu"` means what the checkpoint was
trained with: the exact erf form for BERT (the 2018 releases' `modeling.py` used `tf.erf`; the
tanh form came later), the tanh approximation for ALBERT (its `modeling.py`).
"""

from __future__ import annotations

import glob
import json
import os
import re

from albert_keras.convert import model_weights as mw
from albert_keras.convert.bert_config import encoder_fields
from albert_keras.convert.checkpoint import Checkpoint
from albert_keras.convert.weight_assignment import TensorName
from albert_keras.models.encoder_config import EncoderConfig

CONFIG_FILES = ("albert_config.json", "bert_config.json")
# `hidden_act` -> our `activation`, per family: what each family's released checkpoints used.
BERT_ACTIVATIONS = {"gelu": "gelu", "gelu_new": "gelu_approximate"}
ALBERT_ACTIVATIONS = {"gelu": "gelu_approximate", "gelu_new": "gelu_approximate"}
# Optimizer state (Adam/LAMB/AdamW slots as named by the original optimizers, Keras v1 slots).
OPTIMIZER_SUFFIXES = ("/adam_m", "/adam_v", "/lamb_m", "/lamb_v", "/Adam", "/Adam_1",
                      "/Momentum", "/Adagrad", "/ExponentialMovingAverage")
NON_WEIGHTS = ("global_step", "beta1_power", "beta2_power", "good_steps", "loss_scale",
               "current_loss_scale")
HUB_PREFIX = "module/"


def checkpoint_prefix(path: str) -> str | None:
    """The checkpoint prefix at `path` (a prefix itself, or a directory holding one), or None."""
    if os.path.isfile(f"{path}.index"):
        return path
    if os.path.isdir(path):
        import tensorflow as tf

        latest = tf.train.latest_checkpoint(path)
        if latest:
            return latest
        indexes = sorted(glob.glob(os.path.join(path, "*.index")))
        if len(indexes) == 1:
            return indexes[0][: -len(".index")]
        for sub in ("variables/variables",):  # TF-Hub module layout.
            if os.path.isfile(os.path.join(path, f"{sub}.index")):
                return os.path.join(path, sub)
    return None


def config_file(path: str, prefix: str) -> str | None:
    """The `albert_config.json`/`bert_config.json` beside the checkpoint."""
    for directory in dict.fromkeys([path if os.path.isdir(path) else os.path.dirname(path),
                                    os.path.dirname(prefix)]):
        for name in CONFIG_FILES:
            if os.path.isfile(os.path.join(directory, name)):
                return os.path.join(directory, name)
    return None


def matches(path: str) -> bool:
    prefix = checkpoint_prefix(path)
    return prefix is not None


def read(path: str) -> Checkpoint:
    """Opens a TF1 checkpoint (see `matches`); its config json must sit beside it."""
    import tensorflow as tf

    prefix = checkpoint_prefix(path)
    config_path = config_file(path, prefix)
    if config_path is None:
        raise FileNotFoundError(
            f"TF1 checkpoint {prefix!r} has no {' or '.join(CONFIG_FILES)} beside it; the "
            "sizes of the model come from that file.")
    with open(config_path, encoding="utf-8") as f:
        tf1_config = json.load(f)
    reader = tf.train.load_checkpoint(prefix)
    stored = list(reader.get_variable_to_shape_map())
    names = {(n[len(HUB_PREFIX):] if n.startswith(HUB_PREFIX) else n): n for n in stored}
    is_albert = (os.path.basename(config_path) == "albert_config.json"
                 or "embedding_size" in tf1_config
                 or any("/transformer/group_" in n for n in names))
    config = encoder_config(tf1_config, is_albert, embedding_projection=any(
        n.startswith("bert/encoder/embedding_hidden_mapping_in/") for n in names),
        source=config_path)
    ignored = {n for n in names if n.endswith(OPTIMIZER_SUFFIXES) or n in NON_WEIGHTS}
    return Checkpoint(
        source=prefix, format="tf1_checkpoint", config=config,
        pair_task="sop" if is_albert else "nsp", names=frozenset(names),
        read_tensor=lambda name: reader.get_tensor(names[name]),
        encoder_names=_encoder_names(config, is_albert), head_names=_head_names(),
        head_tensors=frozenset(n for n in names if n.startswith("cls/") and n not in ignored),
        ignored_tensors=frozenset(ignored),
        tokenizer=_vocabulary_files(os.path.dirname(config_path), is_albert))


def encoder_config(tf1_config: dict, is_albert: bool, embedding_projection: bool,
                   source: str) -> EncoderConfig:
    """Our `EncoderConfig` from an original `bert_config.json`/`albert_config.json`."""
    activations = ALBERT_ACTIVATIONS if is_albert else BERT_ACTIVATIONS
    fields = encoder_fields(tf1_config, is_albert=is_albert, activations=activations,
                            default_activation="gelu", source=source)
    if is_albert and fields["embedding_dim"] != fields["hidden_dim"] and not embedding_projection:
        raise ValueError(
            f"Config/weights mismatch: {source!r} says embedding_size={fields['embedding_dim']}, "
            f"hidden_size={fields['hidden_dim']}, but the checkpoint has no "
            "bert/encoder/embedding_hidden_mapping_in projection.")
    return EncoderConfig(**fields)


def _encoder_names(config: EncoderConfig, is_albert: bool) -> dict[str, TensorName]:
    names = {**mw.embedding("token_embedding", "bert/embeddings/word_embeddings"),
             **mw.embedding("position_embedding", "bert/embeddings/position_embeddings"),
             **mw.embedding("segment_embedding", "bert/embeddings/token_type_embeddings"),
             **mw.layer_norm("embeddings_layer_norm", "bert/embeddings/LayerNorm", pytorch=False),
             **mw.dense("embeddings_projection", "bert/encoder/embedding_hidden_mapping_in",
                        pytorch=False),
             **mw.dense("pooler_dense", "bert/pooler/dense", pytorch=False)}
    for i in range(mw.num_blocks(config)):
        if is_albert:
            layer = f"bert/encoder/transformer/group_{i}/inner_group_0"
            bases = {
                "self_attention/query": f"{layer}/attention_1/self/query",
                "self_attention/key": f"{layer}/attention_1/self/key",
                "self_attention/value": f"{layer}/attention_1/self/value",
                "self_attention/attention_output": f"{layer}/attention_1/output/dense",
                "attention_layer_norm": f"{layer}/LayerNorm",
                "feedforward/intermediate_dense": f"{layer}/ffn_1/intermediate/dense",
                "feedforward/output_dense": f"{layer}/ffn_1/intermediate/output/dense",
                "output_layer_norm": f"{layer}/LayerNorm_1",
            }
        else:
            layer = f"bert/encoder/layer_{i}"
            bases = {
                "self_attention/query": f"{layer}/attention/self/query",
                "self_attention/key": f"{layer}/attention/self/key",
                "self_attention/value": f"{layer}/attention/self/value",
                "self_attention/attention_output": f"{layer}/attention/output/dense",
                "attention_layer_norm": f"{layer}/attention/output/LayerNorm",
                "feedforward/intermediate_dense": f"{layer}/intermediate/dense",
                "feedforward/output_dense": f"{layer}/output/dense",
                "output_layer_norm": f"{layer}/output/LayerNorm",
            }
        names.update(mw.block(i, bases, pytorch=False))
    return names


def _head_names() -> dict[str, TensorName]:
    return {**mw.dense("mlm_head/dense", "cls/predictions/transform/dense", pytorch=False),
            **mw.layer_norm("mlm_head/layer_norm", "cls/predictions/transform/LayerNorm",
                            pytorch=False),
            "mlm_head/bias": TensorName("cls/predictions/output_bias"),
            # `output_weights` is stored (2, hidden), like a PyTorch kernel.
            "pair_head/kernel": TensorName("cls/seq_relationship/output_weights", transpose=True),
            "pair_head/bias": TensorName("cls/seq_relationship/output_bias")}


def tokenizer_files(path: str) -> dict | None:
    """The vocabulary beside the checkpoint at `path` (see `_vocabulary_files`)."""
    prefix = checkpoint_prefix(path)
    config_path = config_file(path, prefix) if prefix else None
    if config_path is None:
        return None
    return _vocabulary_files(os.path.dirname(config_path),
                             os.path.basename(config_path) == "albert_config.json")


def _vocabulary_files(directory: str, is_albert: bool) -> dict | None:
    """`vocab.txt` (cased or not by the release's directory name) or a SentencePiece model."""
    vocab = os.path.join(directory, "vocab.txt")
    if os.path.isfile(vocab):
        # Google's releases: uncased_L-12_H-768_A-12 / cased_L-12_H-768_A-12.
        name = os.path.basename(os.path.abspath(directory)).lower()
        lowercase = not re.search(r"(^|[^n])cased", name)
        return {"path": vocab, "kind": "wordpiece", "lowercase": lowercase,
                "strip_accents": lowercase}
    models = sorted(glob.glob(os.path.join(directory, "*.model"))
                    + glob.glob(os.path.join(directory, "assets", "*.model")))
    if models:
        return {"path": models[0], "kind": "sentencepiece", "lowercase": is_albert}
    return None
