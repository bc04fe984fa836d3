"""`ExportConfig`: the `export` section of a pipeline (owned by the export job)."""

from __future__ import annotations

import dataclasses
import re

FORMATS = ("saved_model", "onnx", "litert")
MODEL_NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.-]*"


@dataclasses.dataclass(frozen=True)
class ExportConfig:
    """Where and how a trained model is exported for TensorFlow Serving.

    `export` writes `{base_dir}/{model_name}/{version}/` (a SavedModel with the signatures
    `serving_default`, `serve_ids` and `serve_examples`, the tokenizer in `assets/` and warmup
    requests in `assets.extra/`) and rewrites `{base_dir}/models.config`.

    Args:
        base_dir: str. Parent of every exported model; the model server's root. Defaults to
            `"saved_models"`.
        model_name: str or None. Name of the served model (letters, digits, `_`, `.`, `-`).
            None uses the pipeline's name. Defaults to None.
        model_path: str or None. The `.keras` file to export. None takes the fine-tuned
            `{finetune.output_dir}/{name}/model.keras` when it exists, else the pretrained
            `{train.output_dir}/{name}/encoder.keras`. Defaults to None.
        tokenizer_path: str or None. Tokenizer directory, `.model` or `vocab.txt`. None takes
            `tokenizer/` next to the model file. Defaults to None.
        version: int or None. Version directory to write (>= 1); None takes the next free one.
            Defaults to None.
        overwrite: bool. Replace an existing version instead of failing. Defaults to False.
        sequence_length: int or None. Tokens per request row for the raw-text signature,
            special tokens included; `serve_examples` reads records of this length. None takes
            the fine-tuning length (`labels.json`) or `data.max_sequence_length`. Defaults to None.
        warmup_texts: list of str. Texts of the warmup requests; empty uses built-in samples
            (with empty, very long, invalid and emoji texts). Defaults to `()`.
        precision: str. `float32` serves a float32 copy of a model trained in mixed precision
            (TF Serving CPU builds run float32 fast; outputs are float32 either way);
            `as_trained` keeps the model's dtype policy. Defaults to `float32`.
        grpc_port: int. gRPC port in the printed serving command. Defaults to 8500.
        rest_port: int. REST port in the printed serving command. Defaults to 8501.
        format: str. `saved_model` (TF Serving, raw text in; the above), or `onnx` / `litert`:
            the token-ids model as `{base_dir}/{model_name}_{format}/model.onnx` or
            `model.tflite` with `tokenizer/` and `model_info.json` beside it (these runtimes
            have no tokenizer ops, so the app tokenizes). Defaults to `saved_model`.
        quantize: str. `none`, or `dynamic_int8` for LiteRT (int8 weights, float
            activations). Defaults to `none`.
    """

    base_dir: str = "saved_models"
    model_name: str | None = None
    model_path: str | None = None
    tokenizer_path: str | None = None
    version: int | None = None
    overwrite: bool = False
    sequence_length: int | None = None
    warmup_texts: tuple[str, ...] = ()
    precision: str = "float32"
    grpc_port: int = 8500
    rest_port: int = 8501
    format: str = "saved_model"
    quantize: str = "none"

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise ValueError(f"`export.format` must be one of {FORMATS}. "
                             f"Received: export.format={self.format!r}")
        if self.quantize not in ("none", "dynamic_int8"):
            raise ValueError("`export.quantize` must be one of ('none', 'dynamic_int8'). "
                             f"Received: export.quantize={self.quantize!r}")
        if self.quantize != "none" and self.format != "litert":
            raise ValueError("`export.quantize` applies to export.format=litert only. Received: "
                             f"export.format={self.format!r}, export.quantize={self.quantize!r}")
        if self.precision not in ("float32", "as_trained"):
            raise ValueError("`export.precision` must be one of ('float32', 'as_trained'). "
                             f"Received: export.precision={self.precision!r}")
        if not self.base_dir.strip():
            raise ValueError("`export.base_dir` must not be empty. "
                             f"Received: export.base_dir={self.base_dir!r}")
        if self.model_name is not None and not re.fullmatch(MODEL_NAME_PATTERN, self.model_name):
            raise ValueError("`export.model_name` must be letters, digits, `_`, `.` or `-`. "
                             f"Received: export.model_name={self.model_name!r}")
        if self.version is not None and self.version < 1:
            raise ValueError("`export.version` must be >= 1. "
                             f"Received: export.version={self.version}")
        if self.sequence_length is not None and self.sequence_length < 3:
            raise ValueError("`export.sequence_length` must be >= 3. "
                             f"Received: export.sequence_length={self.sequence_length}")
        for name in ("grpc_port", "rest_port"):
            port = getattr(self, name)
            if not 1 <= port <= 65535:
                raise ValueError(f"`export.{name}` must be in [1, 65535]. "
                                 f"Received: export.{name}={port}")
