"""`Checkpoint`: a checkpoint from elsewhere, opened and described in our terms."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from albert_keras.convert.weight_assignment import TensorName
from albert_keras.models.encoder_config import EncoderConfig


@dataclasses.dataclass(frozen=True)
class Checkpoint:
    """What a format reader (`hugging_face`, `tf1_checkpoint`, `keras_hub_preset`) found.

    Args:
        source: str. The path, as shown in messages.
        format: str. `"hugging_face"`, `"tf1_checkpoint"` or `"keras_hub_preset"`.
        config: EncoderConfig. Built from the checkpoint's own config file.
        pair_task: str. `"sop"` (ALBERT) or `"nsp"` (BERT), for the pair head.
        names: frozenset of str. Every tensor in the checkpoint.
        read_tensor: callable. Reads one tensor by name.
        encoder_names: dict. Encoder weight key -> `TensorName` (see `model_weights`).
        head_names: dict. `mlm_head/...` and `pair_head/...` keys -> `TensorName`.
        head_tensors: frozenset of str. Tensors of heads, skipped when importing an encoder.
        ignored_tensors: frozenset of str. Tensors that are never weights: buffers such as
            `position_ids`, optimizer slots, step counters.
        tied_tensors: dict. Redundant copies of a tied tensor (an explicit decoder matrix) ->
            the tensor they must equal; checked when importing the heads.
        tokenizer: dict or None. `{"path", "kind": "wordpiece"|"sentencepiece", "lowercase"}`
            of the checkpoint's vocabulary file, when it has one.
    """

    source: str
    format: str
    config: EncoderConfig
    pair_task: str
    names: frozenset
    read_tensor: Callable[[str], np.ndarray]
    encoder_names: dict[str, TensorName]
    head_names: dict[str, TensorName]
    head_tensors: frozenset = frozenset()
    ignored_tensors: frozenset = frozenset()
    tied_tensors: dict[str, str] = dataclasses.field(default_factory=dict)
    tokenizer: dict | None = None
