"""Continued pretraining: the `Pretrainer` that `pretrain` starts from when `model.pretrained`
is set, with every head the checkpoint has.

Domain- and task-adaptive pretraining (Gururangan et al. 2020, https://arxiv.org/abs/2004.10964)
continue a published model's own objective on new text. So the masked-LM head (transform,
LayerNorm, output bias) and the pair head come from the checkpoint where it holds them, and are
initialized fresh only where it does not; the records must use the checkpoint's own tokenizer.
"""

from __future__ import annotations


import keras

from albert_keras.models.dtype_copy import copy_with_dtype
from albert_keras.models.pretrainer import HEADS, Pretrainer
from albert_keras.models.task import check_vocabulary, load_pretrained_encoder
from albert_keras.utils import file_io

PARTS = ("pooler_dense", *HEADS)  # What a checkpoint may lack of a `Pretrainer`.
_HEAD_NAMES = {"mlm_head": "masked-LM head", "pair_head": "pair head"}


def load_for_pretraining(path: str) -> tuple[Pretrainer, tuple[str, ...]]:
    """The model at `path` as a `Pretrainer`, and which of `PARTS` came from `path`.

    Args:
        path: str. A `.keras` file made here (a `Pretrainer` brings both heads; an `Encoder` or
            a fine-tuned task, none), or a Hugging Face directory, TF1 checkpoint or keras-hub
            preset (`albert_keras.convert.load_pretrainer_where_present`).
    """
    if str(path).endswith(".keras"):
        if file_io.isfile(path):
            model = keras.saving.load_model(path, compile=False)
            if isinstance(model, Pretrainer):
                return model, PARTS
        return Pretrainer(load_pretrained_encoder(path)), ("pooler_dense",)
    from albert_keras.convert import load_pretrainer_where_present

    return load_pretrainer_where_present(path)


def continued_pretrainer(path: str, tokenizer, pair_task: str, dtype: str | None = None,
                         tokenizer_dir: str | None = None) -> tuple[Pretrainer, list[str]]:
    """The `Pretrainer` that continues the model at `path` on records made with `tokenizer`.

    Args:
        path: str. `model.pretrained` (see `load_for_pretraining`).
        tokenizer: the records' tokenizer. It must be the checkpoint's own where the checkpoint
            has one (same kind, casing and vocabulary), else an error names both.
        pair_task: str. The records' pair task. A pair head trained for the other task is
            not used: that head starts fresh.
        dtype: str or None. The run's dtype policy. Defaults to None (float32).
        tokenizer_dir: str or None. Where `tokenizer` was loaded from, for messages.

    Returns:
        `(pretrainer, notes)`: the model, and one line per head saying whether it was loaded
        or initialized fresh, and why (and one for the pooler when the checkpoint has none).
    """
    check_tokenizer(path, tokenizer, tokenizer_dir)
    source, parts = load_for_pretraining(path)
    encoder = source.encoder
    check_vocabulary(encoder, tokenizer, path)
    pretrainer = Pretrainer(copy_with_dtype(encoder, dtype), pair_task=pair_task)
    notes = [] if "pooler_dense" in parts else [
        "pooler: initialized fresh (the checkpoint has none)"]
    for head in HEADS:
        name = _HEAD_NAMES[head]
        if head not in parts:
            notes.append(f"{name}: initialized fresh (the checkpoint has none)")
        elif head == "pair_head" and source.pair_task != pair_task:
            notes.append(f"{name}: initialized fresh (the checkpoint's is for "
                         f"{source.pair_task.upper()}, the records are {pair_task.upper()})")
        else:
            getattr(pretrainer, head).set_weights(getattr(source, head).get_weights())
            notes.append(f"{name}: loaded from the checkpoint")
    return pretrainer, notes


def check_tokenizer(path: str, tokenizer, tokenizer_dir: str | None = None) -> None:
    """Raises `ValueError`, naming both, when `tokenizer` is not the one of the model at
    `path`; does nothing when that model comes without a tokenizer."""
    from albert_keras.tokenizers.tokenizer_files import describe_difference, load_tokenizer

    try:
        own = load_tokenizer(path)
    except FileNotFoundError:
        return  # No vocabulary beside the checkpoint: the vocabulary size is checked instead.
    difference = describe_difference(tokenizer, own)
    if difference is not None:
        raise ValueError(
            f"The records' tokenizer ({tokenizer_dir or 'given'}) is not the one of "
            f"model.pretrained={path!r}: {difference}. Token ids would not mean what the "
            "checkpoint learned: prepare the records with the checkpoint's tokenizer (leave data.tokenizer_path unset, or set it to "
            "model.pretrained).")
