"""Pipeline configs: one YAML file per job, loaded into frozen dataclasses with strict checks.

A pipeline has a `name` and the sections `model`, `data`, `train`, `finetune`, `export` and
`compare`.
Each section is a frozen dataclass owned by the stage that uses it; this module only composes
them, applies `--set a.b=c` overrides and turns every unknown key or bad value into an error
that names the key and the value (`pipeline_fields.build_dataclass`), before any work starts.
"""

from __future__ import annotations

import dataclasses
import os
import re
from typing import Any

import yaml

from albert_keras.compare.compare_config import (CompareConfig, arm_checkpoints,
                                                 check_compare_pipeline, check_compare_paths)
from albert_keras.jobs.export_config import MODEL_NAME_PATTERN, ExportConfig
from albert_keras.jobs.finetune_config import FinetuneConfig
from albert_keras.jobs.pretrain_phases import phases
from albert_keras.jobs.train_config import TrainConfig
from albert_keras.models.model_config import ModelConfig
from albert_keras.pipeline_fields import ConfigError, build_dataclass
from albert_keras.pretraining_data.data_config import TASK_TEXT, DataConfig, task_text_path
from albert_keras.utils.storage import check_path


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
        if not re.fullmatch(MODEL_NAME_PATTERN, self.name) or self.name in (".", ".."):
            # The name is a folder under each output directory and the served model's name.
            raise ConfigError(
                "`name` must be one folder name that is also a served model name: letters, "
                "digits, `_`, `.` or `-`, starting with a letter or digit. Received: "
                f"name={self.name!r}")
        try:
            for key, path in path_settings(self):
                check_path(key, path)
        except ValueError as error:
            raise ConfigError(str(error)) from None
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
        if self.train.phases:
            if self.train.records:
                raise ConfigError(
                    "Each of `train.phases` reads records of its own sequence length, made by "
                    "`prepare`; `train.records` names one set. Received: train.records="
                    f"{self.train.records!r}, {len(self.train.phases)} phases")
            try:  # Every phase's config, built now: a setting that does not fit fails here.
                phases(self)
            except ConfigError as error:
                raise ConfigError(f"In `train.phases`: {error}") from None
            except (ValueError, TypeError) as error:
                raise ConfigError(f"In `train.phases`: {error}") from None

    def check_for(self, command: str) -> None:
        """The checks that depend on the job: the sequence length its rows use (`data.` for
        `prepare` and `pretrain`, `finetune.` for `finetune`) must fit the encoder's positions,
        else it fails late (in training, after the records are made). A checkpoint's length is
        checked when it is loaded, and compare's arms by `check_compare_pipeline`.

        `compare` writes through the file layer, so its paths may be URLs like every job's;
        only `ram://`, which holds files for one process, is refused by name for the paths
        its arm processes read or write (`check_compare_paths`)."""
        if command == "compare":
            try:
                check_compare_paths(self)
            except ValueError as error:
                raise ConfigError(str(error)) from None
        section = {"prepare": "data", "pretrain": "data", "finetune": "finetune"}.get(command)
        if section is None or self.model.pretrained or self.compare.arms:
            return
        if section == "data" and self.train.phases:
            for phase in phases(self):  # Each phase's sequences must fit the encoder.
                phase.config.check_for(command)
            return
        longest = self.model.encoder_config().max_sequence_length
        length = getattr(self, section).max_sequence_length
        if length > longest:
            raise ConfigError(
                f"`{section}.max_sequence_length` must be at most the encoder's "
                f"max_sequence_length={longest} (model.preset={self.model.preset!r}; raise "
                f"model.max_sequence_length or lower {section}.max_sequence_length). "
                f"Received: {section}.max_sequence_length={length}")


def path_settings(config: PipelineConfig):
    """`(key, path)` for every path setting of `config` that is set: each is a local path or
    a URL of an installed file system (`albert_keras.utils.storage.check_path`)."""
    data, ft, export = config.data, config.finetune, config.export
    for part in data.corpus.split(","):  # Globs; `stdlib`, `tfds:NAME` are no URLs.
        yield "data.corpus", part
    yield from [("data.output_dir", data.output_dir), ("data.tokenizer_path", data.tokenizer_path),
                ("model.pretrained", config.model.pretrained),
                ("train.output_dir", config.train.output_dir),
                ("train.records", config.train.records), ("finetune.train", ft.train),
                ("finetune.validation", ft.validation), ("finetune.test", ft.test),
                ("finetune.tokenizer", ft.tokenizer), ("finetune.output_dir", ft.output_dir),
                ("export.base_dir", export.base_dir), ("export.model_path", export.model_path),
                ("export.tokenizer_path", export.tokenizer_path),
                ("compare.output_dir", config.compare.output_dir)]
    for index, arm in enumerate(config.compare.arms):
        yield f"compare.arms[{index}].pretrained", arm.pretrained


def load_pipeline(path: str, overrides: list[str] | tuple[str, ...] = (),
                  command: str | None = None) -> PipelineConfig:
    """Reads a pipeline YAML and applies `key.sub=value` overrides (values parsed as YAML);
    with `command` (`prepare`, `pretrain`, `finetune`, ...), also the checks of that job
    (`PipelineConfig.check_for`)."""
    if not os.path.isfile(path):
        raise ConfigError(f"Pipeline config not found: path={path!r}")
    with open(path, encoding="utf-8") as f:
        try:
            raw = yaml.load(f, Loader=_UniqueKeyLoader) or {}
        except yaml.YAMLError as error:
            raise ConfigError(f"{path}: not a valid YAML file: {_yaml_problem(error)}") from None
        except UnicodeDecodeError as error:
            raise ConfigError(f"{path}: not UTF-8 text ({error})") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a pipeline config must be a mapping. Received: {type(raw).__name__}")
    for item in overrides:
        _apply_override(raw, item)
    try:
        config = build_dataclass(PipelineConfig, raw, prefix="")
        if command:
            config.check_for(command)
        return config
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from None


def pipeline_from_dict(raw: dict[str, Any]) -> PipelineConfig:
    """A `PipelineConfig` from a plain dict with the same checks as a YAML file."""
    return build_dataclass(PipelineConfig, raw, prefix="")


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, except that a key given twice in one mapping (two `train:`
    sections, or `steps:` twice) is an error instead of the last one silently winning."""

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            first_lines = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    first = first_lines.setdefault(key, key_node.start_mark.line + 1)
                except TypeError:
                    continue  # An unhashable key: the constructor below reports it.
                if first != key_node.start_mark.line + 1:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {key!r} (first given at line {first}; "
                        "each key may appear once)", key_node.start_mark)
        return super().construct_mapping(node, deep=deep)


def _yaml_problem(error: yaml.YAMLError) -> str:
    """One line: what is wrong and where (line and column, counted from 1)."""
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return f"{problem}{where}"


def _apply_override(raw: dict[str, Any], item: str) -> None:
    key, sep, text = item.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"An override must look like `section.key=value`. Received: {item!r}")
    try:
        value = yaml.load(text, Loader=_UniqueKeyLoader) if text.strip() else None
    except yaml.YAMLError as error:
        raise ConfigError(f"The value of `--set {key.strip()}` is not valid YAML "
                          f"({_yaml_problem(error)}); quote it to pass text. "
                          f"Received: {item!r}") from None
    node = raw
    parts = key.strip().split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"Cannot set {key!r}: {part!r} is not a section")
    node[parts[-1]] = value
