"""`ConfigError` and `build_dataclass`: a mapping read from YAML -> a frozen dataclass.

Every key is checked against the dataclass's fields and every value against the field's type
hint (nested dataclasses, unions, `Literal`, lists, mappings, numbers, strings), so that an
unknown key or a bad value is an error that names the key and the value received, before any
work starts. `albert_keras.pipeline_config` builds `PipelineConfig` with it.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from typing import Any


class ConfigError(ValueError):
    """A pipeline config with an unknown key or a bad value."""


def build_dataclass(cls: type, raw: Any, prefix: str) -> Any:
    """Builds dataclass `cls` from `raw`, checking keys and value types recursively."""
    where = prefix.rstrip(".") or "pipeline"
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"`{where}` must be a mapping. Received: {where}={raw!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        raise ConfigError(f"Unknown key(s) {', '.join(prefix + k for k in unknown)}. "
                          f"Known keys in `{where}`: {', '.join(fields)}")
    values = {}
    for name, value in raw.items():
        values[name] = _convert(hints[name], value, prefix + name)
    missing = [n for n, f in fields.items() if n not in values
               and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    if missing:
        raise ConfigError(f"Missing key(s): {', '.join(prefix + n for n in missing)}")
    try:
        return cls(**values)
    except ConfigError:
        raise
    except (ValueError, TypeError) as error:
        raise ConfigError(f"In `{where}`: {error}") from None


def _convert(hint: Any, value: Any, key: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if dataclasses.is_dataclass(hint):
        return build_dataclass(hint, value, prefix=key + ".")
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for option in (a for a in args if a is not type(None)):
            try:
                return _convert(option, value, key)
            except ConfigError as error:
                errors.append(error)
        raise errors[0]
    if origin is typing.Literal:
        if value not in args:
            raise ConfigError(f"`{key}` must be one of {list(args)}. Received: {key}={value!r}")
        return value
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"`{key}` must be a list. Received: {key}={value!r}")
        inner = args[0] if args else Any
        return tuple(_convert(inner, v, f"{key}[{i}]") for i, v in enumerate(value))
    if origin is dict or hint is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"`{key}` must be a mapping. Received: {key}={value!r}")
        return dict(value)
    if hint is Any:
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"`{key}` must be true or false. Received: {key}={value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"`{key}` must be an integer. Received: {key}={value!r}")
        return value
    if hint is float:
        if isinstance(value, str):  # YAML 1.1 reads `1e-3` (no dot) as a string.
            try:
                value = float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"`{key}` must be a number. Received: {key}={value!r}")
        if not math.isfinite(value):
            raise ConfigError(f"`{key}` must be a finite number. Received: {key}={value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"`{key}` must be a string. Received: {key}={value!r}")
        return value
    return value
