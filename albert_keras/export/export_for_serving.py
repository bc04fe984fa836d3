"""`export_for_serving`: a Keras model + its tokenizer -> a versioned SavedModel for TF Serving.

A thin layer over `keras.export.ExportArchive`: it tracks the model and the `TextPreprocessor`
(so the tokenizer's tensorflow-text resources are saved), adds the three signatures of
`serving_signatures`, and lays the result out the way the model server expects:

```
{export_dir}/{version}/saved_model.pb, variables/
                      assets/            tokenizer.json + spiece.model or vocab.txt (+ labels.txt)
                      assets.extra/tf_serving_warmup_requests
{export_dir}/../models.config            every model next to this one
```

`export_dir` may be a URL (`gs://bucket/saved_models/name`): the SavedModel is written there
by TensorFlow's file systems, and the version is published by its `saved_model.pb`, moved in
last (an object store cannot rename a folder).

Not `tf.Module` + `tf.saved_model.save`: that reloads in Python but fails in the model server's
C++ loader ("Could not find variable ..." at the first request).
"""

from __future__ import annotations

import os
import re
from typing import Sequence

import keras
import numpy as np

from albert_keras.export import warmup
from albert_keras.export.models_config import list_versions, write_models_config
from albert_keras.export.serving_signatures import complete_settings, serving_signatures
from albert_keras.models.dtype_copy import copy_with_dtype
from albert_keras.tasks.inputs.text_preprocessor import TextPreprocessor
from albert_keras.tasks.serving_settings import ServingSettings
from albert_keras.tokenizers.tokenizer_files import save_tokenizer
from albert_keras.utils import file_io
from albert_keras.utils.atomic_files import process_alive, publish_tree


SAVED_MODEL_FILE = "saved_model.pb"  # Its presence makes a version loadable.


def export_for_serving(model: keras.Model, tokenizer, export_dir: str, *,
                       version: int | None = None, overwrite: bool = False,
                       sequence_length: int | None = None,
                       settings: ServingSettings | None = None,
                       warmup_texts: Sequence[str | bytes] | None = None,
                       dtype: str | None = "float32") -> str:
    """Exports `model` for TensorFlow Serving; returns the version directory.

    Args:
        model: keras.Model. An `Encoder`, a task model (`TextClassifier`, ...) or any model
            taking `token_ids`, `segment_ids`, `padding_mask` and returning a tensor or a dict.
        tokenizer: the keras-hub tokenizer the model was trained with.
        export_dir: str. The model's directory, `saved_models/<model name>`; its name is the
            served model name and its parent gets a `models.config`.
        version: int or None. Version to write (>= 1). None takes the next free one.
        overwrite: bool. Replace an existing version; otherwise that is an error and the old
            version stays as it was. Defaults to False.
        sequence_length: int or None. Tokens per raw-text request row. None takes the
            `settings.max_sequence_length`, else the encoder's `max_sequence_length`.
        settings: `ServingSettings` or None. The fine-tuning run's (its `labels.json`, read
            with `ServingSettings.read`): class names, multi-label, and a `SpanExtractor`'s
            `max_query_length` and `doc_stride`, so that long contexts are read in the
            windows the model was trained on. Unset fields come from the model
            (`complete_settings`); a span extractor's unset `doc_stride` is the training
            default (`finetune.doc_stride: null`). Defaults to None.
        warmup_texts: list of str or None. Texts of the warmup requests; None uses samples
            with empty, very long, invalid and emoji texts.
        dtype: str or None. The dtype policy the served graph computes in: `"float32"` (what
            TF Serving's CPU builds run fast and clients expect; a model trained in
            `mixed_bfloat16` is served as its float32 copy, same weights), another policy
            name, or None for the model's own. Outputs are float32 either way.

    Example:
    ```python
    # needs: a `classifier` and its `tokenizer`
    path = export_for_serving(classifier, tokenizer, "saved_models/sentiment")
    # saved_models/sentiment/1, and saved_models/models.config lists "sentiment"
    settings = ServingSettings.read("runs/squad/labels.json")  # a fine-tuned reader's run
    export_for_serving(reader, tokenizer, "saved_models/squad", settings=settings)
    ```
    """
    export_dir = str(export_dir).rstrip("/") if file_io.is_url(str(export_dir)) \
        else os.path.normpath(str(export_dir))
    model_name = os.path.basename(export_dir)
    versions = list_versions(export_dir)
    if version is None:
        version = (versions[-1] + 1) if versions else 1
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ValueError(f"`version` must be an integer >= 1. Received: version={version!r}")
    version_dir = os.path.join(export_dir, str(version))
    if file_io.exists(version_dir) and not overwrite:
        raise FileExistsError(
            f"Version {version} of model {model_name!r} already exists at {version_dir}; it was "
            "left unchanged. Export a new version (leave `version` unset for the next free one) "
            "or pass overwrite=True (`--overwrite`) to replace it.")
    check_finite_weights(model)
    if dtype is not None:
        model = copy_with_dtype(model, dtype)
    longest = _max_sequence_length(model)
    trained_length = settings.max_sequence_length if settings else None
    sequence_length = sequence_length or trained_length or longest
    if sequence_length is None:
        raise ValueError("Pass `sequence_length`: the model (and its `encoder`) has no "
                         f"`max_sequence_length`. Received: {type(model).__name__}")
    if longest is not None and sequence_length > longest:
        raise ValueError(f"`sequence_length` must be at most the model's max_sequence_length="
                         f"{longest}. Received: sequence_length={sequence_length}")
    settings = complete_settings(model, settings, sequence_length)
    preprocessor = TextPreprocessor(tokenizer, sequence_length=sequence_length)

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.track(preprocessor)
    for name, (function, input_signature) in serving_signatures(
            model, preprocessor, settings).items():
        archive.add_endpoint(name, function, input_signature=input_signature)

    # Write next to the target and rename at the end: the model server polls `export_dir` and
    # must never see a half-written version (it ignores names that are not integers). On a URL
    # (no directory rename) the files are moved in one by one, `saved_model.pb` last.
    file_io.makedirs(export_dir)
    remove_stale_staging(export_dir)
    staging = os.path.join(export_dir, f".{version}.staging-{os.getpid()}")
    file_io.remove(staging)
    try:
        archive.write_out(staging, verbose=False)
        save_tokenizer(tokenizer, os.path.join(staging, "assets"))
        if settings.labels is not None:
            file_io.write_text(os.path.join(staging, "assets", "labels.txt"),
                               "".join(f"{name}\n" for name in settings.labels))
        requests = warmup.warmup_requests(model_name, preprocessor,
                                          warmup_texts or warmup.SAMPLE_TEXTS)
        warmup.write_warmup_file(staging, requests)
        if file_io.is_url(version_dir):
            publish_tree(staging, version_dir, last=(SAVED_MODEL_FILE,))
        else:
            replaced = os.path.join(export_dir, f".{version}.replaced-{os.getpid()}")
            if os.path.exists(version_dir):  # overwrite: moved aside until the new one is in.
                os.rename(version_dir, replaced)
            os.rename(staging, version_dir)
            file_io.remove(replaced)
    finally:
        file_io.remove(staging)
    write_models_config(os.path.dirname(export_dir) or ".")
    return version_dir


def remove_stale_staging(export_dir: str) -> list[str]:
    """Removes the staging (and replaced) folders of exports that were killed (their process
    is gone)."""
    removed = []
    if file_io.is_url(export_dir):
        return removed  # Whose staging it is cannot be told there (`atomic_files`).
    for name in os.listdir(export_dir):
        match = re.fullmatch(r"\.\d+\.(?:staging|replaced)-(\d+)", name)
        if match and not _process_alive(int(match.group(1))):
            file_io.remove(os.path.join(export_dir, name))
            removed.append(name)
    return removed


def _process_alive(pid: int) -> bool:
    """This process's own staging counts as live: an export in progress here."""
    return pid == os.getpid() or process_alive(pid)


def check_finite_weights(model: keras.Model) -> None:
    """Refuses to serve a model whose weights are not all finite, naming the first bad one."""
    for variable in model.weights:
        values = keras.ops.convert_to_numpy(variable)
        if not np.all(np.isfinite(values)):
            bad = int(np.size(values) - np.isfinite(values).sum())
            raise ValueError(
                f"The model's weight {variable.path!r} holds {bad} NaN or infinite value(s) of "
                f"{np.size(values)}: it would serve NaN. Export a model from a run that finished "
                "(its summary.json says status 'completed').")


def _max_sequence_length(model) -> int | None:
    """The longest input of `model` (or of its `.encoder`), or None when it does not say."""
    for candidate in (model, getattr(model, "encoder", None)):
        length = getattr(candidate, "max_sequence_length", None)
        if isinstance(length, int):
            return length
    return None
