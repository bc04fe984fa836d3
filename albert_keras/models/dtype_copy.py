"""`copy_with_dtype`: the same model, weights and all, under another dtype policy."""

from __future__ import annotations

from typing import Any

import keras


def copy_with_dtype(model: keras.Model, dtype: str | None) -> keras.Model:
    """A copy of `model` whose layers all use the dtype policy `dtype` (e.g. `"float32"` to
    serve a model trained in `"mixed_bfloat16"`, or the reverse to fine-tune in bfloat16).

    Variables are float32 under every float policy here, so the weights carry over exactly.
    Returns `model` itself when its policy is already `dtype`.

    Args:
        model: keras.Model. A model whose `get_config()` rebuilds it (`Encoder`, task models).
        dtype: str or None. A Keras dtype policy name; None means `"float32"`.

    Example:
    ```python
    # needs: a model.keras file
    serving = copy_with_dtype(keras.saving.load_model("model.keras"), "float32")
    ```
    """
    dtype = dtype or "float32"
    if model.dtype_policy.name == dtype and all(
            layer.dtype_policy.name == dtype for layer in _layers(model)):
        return model
    config = _replace_dtype(keras.saving.serialize_keras_object(model), dtype)
    copy = keras.saving.deserialize_keras_object(config)
    copy.set_weights(model.get_weights())
    return copy


def _layers(model) -> list:
    found = []
    for layer in getattr(model, "layers", []):
        found.append(layer)
        found.extend(_layers(layer))
    return found


def _replace_dtype(value: Any, dtype: str) -> Any:
    if isinstance(value, dict):
        if value.get("class_name") in ("DTypePolicy", "FloatDTypePolicy") and \
                isinstance(value.get("config"), dict) and "name" in value["config"]:
            return {**value, "config": {**value["config"], "name": dtype}}
        return {key: (dtype if key == "dtype" and isinstance(item, str) else
                      _replace_dtype(item, dtype)) for key, item in value.items()}
    if isinstance(value, list):
        return [_replace_dtype(item, dtype) for item in value]
    return value
