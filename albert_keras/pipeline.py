"""Pipeline configs: one YAML file per job, loaded into frozen dataclasses with strict checks.

A pipeline has a `name` and the sections `model`, `data`, `train`, `finetune`, `export` and
`compare`.
Each section is a frozen dataclass owned by the stage that uses it; this module only composes
them, applies `--set a.b=c` overrides and turns every unknown key or bad value into an error
that names the key and the value, before any work starts.
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from typing import Any

import yaml

from albert_keras.compare.compare_config import (CompareConfig, arm_checkpoints,
                                                 check_compare_pipeline)
from albert_keras.data.data_config import TASK_TEXT, DataConfig, task_text_path
from albert_keras.export.export_config import ExportConfig
from albert_keras.models.model_config import ModelConfig
from albert_keras.training.finetune_config import FinetuneConfig
from albert_keras.training.train_config import TrainConfig


class ConfigError(ValueError):
    """A pipeline config with an unknown key or a bad value."""


@dataclasses.dataclass(frozen=True)
class PipelineConfig:
    """One job's whole configuration (see `pipelines/*.yaml`)."""

    name: str
    model: ModelConfig = ModelConfig()
    data: DataConfig = DataConfig()
    train: TrainConfig = TrainConfig()
    finetune: FinetuneConfig = FinetuneConfig()
    export: ExportConfig = ExportConfig()
    compare: CompareConfig = CompareConfig()

    def __post_init__(self) -> None:
        if self.data.corpus == TASK_TEXT:
            if not self.finetune.train:
                raise ConfigError(
                    f"`data.corpus: {TASK_TEXT}` pretrains on the text of finetune.train, which "
                    f"is not set. Received: data.corpus={self.data.corpus!r}, "
                    f"finetune.train={self.finetune.train!r}")
            object.__setattr__(self, "data", dataclasses.replace(
                self.data, corpus=task_text_path(self.data.output_dir, self.name)))
        checkpoint = self.model.pretrained or next(iter(arm_checkpoints(self.compare)), None)
        if checkpoint and self.data.tokenizer_path is None:
            # Records for a checkpoint use its own tokenizer (its vocab.txt / spiece.model and
            # casing, or the tokenizer/ beside a .keras file); `pretrain` and `compare` check
            # that they agree.
            object.__setattr__(self, "data", dataclasses.replace(
                self.data, tokenizer_path=checkpoint))
        if self.train.strategy == "tpu" and self.data.length_buckets:
            raise ConfigError(
                "TPUs need one static batch shape: set `data.length_buckets` to [] with "
                f"train.strategy='tpu'. Received: data.length_buckets={list(self.data.length_buckets)}")
        if self.compare.arms:
            check_compare_pipeline(self)


def load_pipeline(path: str, overrides: list[str] | tuple[str, ...] = ()) -> PipelineConfig:
    """Reads a pipeline YAML and applies `key.sub=value` overrides (values parsed as YAML)."""
    if not os.path.isfile(path):
        raise ConfigError(f"Pipeline config not found: path={path!r}")
    with open(path, encoding="utf-8") as f:
        raw = yaml.safe_load(f) or {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a pipeline config must be a mapping. Received: {type(raw).__name__}")
    for item in overrides:
        _apply_override(raw, item)
    try:
        return build_dataclass(PipelineConfig, raw, prefix="")
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from None


def pipeline_from_dict(raw: dict[str, Any]) -> PipelineConfig:
    """A `PipelineConfig` from a plain dict with the same checks as a YAML file."""
    return build_dataclass(PipelineConfig, raw, prefix="")


def _apply_override(raw: dict[str, Any], item: str) -> None:
    key, sep, text = item.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"An override must look like `section.key=value`. Received: {item!r}")
    value = yaml.safe_load(text) if text.strip() else None
    node = raw
    parts = key.strip().split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"Cannot set {key!r}: {part!r} is not a section")
    node[parts[-1]] = value


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
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"`{key}` must be a string. Received: {key}={value!r}")
        return value
    return value


def prepare_and_pretrain(config: PipelineConfig) -> dict[str, Any]:
    """`albert-keras pretrain`: prepares the records when they are missing (and
    `train.prepare_if_missing`, the default), then pretrains. Returns the run's summary.

    The two stages stay apart: `albert_keras.data.prepare.prepare` writes records,
    `albert_keras.training.pretrain.pretrain` reads them; this job runs them in order.
    """
    from albert_keras.training.pretrain import find_records, pretrain  # Deferred: TensorFlow.

    records, _ = find_records(config)
    if records is None and config.train.prepare_if_missing \
            and config.train.strategy == "multi_worker":
        raise ValueError(
            "A multi-worker run reads records prepared beforehand (each worker would write the "
            f"same files at once): run `albert-keras prepare` once first. Received: "
            f"train.strategy='multi_worker', no records in "
            f"{os.path.join(config.data.output_dir, config.name)}/")
    if records is None and config.train.prepare_if_missing:
        from albert_keras.tasks.task_corpus import prepare_records

        print(f"[pretrain] no records for {config.name!r}: running prepare first")
        prepare_records(config)
    return pretrain(config)
