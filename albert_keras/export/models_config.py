"""`models.config`: the model server's `ModelServerConfig` text proto listing every export.

`tensorflow_model_server --model_config_file=saved_models/models.config` then serves every model
under `saved_models/`, each from its highest version. Base paths are absolute, so the same file
works for a local server and for docker when the directory is mounted at the same path. A base
given as a URL (`gs://...`) is listed as that URL, which the model server reads directly.
"""

from __future__ import annotations

import os

from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from albert_keras.utils import file_io
from albert_keras.utils.atomic_files import write_text_atomic

MODELS_CONFIG = "models.config"


def exported_models(base_dir: str) -> dict[str, list[int]]:
    """`{model name: sorted versions}` for every `{base_dir}/{name}/{int}/saved_model.pb`."""
    models = {}
    if not file_io.isdir(base_dir):
        return models
    for name in file_io.listdir(base_dir):
        versions = list_versions(os.path.join(base_dir, name))
        if versions:
            models[name] = versions
    return models


def list_versions(model_dir: str) -> list[int]:
    """Sorted integer versions under `model_dir` that hold a SavedModel."""
    if not file_io.isdir(model_dir):
        return []
    return sorted(int(entry) for entry in file_io.listdir(model_dir) if entry.isdigit()
                  and file_io.isfile(os.path.join(model_dir, entry, "saved_model.pb")))


def write_models_config(base_dir: str) -> str:
    """Rewrites `{base_dir}/models.config` to list every exported model; returns its path."""
    config = model_server_config_pb2.ModelServerConfig()
    for name in exported_models(base_dir):
        entry = config.model_config_list.config.add()
        entry.name = name
        entry.base_path = file_io.absolute(os.path.join(base_dir, name))
        entry.model_platform = "tensorflow"
    # Whole: a server polling the file never reads half of it.
    return write_text_atomic(os.path.join(base_dir, MODELS_CONFIG),
                             text_format.MessageToString(config))


def read_models_config(path: str) -> model_server_config_pb2.ModelServerConfig:
    """Parses a `models.config` file (errors name the file)."""
    text = file_io.read_text(path)
    try:
        return text_format.Parse(text, model_server_config_pb2.ModelServerConfig())
    except text_format.ParseError as error:
        raise ValueError(f"{path} is not a ModelServerConfig text proto: {error}") from None
