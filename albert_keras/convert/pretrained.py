"""Import checkpoints trained elsewhere into `Encoder`/`Pretrainer`, and their tokenizers.

Three source formats, recognized from the files at `path`:
- a keras-hub preset directory (`config.json` naming a keras-hub backbone, `model.weights.h5`);
- a Hugging Face directory (`config.json` with `model_type`, `model.safetensors` or
  `pytorch_model.bin`);
- an original google-research TF1 checkpoint (`model.ckpt-N` prefix, or its directory, with
  `bert_config.json`/`albert_config.json` beside it).
The model's configuration comes from the checkpoint's own config file. Every checkpoint tensor
is used (or skipped for a stated reason: optimizer state, buffers, heads of another task) and
every model weight is assigned; anything else is an error that names the tensor or weight.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable

import numpy as np

from albert_keras.convert import hugging_face, keras_hub_preset, tf1_checkpoint
from albert_keras.convert.checkpoint import Checkpoint
from albert_keras.convert.model_weights import encoder_variables, pretrainer_variables
from albert_keras.convert.weight_assignment import WeightAssignment
from albert_keras.models.pretrainer import HEADS
from albert_keras.utils.tokenizer_beside import tokenizer_beside

FORMATS = {"keras_hub_preset": keras_hub_preset, "hugging_face": hugging_face,
           "tf1_checkpoint": tf1_checkpoint}
TASKS = ("encoder", "pretrainer")


def checkpoint_format(path: str) -> str:
    """`"keras_hub_preset"`, `"hugging_face"` or `"tf1_checkpoint"`, else an error naming
    what is there."""
    path = os.fspath(path)
    if not os.path.exists(path) and not os.path.isfile(f"{path}.index"):
        raise FileNotFoundError(f"No checkpoint at path={path!r}: it does not exist.")
    for name, module in FORMATS.items():
        if module.matches(path):
            return name
    found = sorted(os.listdir(path)) if os.path.isdir(path) else [os.path.basename(path)]
    shown = ", ".join(found[:10]) + (f", ... ({len(found)} entries)" if len(found) > 10 else "")
    raise ValueError(
        f"Cannot import path={path!r}: it is none of a Hugging Face directory (config.json + "
        "model.safetensors or pytorch_model.bin), a TF1 checkpoint (model.ckpt-N.index + "
        "bert_config.json or albert_config.json) or a keras-hub preset (config.json + "
        f"model.weights.h5). Found: [{shown}]")


def open_checkpoint(path: str) -> Checkpoint:
    """Reads the config and the tensor index of the checkpoint at `path` (weights lazily)."""
    return FORMATS[checkpoint_format(path)].read(os.fspath(path))


def load_encoder(path: str, *, allow_missing: Iterable[str] = (), dtype=None,
                 **overrides):
    """An `Encoder` with the weights of the checkpoint at `path`.

    Args:
        path: str. A Hugging Face directory, a TF1 checkpoint (prefix or directory) or a
            keras-hub preset directory.
        allow_missing: iterable of str. Key prefixes of weights the checkpoint may lack, which
            then keep their fresh initialization, e.g. `("pooler_dense",)` for a Hugging Face
            model saved without its pooler. Defaults to none.
        dtype: the encoder's dtype policy. Defaults to None (float32).
        **overrides: `EncoderConfig` fields to change from the checkpoint's config, e.g.
            `dropout=0.0`. Fields that change weight shapes fail the import.

    Example:
    ```python
    # needs: downloaded checkpoints
    encoder = load_encoder("~/models/bert-base-uncased")  # config.json + model.safetensors
    encoder = load_encoder("uncased_L-12_H-768_A-12/bert_model.ckpt")
    ```
    """
    from albert_keras.models.encoder import Encoder

    checkpoint = open_checkpoint(path)
    config = checkpoint.config.replace(**overrides) if overrides else checkpoint.config
    encoder = Encoder(**config.to_dict(), dtype=dtype)
    assignment = _assignment(checkpoint)
    assignment.skip(checkpoint.head_tensors)
    assignment.assign_all(encoder_variables(encoder), checkpoint.encoder_names, allow_missing)
    assignment.finish(encoder)
    return encoder


def load_pretrainer(path: str, *, pair_task: str | None = None,
                    allow_missing: Iterable[str] = (), dtype=None, **overrides):
    """A `Pretrainer` (encoder, masked-LM head, pair head) with the checkpoint's weights.

    Args:
        path: str. As in `load_encoder`; the checkpoint must hold the pretraining heads
            (`BertForPreTraining`, `AlbertForPreTraining`, a TF1 pretraining checkpoint).
        pair_task: str or None. `"sop"` or `"nsp"`; None takes the model's own (ALBERT: SOP,
            BERT: NSP). Defaults to None.
        allow_missing: iterable of str. Key prefixes (`"pair_head"`, `"mlm_head"`,
            `"pooler_dense"`) of weights the checkpoint may lack. Defaults to none.
        dtype: the dtype policy of the encoder and heads. Defaults to None (float32).
        **overrides: `EncoderConfig` fields to change, as in `load_encoder`.
    """
    checkpoint = open_checkpoint(path)
    if not (checkpoint.head_names and checkpoint.head_tensors) and not allow_missing:
        raise ValueError(
            f"{checkpoint.format} checkpoint {checkpoint.source!r} holds an encoder only, no "
            "pretraining heads. Use load_encoder, or pass allow_missing=('mlm_head', "
            "'pair_head') for freshly initialized heads.")
    return _pretrainer(checkpoint, HEADS, pair_task, allow_missing, dtype, overrides,
                       skip_other_heads=False)


def load_pretrainer_where_present(path: str, *, dtype=None):
    """The checkpoint as a `Pretrainer`, with each head it holds; fresh heads where it has none.

    For continued pretraining: a `BertForPreTraining` brings both heads, a `BertForMaskedLM`
    the masked-LM head only, a bare `BertModel` or a fine-tuned `*For...` model none (their
    task heads are skipped). The pair head is for the checkpoint's own pair task.

    Returns:
        `(pretrainer, parts)`: `parts` names what came from the checkpoint among
        `("pooler_dense", "mlm_head", "pair_head")` (a `BertForMaskedLM` has no pooler).
    """
    checkpoint = open_checkpoint(path)
    present = tuple(head for head in HEADS if _holds(checkpoint.head_names, checkpoint, head))
    missing = tuple(head for head in HEADS if head not in present)
    pooler = ("pooler_dense",) if _holds(checkpoint.encoder_names, checkpoint,
                                         "pooler_dense") else ()
    allow_missing = missing + (() if pooler else ("pooler_dense",))
    pretrainer = _pretrainer(checkpoint, present, None, allow_missing, dtype, {},
                             skip_other_heads=True)
    return pretrainer, pooler + present


def _holds(names: dict, checkpoint: Checkpoint, prefix: str) -> bool:
    """Whether the checkpoint has every tensor that `names` gives the weights of `prefix`."""
    specs = [spec for key, spec in names.items() if key.startswith(prefix)]
    return bool(specs) and all(spec.name in checkpoint.names for spec in specs)


def _pretrainer(checkpoint: Checkpoint, heads: tuple[str, ...], pair_task: str | None,
                allow_missing: Iterable[str], dtype, overrides: dict, skip_other_heads: bool):
    """A `Pretrainer` of `checkpoint` with the tensors of `heads`. `skip_other_heads`: leave
    the checkpoint's other head tensors (a fine-tuned task's) unread instead of failing."""
    from albert_keras.models.encoder import Encoder
    from albert_keras.models.pretrainer import Pretrainer

    config = checkpoint.config.replace(**overrides) if overrides else checkpoint.config
    encoder = Encoder(**config.to_dict(), dtype=dtype)
    pretrainer = Pretrainer(encoder, pair_task=pair_task or checkpoint.pair_task)
    head_names = {key: spec for key, spec in checkpoint.head_names.items()
                  if key.startswith(heads)}
    assignment = _assignment(checkpoint)
    if skip_other_heads:
        used = {spec.name for spec in head_names.values()}
        if "mlm_head" in heads:
            used |= set(checkpoint.tied_tensors)  # The decoder copy, checked below.
        assignment.skip(checkpoint.head_tensors - used)
    if "mlm_head" in heads:
        for copy, original in checkpoint.tied_tensors.items():
            if copy in checkpoint.names and not np.array_equal(assignment.read(copy),
                                                               assignment.read(original)):
                raise ValueError(
                    f"Checkpoint {checkpoint.source!r} has an untied {copy!r} that differs "
                    f"from {original!r}; our masked-LM head decodes with the token embedding "
                    "itself.")
    assignment.assign_all(pretrainer_variables(pretrainer),
                          {**checkpoint.encoder_names, **head_names}, allow_missing)
    assignment.finish(pretrainer)
    return pretrainer


def save_pretrained_tokenizer(path: str, directory: str) -> str:
    """Writes the checkpoint's tokenizer as our tokenizer directory (`tokenizer.json` + vocab).

    WordPiece `vocab.txt` keeps the checkpoint's lower-casing and accent stripping;
    SentencePiece `.model` files are copied as they are. Returns `directory`.
    """
    from albert_keras.tokenizers.tokenizer_files import TOKENIZER_CONFIG, save_tokenizer

    files = tokenizer_files(path)
    save_tokenizer(_keras_hub_tokenizer(files), directory)
    # The checkpoint's tokenizer lower-cases its input before SentencePiece (ALBERT's
    # do_lower_case); record that, whatever the model file's own normalizer does.
    config_path = os.path.join(directory, TOKENIZER_CONFIG)
    with open(config_path, encoding="utf-8") as f:
        config = json.load(f)
    config["lowercase"] = files["lowercase"] or config.get("lowercase", False)
    with open(config_path, "w", encoding="utf-8") as f:
        json.dump(config, f, indent=2)
    return directory


def load_pretrained_tokenizer(path: str):
    """The checkpoint's tokenizer as our keras-hub tokenizer (see `save_pretrained_tokenizer`)."""
    from albert_keras.tokenizers.tokenizer_files import load_tokenizer

    with tempfile.TemporaryDirectory() as directory:
        return load_tokenizer(save_pretrained_tokenizer(path, directory))


def tokenizer_files(path: str) -> dict:
    """`{"path", "kind", "lowercase", ...}` of the checkpoint's vocabulary file."""
    files = FORMATS[checkpoint_format(path)].tokenizer_files(os.fspath(path))
    if files is None or not os.path.isfile(files["path"]):
        raise FileNotFoundError(
            f"Checkpoint {path!r} has no tokenizer: expected vocab.txt (WordPiece) or a "
            "SentencePiece .model beside it (keras-hub presets: tokenizer.json + assets/).")
    return files


def convert(source: str, destination: str, task: str = "encoder",
            overwrite: bool = False) -> str:
    """Imports `source` and saves it as a `.keras` file, with its tokenizer beside it.

    Args:
        source: str. Anything `load_encoder` accepts.
        destination: str. The `.keras` file to write. The checkpoint's tokenizer, when it has
            one, goes to `tokenizer/` in the same directory (the layout `pretrain` writes).
        task: str. `"encoder"` (an `Encoder`) or `"pretrainer"` (a `Pretrainer`).
            Defaults to `"encoder"`.
        overwrite: bool. Replace existing files. Defaults to False (an error).

    Returns:
        The path of the written `.keras` file.
    """
    if task not in TASKS:
        raise ValueError(f"`task` must be one of {TASKS}. Received: task={task!r}")
    destination = os.fspath(destination)
    if not destination.endswith(".keras"):
        raise ValueError(
            f"`destination` must be a .keras file. Received: destination={destination!r}")
    checkpoint_format(source)  # a clear error for a wrong source before anything else
    try:
        tokenizer_files(source)
        tokenizer_dir = tokenizer_beside(destination)
    except FileNotFoundError:
        tokenizer_dir = None  # the checkpoint came without a vocabulary
    for existing in (destination, tokenizer_dir):
        if existing and os.path.exists(existing) and not overwrite:
            raise FileExistsError(f"{existing!r} exists and was left as it was; pass "
                                  "overwrite=True (`albert-keras convert --overwrite`) to replace it.")
    model = load_encoder(source) if task == "encoder" else load_pretrainer(source)
    os.makedirs(os.path.dirname(os.path.abspath(destination)), exist_ok=True)
    model.save(destination)
    if tokenizer_dir:
        save_pretrained_tokenizer(source, tokenizer_dir)
    return destination


def _assignment(checkpoint: Checkpoint) -> WeightAssignment:
    assignment = WeightAssignment(checkpoint.names, checkpoint.read_tensor, checkpoint.source)
    assignment.skip(checkpoint.ignored_tensors)
    return assignment


def _keras_hub_tokenizer(files: dict):
    import keras_hub

    if files["kind"] == "sentencepiece":
        return keras_hub.tokenizers.SentencePieceTokenizer(proto=files["path"])
    return keras_hub.tokenizers.WordPieceTokenizer(
        vocabulary=files["path"], lowercase=files["lowercase"],
        strip_accents=files.get("strip_accents", files["lowercase"]), oov_token="[UNK]")
