"""`export_portable`: a token-ids model as ONNX or LiteRT, with its tokenizer beside it.

Keras's own `model.export(format="onnx" | "litert")` does the conversion (tf2onnx; the TFLite
converter with built-in ops only, so the file needs no Flex delegate); batch and sequence
length stay dynamic. These formats take token ids, not text: the tensorflow-text tokenizer ops
of the TF Serving export exist in neither ONNX Runtime nor LiteRT, so the tokenizer travels as
files (`tokenizer/`, readable by `albert_keras.tokenizers.load_tokenizer`, and the
vocabulary any WordPiece or SentencePiece library reads) and the app tokenizes. The directory:

    model.onnx | model.tflite   inputs token_ids, segment_ids, padding_mask int32 [batch, seq]
    tokenizer/                  spiece.model or vocab.txt, and tokenizer.json
    model_info.json             format, inputs, outputs, max_sequence_length, labels, quantize
"""

from __future__ import annotations

import json
import os
from typing import Any, Sequence

import keras
import tensorflow as tf

from albert_keras.models.dtype_copy import copy_with_dtype
from albert_keras.pretraining_data.records.features import INPUT_FEATURES
from albert_keras.tokenizers.tokenizer_files import save_tokenizer
from albert_keras.utils import file_io
from albert_keras.utils.output_directory import write_output_directory
from albert_keras.utils.tokenizer_beside import TOKENIZER_DIR

FORMATS = {"onnx": "model.onnx", "litert": "model.tflite"}
QUANTIZE = ("none", "dynamic_int8")


def export_portable(model: keras.Model, directory: str, format: str, tokenizer=None,
                    labels: Sequence[str] | None = None, quantize: str = "none",
                    overwrite: bool = False) -> str:
    """Writes `model` (ids in) as ONNX or LiteRT into `directory`, its tokenizer beside it.

    Args:
        model: keras.Model taking `token_ids`, `segment_ids`, `padding_mask` (an `Encoder` or a
            fine-tuned task model). A mixed-precision model is exported as a float32 copy.
        directory: str. Created; replaced whole with `overwrite`.
        format: str. `"onnx"` or `"litert"`.
        tokenizer: keras-hub tokenizer or None. Saved to `tokenizer/`.
        labels: list of str or None. Class names, written to `model_info.json`.
        quantize: str. `"dynamic_int8"` (LiteRT only): weights stored as int8, activations
            float (TFLite's dynamic-range quantization). Defaults to `"none"`.
        overwrite: bool. Replace an existing directory. Defaults to False (an error).

    Returns:
        The path of the model file.
    """
    if format not in FORMATS:
        raise ValueError(f"`format` must be one of {tuple(FORMATS)}. Received: format={format!r}")
    if quantize not in QUANTIZE:
        raise ValueError(f"`quantize` must be one of {QUANTIZE}. Received: quantize={quantize!r}")
    if quantize != "none" and format != "litert":
        raise ValueError("`quantize` applies to LiteRT only. Received: "
                         f"format={format!r}, quantize={quantize!r}")
    model = copy_with_dtype(model, "float32")  # Itself when float32 already.
    path = os.path.join(directory, FORMATS[format])
    signature = [{name: tf.TensorSpec([None, None], tf.int32, name=name)
                  for name in INPUT_FEATURES}]
    options: dict[str, Any] = {}
    if format == "litert":  # Built-in ops only (Keras also allows Flex ops): a TF op that
        # LiteRT lacks fails the export here, not the app on the phone.
        options["target_spec"] = {"supported_ops": [tf.lite.OpsSet.TFLITE_BUILTINS]}
    if quantize == "dynamic_int8":
        options["optimizations"] = [tf.lite.Optimize.DEFAULT]
    encoder = getattr(model, "encoder", model)
    info = {"format": format, "file": FORMATS[format], "inputs": list(INPUT_FEATURES),
            "input_dtype": "int32", "model": type(model).__name__,
            "max_sequence_length": getattr(encoder, "max_sequence_length", None),
            "labels": list(labels) if labels else None, "quantize": quantize,
            "tokenizer": TOKENIZER_DIR if tokenizer is not None else None}

    def write(temporary: str) -> None:
        file_io.makedirs(temporary)
        model.export(os.path.join(temporary, FORMATS[format]), format=format,
                     input_signature=signature, verbose=False, **options)
        if tokenizer is not None:
            save_tokenizer(tokenizer, os.path.join(temporary, TOKENIZER_DIR))
        file_io.write_text(os.path.join(temporary, "model_info.json"),
                           json.dumps(info, indent=2) + "\n")

    write_output_directory(directory, write, overwrite, "export")
    return path
