"""`save_keras_hub_preset`: a model trained here as a keras-hub preset directory.

The encoder's weights go into a keras-hub `BertBackbone` or `AlbertBackbone` of the same sizes
(through the table `keras_hub_preset.read` imports with, backwards), which keras-hub itself
saves with `save_to_preset`, with the tokenizer as a keras-hub `BertTokenizer` or
`AlbertTokenizer`: the directory `Backbone.from_preset(directory)` loads and
`keras_hub.upload_preset(uri, directory)` publishes to Kaggle or the Hugging Face Hub. A
`Pretrainer`'s heads are not written (a keras-hub preset of a backbone has none).

keras-hub's backbones fix what ours leave open: the tanh GELU (`activation="gelu_approximate"`),
LayerNorm epsilon 1e-12, factorized embeddings for ALBERT and none for BERT, whole-block
sharing. An encoder outside that fails with an error naming the field, before anything is
written.
"""

from __future__ import annotations


import numpy as np

from albert_keras import tokenizers
from albert_keras.convert import keras_hub_preset
from albert_keras.convert import model_weights as mw
from albert_keras.models.encoder import Encoder
from albert_keras.models.encoder_config import EncoderConfig
from albert_keras.utils.output_directory import write_output_directory


def backbone_class(config: EncoderConfig) -> str:
    """`"BertBackbone"` or `"AlbertBackbone"` for an encoder of `config`, else a `ValueError`
    naming the field keras-hub's backbones cannot hold."""
    if config.activation != "gelu_approximate":
        raise ValueError("keras-hub's BERT and ALBERT backbones compute the tanh GELU; an "
                         f"encoder with activation={config.activation!r} would answer "
                         "differently. Only activation='gelu_approximate' can be exported.")
    if config.layer_norm_epsilon != 1e-12:
        raise ValueError("keras-hub's backbones use LayerNorm epsilon 1e-12. Received: "
                         f"layer_norm_epsilon={config.layer_norm_epsilon}")
    family = mw.bert_or_albert(config, "keras-hub")
    return "AlbertBackbone" if family == "albert" else "BertBackbone"


def keras_hub_backbone(encoder: Encoder):
    """A keras-hub backbone holding `encoder`'s weights (float32)."""
    import keras_hub

    config = encoder.encoder_config
    class_name = backbone_class(config)
    sizes = dict(vocabulary_size=config.vocabulary_size, num_layers=config.num_layers,
                 num_heads=config.num_heads, hidden_dim=config.hidden_dim,
                 intermediate_dim=config.intermediate_dim, dropout=config.dropout,
                 max_sequence_length=config.max_sequence_length,
                 num_segments=config.num_segments)
    if class_name == "AlbertBackbone":
        backbone = keras_hub.models.AlbertBackbone(
            **sizes, embedding_dim=config.embedding_dim, num_groups=mw.num_blocks(config),
            num_inner_repetitions=1)
    else:
        backbone = keras_hub.models.BertBackbone(**sizes)
    targets = {variable.path: variable for variable in backbone.weights}
    ours = mw.encoder_variables(encoder)
    names = keras_hub_preset.encoder_names(config, class_name == "AlbertBackbone")
    assigned = set()
    for key, variable in ours.items():
        target = targets[names[key].name]
        target.assign(np.asarray(variable.numpy(), np.float32).reshape(tuple(target.shape)))
        assigned.add(names[key].name)
    missing = sorted(set(targets) - assigned)
    if missing:  # A keras-hub layout this table does not know: never save half a model.
        raise ValueError(f"No weight of ours for keras-hub's {missing[:5]}")
    return backbone


def keras_hub_tokenizer(tokenizer):
    """Our tokenizer as keras-hub's `BertTokenizer` (WordPiece) or `AlbertTokenizer`."""
    import keras_hub

    if tokenizers.tokenizer_kind(tokenizer) == "sentencepiece":
        return keras_hub.models.AlbertTokenizer(proto=tokenizers.sentencepiece_proto_bytes(tokenizer))
    settings = tokenizers.tokenizer_settings(tokenizer)
    return keras_hub.models.BertTokenizer(vocabulary=tokenizer.get_vocabulary(),
                                          lowercase=settings["lowercase"],
                                          strip_accents=settings["strip_accents"])


def save_keras_hub_preset(model, directory: str, tokenizer=None, overwrite: bool = False) -> str:
    """Writes `model`'s encoder (and `tokenizer`) as a keras-hub preset directory.

    Args:
        model: `Encoder`, or a model with one (`Pretrainer`, a task model): its `encoder`.
        directory: str. The preset directory (created; replaced whole with `overwrite`).
        tokenizer: keras-hub tokenizer or None. The model's tokenizer.
        overwrite: bool. Replace an existing directory. Defaults to False (an error).

    Returns:
        `directory`.

    Example:
    ```python
    # needs: a pretraining run's `encoder.keras` and its `tokenizer/`
    encoder = keras.saving.load_model("runs/albert_tiny/encoder.keras")
    tokenizer = albert_keras.tokenizers.load_tokenizer("runs/albert_tiny/tokenizer")
    save_keras_hub_preset(encoder, "out/albert_tiny_preset", tokenizer)
    # keras_hub.models.AlbertBackbone.from_preset("out/albert_tiny_preset") loads it.
    ```
    """
    encoder = model if isinstance(model, Encoder) else getattr(model, "encoder", None)
    if not isinstance(encoder, Encoder):
        raise ValueError("Only an `Encoder`, or a model with one, can be written as a keras-hub "
                         f"preset. Received: {type(model).__name__}")
    backbone = keras_hub_backbone(encoder)  # Refuses before anything is written.
    def write(path: str) -> None:
        backbone.save_to_preset(path)
        if tokenizer is not None:
            keras_hub_tokenizer(tokenizer).save_to_preset(path)

    return write_output_directory(directory, write, overwrite, "convert")
