"""`copy_with_dtype`: the same model, weights and all, under another dtype policy; and
`save_float32`: a `.keras` file that computes in float32 wherever it is loaded.

A model trained under a mixed policy (`"mixed_bfloat16"`, `"mixed_float16"`) keeps float32
variables; only its layers' computations are in 16 bits. Saved as it is, the `.keras` file
names the mixed policy, and `keras.saving.load_model` rebuilds a model that computes in bf16
also on hardware without it (emulated: slow, and about 6e-2 away from float32). The jobs save
with `save_float32` instead and record the training precision beside the file (`precision` in
`summary.json` / `report.json` and `run.json`). To compute in bf16 again after loading:
`copy_with_dtype(keras.saving.load_model(path), "mixed_bfloat16")`.
"""

from __future__ import annotations

from typing import Any

import keras

_POLICY_CLASSES = ("DTypePolicy", "FloatDTypePolicy")


def copy_with_dtype(model: keras.Model, dtype: str | None) -> keras.Model:
    """A copy of `model` whose layers all use the dtype policy `dtype` (e.g. `"float32"` to
    serve a model trained in `"mixed_bfloat16"`, or the reverse to fine-tune in bfloat16).

    Variables are float32 under every float policy here, so the weights carry over exactly.
    A compiled model's copy is compiled alike (same losses, metrics and optimizer settings,
    losses and metrics still in float32) with a fresh optimizer state. Returns `model` itself
    when its policy is already `dtype`.

    Args:
        model: keras.Model. A model whose `get_config()` rebuilds it (`Encoder`, task models).
        dtype: str or None. A Keras dtype policy name; None means `"float32"`.

    Example:
    ```python
    encoder = Encoder.from_preset("albert_tiny", vocabulary_size=100)  # Or a loaded model.
    bfloat16 = copy_with_dtype(encoder, "mixed_bfloat16")
    assert bfloat16.token_embedding.compute_dtype == "bfloat16"
    ```
    """
    dtype = dtype or "float32"
    if _uses_policy(model, dtype):
        return model
    return _rebuilt(model, keras.saving.serialize_keras_object(model), dtype)


def save_float32(model: keras.Model, path: str, include_optimizer: bool = True) -> None:
    """Saves `model` to the `.keras` file `path` under the float32 dtype policy.

    The file holds `model`'s weights exactly (its variables are float32 under any policy), so
    `keras.saving.load_model(path)` gives a float32 model on any hardware, whatever `model`
    was trained in. With `include_optimizer`, a compiled model's compile settings and
    optimizer state (slots, iteration count) are saved too, as `model.save` would.

    Args:
        model: keras.Model. A model whose `get_config()` rebuilds it (`Encoder`, task models).
        path: str. A `.keras` file, or a URL TensorFlow's file systems write.
        include_optimizer: bool. Save the compile settings and optimizer state; False saves
            an uncompiled model (half the size of one with Adam-like slots). Defaults to True.

    Example:
    ```python
    encoder = Encoder.from_preset("albert_tiny", vocabulary_size=100, dtype="mixed_bfloat16")
    save_float32(encoder, "encoder.keras")
    assert keras.saving.load_model("encoder.keras").token_embedding.compute_dtype == "float32"
    ```
    """
    compiled = getattr(model, "compiled", False)
    if (include_optimizer or not compiled) and _uses_policy(model, "float32"):
        model.save(path)  # Already what the file should hold.
        return
    compiled = compiled and include_optimizer
    config = keras.saving.serialize_keras_object(model)
    if not compiled:
        config.pop("compile_config", None)
    copy = _rebuilt(model, config, "float32")
    if compiled and model.optimizer is not None and model.optimizer.built:
        state: dict[str, Any] = {}
        model.optimizer.save_own_variables(state)  # Keras's own per-variable store.
        if not copy.optimizer.built:
            copy.optimizer.build(copy.trainable_variables)
        if len(state) != len(copy.optimizer.variables):  # Keras would only warn.
            raise ValueError(
                f"The optimizer of {model.name!r} has {len(state)} variables but its float32 "
                f"copy's has {len(copy.optimizer.variables)}; save it with "
                "include_optimizer=False, or with `model.save` in its own dtype policy.")
        copy.optimizer.load_own_variables(state)
    copy.save(path)


def _rebuilt(model: keras.Model, config: dict, dtype: str) -> keras.Model:
    """`model` rebuilt from its serialized `config` under `dtype`, with its weights. Only the
    model's own config changes: the compile config (losses, metrics) keeps its float32."""
    config = {**config, "config": _replace_dtype(config["config"], dtype)}
    copy = keras.saving.deserialize_keras_object(config)
    copy.set_weights(model.get_weights())
    return copy


def _uses_policy(model: keras.Model, dtype: str) -> bool:
    """Whether `model`'s layers all compute under `dtype`. A functional model's own policy
    (float32 for an `Encoder` built in bfloat16) and its inputs' dtypes are not asked."""
    layers = [layer for layer in _layers(model)
              if not isinstance(layer, keras.layers.InputLayer)] or [model]
    return all(layer.dtype_policy.name == dtype for layer in layers)


def _layers(model) -> list:
    found = []
    for layer in getattr(model, "layers", []):
        found.append(layer)
        found.extend(_layers(layer))
    return found


def _replace_dtype(value: Any, dtype: str) -> Any:
    if isinstance(value, dict):
        if value.get("class_name") in _POLICY_CLASSES and \
                isinstance(value.get("config"), dict) and "name" in value["config"]:
            return {**value, "config": {**value["config"], "name": dtype}}
        return {key: (dtype if key == "dtype" and isinstance(item, str) else
                      _replace_dtype(item, dtype)) for key, item in value.items()}
    if isinstance(value, list):
        return [_replace_dtype(item, dtype) for item in value]
    return value
