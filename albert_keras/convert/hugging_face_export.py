"""`save_hugging_face`: a model trained here as a Hugging Face directory `transformers` loads.

The inverse of `hugging_face.read`, through the same table of tensor names: every weight of
ours goes to the tensor `read` would take it from, transposed back to PyTorch's `(out, in)` and
reshaped back to 2-D. An `Encoder` becomes a `BertModel` / `AlbertModel`, a `Pretrainer` a
`BertForPreTraining` / `AlbertForPreTraining` (masked-LM head tied to the token embedding, and
the NSP or SOP head), a fine-tuned `TextClassifier` (pooling `"cls"`) a
`*ForSequenceClassification` (labels as `id2label`), a `TokenClassifier` a
`*ForTokenClassification`, a `SpanExtractor` a `*ForQuestionAnswering`.

Which Hugging Face model: an encoder with factorized embeddings (`embedding_dim` below
`hidden_dim`) is an ALBERT (`num_hidden_groups` = our blocks: `num_groups` when `share="all"`,
`num_layers` when nothing is shared); one without is a BERT (`share="none"`). Partial sharing
(`share="attention"` / `"ffn"`) and ALBERT sharing without factorized embeddings have no
Hugging Face form: they fail with an error naming the field.
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

from albert_keras import tokenizers
from albert_keras.convert import hugging_face
from albert_keras.convert import model_weights as mw
from albert_keras.models.encoder import Encoder
from albert_keras.models.encoder_config import EncoderConfig
from albert_keras.models.pretrainer import Pretrainer
from albert_keras.models.span_extractor import SpanExtractor
from albert_keras.models.text_classifier import TextClassifier
from albert_keras.models.token_classifier import TokenClassifier
from albert_keras.utils.output_directory import write_output_directory

# Our `activation` -> Hugging Face `hidden_act` (the first of `hugging_face.ACTIVATIONS`).
HIDDEN_ACTS = {"gelu": "gelu", "gelu_approximate": "gelu_new"}
_FAMILY = {"bert": "Bert", "albert": "Albert"}
# Our task model -> (transformers class suffix, our head layer, transformers head module).
TASK_HEADS = {TextClassifier: ("ForSequenceClassification", "logits", "classifier"),
              TokenClassifier: ("ForTokenClassification", "logits", "classifier"),
              SpanExtractor: ("ForQuestionAnswering", "span_logits", "qa_outputs")}


def model_type(config: EncoderConfig) -> str:
    """`"bert"` or `"albert"`: the Hugging Face model that holds an encoder of `config`, else a
    `ValueError` naming the field that has no Hugging Face form."""
    if config.activation not in HIDDEN_ACTS:
        raise ValueError(f"Hugging Face has no hidden_act for activation={config.activation!r}; "
                         f"one of {sorted(HIDDEN_ACTS)} is needed.")
    return mw.bert_or_albert(config, "Hugging Face")


def hf_config(config: EncoderConfig, kind: str, architecture: str) -> dict[str, Any]:
    """The `config.json` of a Hugging Face `kind` model with our encoder's sizes."""
    hf = {"architectures": [architecture], "model_type": kind,
          "vocab_size": config.vocabulary_size, "hidden_size": config.hidden_dim,
          "num_hidden_layers": config.num_layers, "num_attention_heads": config.num_heads,
          "intermediate_size": config.intermediate_dim,
          "hidden_act": HIDDEN_ACTS[config.activation],
          "hidden_dropout_prob": config.dropout, "attention_probs_dropout_prob": config.dropout,
          "max_position_embeddings": config.max_sequence_length,
          "type_vocab_size": config.num_segments, "initializer_range": 0.02,
          "layer_norm_eps": config.layer_norm_epsilon, "pad_token_id": 0,
          "position_embedding_type": "absolute"}
    if kind == "albert":
        hf.update(embedding_size=config.embedding_dim, num_hidden_groups=mw.num_blocks(config),
                  inner_group_num=1, classifier_dropout_prob=config.dropout)
    return hf


def save_hugging_face(model, directory: str, tokenizer=None, overwrite: bool = False) -> str:
    """Writes `model` as a Hugging Face directory: `config.json`, `model.safetensors` and, with
    a tokenizer, its vocabulary (`vocab.txt` or `spiece.model`) and `tokenizer_config.json`.

    Args:
        model: `Encoder`, `Pretrainer`, `TextClassifier`, `TokenClassifier` or
            `SpanExtractor`.
        directory: str. The directory to write (created; replaced whole with `overwrite`).
        tokenizer: keras-hub tokenizer or None. The model's tokenizer.
        overwrite: bool. Replace an existing directory. Defaults to False (an error).

    Returns:
        `directory`.

    Example:
    ```python
    # needs: a pretraining run's `encoder.keras` and its `tokenizer/`
    encoder = keras.saving.load_model("runs/albert_tiny/encoder.keras")
    tokenizer = albert_keras.tokenizers.load_tokenizer("runs/albert_tiny/tokenizer")
    save_hugging_face(encoder, "out/albert_tiny_hf", tokenizer)
    # transformers.AlbertModel.from_pretrained("out/albert_tiny_hf") loads it.
    ```
    """
    head = TASK_HEADS.get(type(model))
    if isinstance(model, Pretrainer):
        encoder, variables = model.encoder, mw.pretrainer_variables(model)
    elif isinstance(model, Encoder) or head is not None:
        encoder = getattr(model, "encoder", model)
        variables = mw.encoder_variables(encoder)
    else:
        raise ValueError("Only an `Encoder`, a `Pretrainer` or a fine-tuned task model can be "
                         f"written as a Hugging Face model. Received: {type(model).__name__}")
    if getattr(model, "pooling", "cls") != "cls":
        raise ValueError("Hugging Face's sequence classifiers read the pooled [CLS] output; a "
                         f"TextClassifier with pooling={model.pooling!r} has no such form.")
    config = encoder.encoder_config
    kind = model_type(config)
    with_heads = isinstance(model, Pretrainer)
    prefix = f"{kind}." if with_heads or head is not None else ""
    tensors = hf_tensors(variables, config, kind, prefix, with_heads)
    hf = hf_config(config, kind, _FAMILY[kind] + (
        "ForPreTraining" if with_heads else head[0] if head else "Model"))
    if head is not None:
        layer = model.get_layer(head[1])
        tensors[f"{head[2]}.weight"] = np.ascontiguousarray(np.asarray(layer.kernel.numpy()).T)
        tensors[f"{head[2]}.bias"] = np.asarray(layer.bias.numpy())
        hf.update(_label_settings(model))
    from safetensors.numpy import save_file  # Deferred: only this export needs it.

    def write(path: str) -> None:
        os.makedirs(path)
        save_file(tensors, os.path.join(path, "model.safetensors"), metadata={"format": "pt"})
        _write_json(os.path.join(path, hugging_face.CONFIG_FILE), hf)
        if tokenizer is not None:
            save_hf_tokenizer(tokenizer, path)

    return write_output_directory(directory, write, overwrite, "convert")


def _label_settings(model) -> dict:
    """`num_labels`, `id2label`, `label2id` (and `problem_type`) of a classifier's config."""
    labels = list(getattr(model, "labels", None) or [])
    num_classes = getattr(model, "num_classes", 2)
    names = labels or [f"LABEL_{i}" for i in range(num_classes)]
    settings = {"num_labels": len(names), "id2label": {str(i): n for i, n in enumerate(names)},
                "label2id": {n: i for i, n in enumerate(names)}}
    if isinstance(model, TextClassifier):
        settings["problem_type"] = ("multi_label_classification" if model.multi_label
                                    else "single_label_classification")
    return settings


def hf_tensors(variables: dict, config: EncoderConfig, kind: str, prefix: str,
               with_heads: bool) -> dict[str, np.ndarray]:
    """Hugging Face tensor name -> float32 array, for our weights by key (`model_weights`);
    `prefix` starts the backbone's names (`"bert."` in a model with heads)."""
    names, heads, tied = hugging_face.tensor_names(config, kind, prefix)
    if with_heads:
        names = {**names, **heads}
    tensors = {}
    for key, spec in names.items():
        value = np.asarray(variables[key].numpy(), np.float32)
        if spec.reshape:  # Back to 2-D: (in, out) kernels, (out,) biases.
            if key.endswith("/bias"):
                value = value.reshape(-1)
            elif key.endswith("attention_output/kernel"):  # (heads, head_dim, hidden)
                value = value.reshape(-1, value.shape[-1])
            else:  # (hidden, heads, head_dim)
                value = value.reshape(value.shape[0], -1)
        if spec.transpose:
            value = value.T
        tensors[spec.name] = np.ascontiguousarray(value)
    if with_heads:  # The decoder is the token embedding and the MLM bias, as transformers ties them.
        tensors.update({name: tensors[source] for name, source in tied.items()})
    return tensors


def save_hf_tokenizer(tokenizer, directory: str) -> None:
    """`vocab.txt` (WordPiece) or `spiece.model` (SentencePiece) with `tokenizer_config.json`
    and `special_tokens_map.json`, as `BertTokenizer` / `AlbertTokenizer` read them."""
    tokenizer_kind = tokenizers.tokenizer_kind(tokenizer)
    special = {key: tokenizer.id_to_token(value)
               for key, value in tokenizers.special_token_ids(tokenizer).items()}
    special_map = {"pad_token": special["pad"], "unk_token": special["unk"],
                   "cls_token": special["cls"], "sep_token": special["sep"],
                   "mask_token": special["mask"]}
    tokenizers.write_vocabulary(tokenizer, directory)
    settings = tokenizers.tokenizer_settings(tokenizer)
    if tokenizer_kind == "sentencepiece":
        config = {"tokenizer_class": "AlbertTokenizer", "do_lower_case": settings["lowercase"],
                  "keep_accents": True, "remove_space": True}
    else:
        config = {"tokenizer_class": "BertTokenizer", "do_lower_case": settings["lowercase"],
                  "strip_accents": settings["strip_accents"], "tokenize_chinese_chars": True}
    config.update(special_map, model_max_length=None)
    config = {k: v for k, v in config.items() if v is not None}
    _write_json(os.path.join(directory, "tokenizer_config.json"), config)
    _write_json(os.path.join(directory, "special_tokens_map.json"), special_map)


def _write_json(path: str, value: dict) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(value, f, indent=2, sort_keys=True)
        f.write("\n")
