"""`export_pipeline`: the `albert-keras export` job — a pipeline's trained model to TF Serving."""

from __future__ import annotations

import json
import os
import shlex

import keras

from albert_keras.export.export_for_serving import export_for_serving
from albert_keras.export.models_config import MODELS_CONFIG
from albert_keras.export.portable_export import export_portable
from albert_keras.export.serving_signatures import SIGNATURE_NAMES
from albert_keras.tasks.serving_settings import LABELS_FILE, ServingSettings
from albert_keras.tokenizers.tokenizer_files import load_tokenizer, tokenizer_fingerprint
from albert_keras.utils import file_io
from albert_keras.utils.published_run import RUN_RECORD, check_tokenizer_matches, published_record
from albert_keras.utils.tokenizer_beside import tokenizer_beside


def export_pipeline(config, model_path: str | None = None, version: int | None = None,
                    overwrite: bool = False) -> str:
    """Exports the pipeline's model to `{export.base_dir}/{model name}/{version}/` (or, with
    `export.format` onnx / litert, to `{export.base_dir}/{model name}_{format}/`).

    The model is `model_path`, else `export.model_path`, else the fine-tuned
    `{finetune.output_dir}/{name}/model.keras` when it exists, else the pretrained
    `{train.output_dir}/{name}/encoder.keras`. The tokenizer is `export.tokenizer_path` or the
    `tokenizer/` next to the model, and must be the one the model was trained with
    (`check_model_tokenizer`); a fine-tuned model is served with the `ServingSettings` of its
    `labels.json` (label names, sequence length, a span extractor's context windows). Prints
    how to serve the export and how to query it.

    Args:
        config: `PipelineConfig` (see `albert_keras.pipeline.load_pipeline`).
        model_path: str or None. A `.keras` file; overrides the config.
        version: int or None. Overrides `export.version`; None there too = next free version.
        overwrite: bool. Replace an existing version (or `export.overwrite`).

    Returns:
        The version directory written (the ONNX / LiteRT directory).
    """
    export = config.export
    model_path = model_path or export.model_path or _default_model_path(config)
    if not file_io.isfile(model_path):
        raise FileNotFoundError(f"No model to export at {model_path!r}. Train one first "
                                "(albert-keras pretrain / finetune) or pass --model PATH.keras.")
    run_dir = os.path.dirname(model_path)
    tokenizer_path = export.tokenizer_path or tokenizer_beside(model_path)
    if file_io.is_url(model_path) and not export.tokenizer_path \
            and published_record(model_path) is None:
        raise FileNotFoundError(
            f"The run of {model_path} is not published: {os.path.join(run_dir, RUN_RECORD)} "
            "is missing (a pretrain or finetune stopped while publishing its outputs; run it "
            "again), or set export.tokenizer_path for a model from elsewhere.")
    if not file_io.exists(tokenizer_path):
        raise FileNotFoundError(f"No tokenizer for {model_path}: expected {tokenizer_path!r}. "
                                "Set export.tokenizer_path.")
    settings = _run_settings(run_dir)  # None: not a fine-tuning run.
    model = _load_model(model_path)
    tokenizer = load_tokenizer(tokenizer_path)
    check_model_tokenizer(model_path, model, tokenizer_path, tokenizer)
    model_name = export.model_name or config.name
    if export.format != "saved_model":
        path = export_portable(
            model, os.path.join(export.base_dir, f"{model_name}_{export.format}"),
            export.format, tokenizer=tokenizer, labels=settings.labels if settings else None,
            quantize=export.quantize, overwrite=overwrite or export.overwrite)
        print(f"[export] {model_name} as {export.format} -> {path} (from {model_path}); token "
              "ids in, tokenizer/ and model_info.json beside it")
        return os.path.dirname(path)
    trained_length = settings.max_sequence_length if settings else None
    sequence_length = (export.sequence_length or trained_length
                       or config.data.max_sequence_length)
    longest = getattr(getattr(model, "encoder", model), "max_sequence_length", None)
    if isinstance(longest, int):
        sequence_length = min(sequence_length, longest)
    version_dir = export_for_serving(
        model, tokenizer, os.path.join(export.base_dir, model_name),
        version=version if version is not None else export.version,
        overwrite=overwrite or export.overwrite, sequence_length=sequence_length,
        settings=settings, warmup_texts=export.warmup_texts or None,
        dtype="float32" if export.precision == "float32" else None)
    print(serving_instructions(version_dir, export.grpc_port, export.rest_port,
                               source=model_path))
    return version_dir


def serving_instructions(version_dir: str, grpc_port: int = 8500, rest_port: int = 8501,
                         source: str | None = None) -> str:
    """How to start the model server on an export's `models.config`, and how to query it."""
    model_dir = os.path.dirname(file_io.absolute(version_dir))
    base_dir, model_name = os.path.dirname(model_dir), os.path.basename(model_dir)
    models_config = os.path.join(base_dir, MODELS_CONFIG)
    body = json.dumps({"signature_name": "serving_default",
                       "inputs": {"text": ["Serving ALBERT and BERT with TensorFlow."]}})
    mount = shlex.quote(f"{base_dir}:{base_dir}")
    lines = [
        f"[export] {model_name} version {os.path.basename(version_dir)} -> {version_dir}"
        + (f" (from {source})" if source else ""),
        f"  signatures: {', '.join(SIGNATURE_NAMES)}",
        f"Serve every model in {models_config}:",
        f"  tensorflow_model_server --port={grpc_port} --rest_api_port={rest_port} "
        f"--model_config_file={shlex.quote(models_config)}",
        f"  docker run --rm -p {grpc_port}:8500 -p {rest_port}:8501 -v {mount} tensorflow/serving "
        f"--model_config_file={shlex.quote(models_config)}",
        "Query it (REST):",
        f"  curl -s -X POST http://localhost:{rest_port}/v1/models/{model_name}:predict "
        f"-H 'Content-Type: application/json' -d {shlex.quote(body)}",
        "Query it (gRPC, Python):",
        f"  python -c \"from albert_keras.export import ServingClient; "
        f"print(ServingClient('{model_name}', grpc_port={grpc_port}).predict(['some text']))\"",
    ]
    return "\n".join(lines)


def check_model_tokenizer(model_path: str, model: keras.Model, tokenizer_path: str,
                          tokenizer) -> None:
    """Refuses a tokenizer that is not the one the model was trained with: another fingerprint
    than the one published with the model, or (for a model from before fingerprints) another
    vocabulary size than the model's token embedding. One line naming both."""
    fingerprint = (tokenizer_fingerprint(tokenizer_path) if file_io.isdir(tokenizer_path)
                   else None)
    check_tokenizer_matches(model_path, model_vocabulary_size(model), tokenizer_path,
                            int(tokenizer.vocabulary_size()), fingerprint)


def model_vocabulary_size(model: keras.Model) -> int | None:
    """The vocabulary size of the model's encoder (a task model's, a pretrainer's), or None."""
    size = getattr(getattr(model, "encoder", model), "vocabulary_size", None)
    return int(size) if isinstance(size, int) else None


def _default_model_path(config) -> str:
    finetuned = os.path.join(config.finetune.output_dir, config.name, "model.keras")
    if file_io.isfile(finetuned):
        return finetuned
    return os.path.join(config.train.output_dir, config.name, "encoder.keras")


def _run_settings(run_dir: str) -> ServingSettings | None:
    """The `ServingSettings` of a fine-tuning run (its `labels.json`), or None."""
    path = os.path.join(run_dir, LABELS_FILE)
    return ServingSettings.read(path) if file_io.isfile(path) else None


def _load_model(path: str) -> keras.Model:
    # Importing the model modules registers their classes for deserialization.
    from albert_keras.models import (  # noqa: F401
        encoder, pretrainer, span_extractor, text_classifier, token_classifier)

    return keras.saving.load_model(path, compile=False)
