"""Hugging Face BERT and ALBERT directories: `config.json` + `model.safetensors` (or `.bin`).

Handles `BertModel`/`AlbertModel` (with or without the `bert.`/`albert.` prefix, with or
without a pooler), the `*ForPreTraining`/`*ForMaskedLM` models with their heads, and the
encoder of any fine-tuned `*For...` model (its task head is skipped). PyTorch
`Linear` kernels are `(out, in)` and are transposed; query/key/value kernels are reshaped to
our `(hidden, heads, head_dim)` layout.
"""

from __future__ import annotations

import json
import os

import numpy as np

from albert_keras.convert import model_weights as mw
from albert_keras.convert.bert_config import encoder_fields
from albert_keras.convert.checkpoint import Checkpoint
from albert_keras.convert.weight_assignment import TensorName
from albert_keras.models.encoder_config import EncoderConfig

CONFIG_FILE = "config.json"
WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin")
MODEL_TYPES = ("bert", "albert")
# Hugging Face `hidden_act` -> our `activation`.
ACTIVATIONS = {"gelu": "gelu", "gelu_new": "gelu_approximate",
               "gelu_pytorch_tanh": "gelu_approximate", "gelu_fast": "gelu_approximate"}
# Heads of the pretraining/masked-LM models, outside the `bert.`/`albert.` prefix.
HEAD_PREFIXES = ("cls.", "predictions.", "sop_classifier.")


def matches(path: str) -> bool:
    """True for a directory with a `config.json` of a BERT/ALBERT-like model and weights."""
    if not os.path.isfile(os.path.join(path, CONFIG_FILE)):
        return False
    config = _read_json(os.path.join(path, CONFIG_FILE))
    return "model_type" in config and any(
        os.path.isfile(os.path.join(path, name)) for name in WEIGHT_FILES)


def read(path: str) -> Checkpoint:
    """Opens a Hugging Face directory (see `matches`)."""
    hf_config = _read_json(os.path.join(path, CONFIG_FILE))
    model_type = hf_config.get("model_type")
    if model_type not in MODEL_TYPES:
        raise ValueError(f"Unsupported Hugging Face model_type={model_type!r} in "
                         f"{os.path.join(path, CONFIG_FILE)!r}: only {MODEL_TYPES} can be "
                         "imported.")
    config = encoder_config(hf_config, source=os.path.join(path, CONFIG_FILE))
    names, read_tensor, weights_file = _open_weights(path)
    names = {_modern_name(name): name for name in names}  # LayerNorm.gamma -> .weight

    prefix = f"{model_type}." if any(n.startswith(f"{model_type}.") for n in names) else ""
    encoder_names, head_names, tied = tensor_names(config, model_type, prefix)
    ignored = {n for n in names if n.endswith((".position_ids", ".token_type_ids"))}
    # Outside the `bert.`/`albert.` prefix everything is a head (pretraining, or a fine-tuned
    # task's `classifier.*`): skipped for an encoder, and for a pretrainer unused unless it is
    # the pretraining heads.
    if prefix:
        heads = {n for n in names if not n.startswith(prefix)}
    else:
        heads = {n for n in names if n.startswith(HEAD_PREFIXES)}
    return Checkpoint(
        source=weights_file, format="hugging_face", config=config,
        pair_task="sop" if model_type == "albert" else "nsp",
        names=frozenset(names), read_tensor=lambda name: read_tensor(names[name]),
        encoder_names=encoder_names, head_names=head_names,
        head_tensors=frozenset(heads), ignored_tensors=frozenset(ignored),
        tied_tensors={k: v for k, v in tied.items() if k in names},
        tokenizer=tokenizer_files(path))


def encoder_config(hf_config: dict, source: str) -> EncoderConfig:
    """Our `EncoderConfig` from a Hugging Face BERT/ALBERT `config.json`."""
    model_type = hf_config.get("model_type")
    position_type = hf_config.get("position_embedding_type", "absolute")
    if position_type != "absolute":
        raise ValueError(f"Unsupported position_embedding_type={position_type!r} in {source!r}: "
                         "only learned absolute positions exist in our Encoder.")
    fields = encoder_fields(hf_config, is_albert=model_type == "albert", activations=ACTIVATIONS,
                            default_activation="gelu_new" if model_type == "albert" else "gelu",
                            source=source)
    if model_type == "albert" and fields["embedding_dim"] == fields["hidden_dim"]:
        raise ValueError(
            f"Unsupported ALBERT with embedding_size == hidden_size ({fields['embedding_dim']}) "
            f"in {source!r}: its embedding projection has no place in our Encoder, which "
            "projects only when the widths differ.")
    return EncoderConfig(**fields)


def tensor_names(config: EncoderConfig, model_type: str, prefix: str):
    """`(encoder names, head names, tied)`: the Hugging Face tensor of each of our weights (by
    `model_weights` key) in a `model_type` model whose backbone tensors start with `prefix`
    (`"bert."` / `"albert."` in the pretraining models, none in `BertModel`/`AlbertModel`), and
    the decoder tensors transformers ties to others (tied name -> source name)."""
    if model_type == "albert":
        return (_albert_encoder_names(config, prefix), _albert_head_names(),
                {"predictions.decoder.weight": f"{prefix}embeddings.word_embeddings.weight",
                 "predictions.decoder.bias": "predictions.bias"})
    return (_bert_encoder_names(config, prefix), _bert_head_names(),
            {"cls.predictions.decoder.weight": f"{prefix}embeddings.word_embeddings.weight",
             "cls.predictions.decoder.bias": "cls.predictions.bias"})


def _bert_encoder_names(config: EncoderConfig, prefix: str) -> dict[str, TensorName]:
    p = prefix
    names = {**_embedding_names(p),
             **mw.dense("pooler_dense", f"{p}pooler.dense", pytorch=True)}
    for i in range(mw.num_blocks(config)):
        layer = f"{p}encoder.layer.{i}"
        names.update(mw.block(i, {
            "self_attention/query": f"{layer}.attention.self.query",
            "self_attention/key": f"{layer}.attention.self.key",
            "self_attention/value": f"{layer}.attention.self.value",
            "self_attention/attention_output": f"{layer}.attention.output.dense",
            "attention_layer_norm": f"{layer}.attention.output.LayerNorm",
            "feedforward/intermediate_dense": f"{layer}.intermediate.dense",
            "feedforward/output_dense": f"{layer}.output.dense",
            "output_layer_norm": f"{layer}.output.LayerNorm",
        }, pytorch=True))
    return names


def _albert_encoder_names(config: EncoderConfig, prefix: str) -> dict[str, TensorName]:
    p = prefix
    names = {**_embedding_names(p),
             **mw.dense("embeddings_projection", f"{p}encoder.embedding_hidden_mapping_in",
                        pytorch=True),
             **mw.dense("pooler_dense", f"{p}pooler", pytorch=True)}
    for g in range(mw.num_blocks(config)):
        layer = f"{p}encoder.albert_layer_groups.{g}.albert_layers.0"
        names.update(mw.block(g, {
            "self_attention/query": f"{layer}.attention.query",
            "self_attention/key": f"{layer}.attention.key",
            "self_attention/value": f"{layer}.attention.value",
            "self_attention/attention_output": f"{layer}.attention.dense",
            "attention_layer_norm": f"{layer}.attention.LayerNorm",
            "feedforward/intermediate_dense": f"{layer}.ffn",
            "feedforward/output_dense": f"{layer}.ffn_output",
            "output_layer_norm": f"{layer}.full_layer_layer_norm",
        }, pytorch=True))
    return names


def _embedding_names(p: str) -> dict[str, TensorName]:
    return {**mw.embedding("token_embedding", f"{p}embeddings.word_embeddings.weight"),
            **mw.embedding("position_embedding", f"{p}embeddings.position_embeddings.weight"),
            **mw.embedding("segment_embedding", f"{p}embeddings.token_type_embeddings.weight"),
            **mw.layer_norm("embeddings_layer_norm", f"{p}embeddings.LayerNorm", pytorch=True)}


def _bert_head_names() -> dict[str, TensorName]:
    return {**mw.dense("mlm_head/dense", "cls.predictions.transform.dense", pytorch=True),
            **mw.layer_norm("mlm_head/layer_norm", "cls.predictions.transform.LayerNorm",
                            pytorch=True),
            "mlm_head/bias": TensorName("cls.predictions.bias"),
            **mw.dense("pair_head", "cls.seq_relationship", pytorch=True)}


def _albert_head_names() -> dict[str, TensorName]:
    return {**mw.dense("mlm_head/dense", "predictions.dense", pytorch=True),
            **mw.layer_norm("mlm_head/layer_norm", "predictions.LayerNorm", pytorch=True),
            "mlm_head/bias": TensorName("predictions.bias"),
            **mw.dense("pair_head", "sop_classifier.classifier", pytorch=True)}


def _modern_name(name: str) -> str:
    """Older checkpoints call LayerNorm parameters `gamma`/`beta`; transformers renames them."""
    if ".LayerNorm." in name or "layer_norm." in name:
        return name.replace(".gamma", ".weight").replace(".beta", ".bias")
    return name


def _open_weights(path: str):
    """(tensor names, reader, weights file) for safetensors (single or sharded) or a .bin."""
    single = os.path.join(path, "model.safetensors")
    index = os.path.join(path, "model.safetensors.index.json")
    if os.path.isfile(single) or os.path.isfile(index):
        if os.path.isfile(single):
            files = {name: single for name in _safetensors_keys(single)}
            source = single
        else:
            files = {name: os.path.join(path, shard)
                     for name, shard in _read_json(index)["weight_map"].items()}
            source = index
        handles = {}

        def read_tensor(name: str) -> np.ndarray:
            file = files[name]
            try:
                return _handle(handles, file, "np").get_tensor(name)
            except TypeError:  # bfloat16, which numpy lacks: read through TensorFlow
                return _handle(handles, file, "tf").get_tensor(name).numpy()

        return list(files), read_tensor, source
    weights = os.path.join(path, "pytorch_model.bin")
    try:
        import torch
    except ImportError as error:
        raise ImportError(f"Reading {weights!r} needs PyTorch, which is not installed. Install "
                          "torch, or save the model with safetensors (save_pretrained).") from error
    state = torch.load(weights, map_location="cpu", weights_only=True)
    return list(state), lambda name: state[name].float().numpy(), weights


def _handle(handles: dict, file: str, framework: str):
    if (file, framework) not in handles:
        handles[file, framework] = _safe_open(file, framework)
    return handles[file, framework]


def _safetensors_keys(file: str) -> list[str]:
    with _safe_open(file, "np") as f:
        return list(f.keys())


def _safe_open(file: str, framework: str):
    """`safetensors.safe_open`, with an error that names a truncated or corrupt file."""
    from safetensors import SafetensorError, safe_open

    try:
        return safe_open(file, framework=framework)
    except SafetensorError as error:
        raise ValueError(f"Cannot read the weights file {file!r} ({error}): it is truncated or "
                         "not a safetensors file. Download or save it again.") from None


def tokenizer_files(path: str) -> dict | None:
    """The directory's vocabulary and its lower-casing (tokenizer_config.json, else defaults)."""
    settings = {}
    config_path = os.path.join(path, "tokenizer_config.json")
    if os.path.isfile(config_path):
        settings = _read_json(config_path)
    # BertTokenizer and AlbertTokenizer both lower-case unless told otherwise.
    lowercase = bool(settings.get("do_lower_case", True))
    strip_accents = settings.get("strip_accents")
    for name, kind in (("vocab.txt", "wordpiece"), ("spiece.model", "sentencepiece")):
        file = os.path.join(path, name)
        if os.path.isfile(file):
            return {"path": file, "kind": kind, "lowercase": lowercase,
                    "strip_accents": lowercase if strip_accents is None else bool(strip_accents)}
    return None


def _read_json(path: str) -> dict:
    with open(path, encoding="utf-8") as f:
        return json.load(f)
