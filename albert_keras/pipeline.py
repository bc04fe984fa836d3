"""Pipeline configs: one YAML file per job, loaded into frozen dataclasses with strict checks.

A pipeline has a `name` and the sections `model`, `data`, `train`, `finetune`, `export` and
`compare`.
Each section is a frozen dataclass owned by the stage that uses it; this module only composes
them, applies `--set a.b=c` overrides and turns every unknown key or bad value into an error
that names the key and the value, before any work starts.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import re
import types
import typing
from typing import Any

import yaml

from albert_keras.compare.compare_config import (CompareConfig, arm_checkpoints,
                                                 check_compare_pipeline, check_compare_paths)
from albert_keras.jobs.export_config import MODEL_NAME_PATTERN, ExportConfig
from albert_keras.jobs.finetune_config import FinetuneConfig
from albert_keras.jobs.pretrain_phases import phases, records_order
from albert_keras.jobs.train_config import TrainConfig
from albert_keras.models.model_config import ModelConfig
from albert_keras.pretraining_data.data_config import TASK_TEXT, DataConfig, task_text_path
from albert_keras.utils.run_lock import RunLock
from albert_keras.utils.storage import check_path


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


def records_place(config: PipelineConfig) -> str:
    """The directory `prepare` writes this pipeline's records to."""
    return os.path.join(config.data.output_dir, config.name)


def output_places(config: PipelineConfig, command: str) -> list[str]:
    """The directories the job `command` writes: each is locked while it runs, and named when
    a full disk stops it."""
    if command == "prepare":
        return [records_place(phase.config) for phase in phases(config)]
    if command == "pretrain":
        run = phases(config)
        runs = [phase.run_dir for phase in run][::-1]  # The pipeline's run first.
        return runs if config.train.records else [
            *runs, *(records_place(phase.config) for phase in run)]
    if command == "finetune":
        return [os.path.join(config.finetune.output_dir, config.name)]
    if command == "export":  # The whole base: it holds the `models.config` of every model.
        return [config.export.base_dir]
    if command == "compare":
        return [os.path.join(config.compare.output_dir, config.name),
                *(records_place(phase.config) for phase in phases(config))]
    raise ValueError(f"`command` must be one of prepare, pretrain, finetune, export, compare. "
                     f"Received: command={command!r}")


@contextlib.contextmanager
def writing(places: list[str], command: str, inside: bool = False):
    """Locks each of `places` (`RunLock`; its lock file inside the place with `inside`) for
    the job `command` while the block runs: a second job writing one of them fails at once
    (`PlaceLocked`), naming this one."""
    with contextlib.ExitStack() as stack:
        for place in places:
            stack.enter_context(RunLock(place, f"albert-keras {command}", inside=inside))
        yield


def prepare_job(config: PipelineConfig, static_masking: bool = False) -> None:
    """`albert-keras prepare`: writes the pipeline's records, one writer at a time."""
    config.check_for("prepare")
    with writing(output_places(config, "prepare"), "prepare"):
        from albert_keras.jobs.task_corpus import prepare_records  # Deferred: TensorFlow.

        for phase in records_order(phases(config)):  # One set, or one per phase.
            prepare_records(phase.config, static_masking=static_masking)


def finetune_job(config: PipelineConfig) -> dict[str, Any]:
    """`albert-keras finetune`: one run, or one per rate of `finetune.learning_rates`, into
    `{finetune.output_dir}/{name}/`, one writer at a time. Returns the report."""
    config.check_for("finetune")
    with writing(output_places(config, "finetune"), "finetune"):
        from albert_keras.jobs.finetune_grid import finetune_with_grid

        return finetune_with_grid(config)


def export_job(config: PipelineConfig, model_path: str | None = None,
               version: int | None = None, overwrite: bool = False) -> str:
    """`albert-keras export`: the pipeline's model into `export.base_dir`. The whole base is
    locked, so two exports never pick the same version. Returns the directory written."""
    if model_path:
        check_path("--model", model_path)
    # The lock file stays inside the base (never swapped whole), not beside it in the checkout.
    with writing(output_places(config, "export"), "export", inside=True):
        from albert_keras.jobs.export_pipeline import export_pipeline

        return export_pipeline(config, model_path=model_path, version=version,
                               overwrite=overwrite)


def _pretrain_places(config: PipelineConfig) -> list[str]:
    """`output_places`, but only the run directory for the chief of a multi-worker run (its
    workers share the place; records are prepared beforehand) and nothing for the others."""
    places = output_places(config, "pretrain")
    if config.train.strategy != "multi_worker":
        return places
    from albert_keras.training.cluster_environment import cluster_environment

    try:
        if not cluster_environment().is_chief:
            return []
    except ValueError:
        pass  # No cluster described: `pretrain` says so; lock as the chief would.
    return places[:1]


def prepare_and_pretrain(config: PipelineConfig) -> dict[str, Any]:
    """`albert-keras pretrain`: prepares the records when they are missing (and
    `train.prepare_if_missing`, the default), then pretrains. Returns the run's summary.

    The two stages stay apart: `albert_keras.pretraining_data.prepare.prepare` writes records,
    `albert_keras.jobs.pretrain.pretrain` reads them; this job runs them in order. The run
    directory (and the records it may prepare) are locked for the job: a second `pretrain`
    of the same name fails at once.
    """
    config.check_for("pretrain")
    with writing(_pretrain_places(config), "pretrain"):
        return _prepare_and_pretrain(config)


def _prepare_and_pretrain(config: PipelineConfig) -> dict[str, Any]:
    if config.train.phases:  # Each phase prepared (when missing) and trained in turn.
        from albert_keras.jobs.pretrain_phases import pretrain_in_phases

        return pretrain_in_phases(config, prepare_missing=_prepare_if_missing)
    from albert_keras.jobs.pretrain import pretrain  # Deferred: TensorFlow.

    _prepare_if_missing(config)
    return pretrain(config)


def _prepare_if_missing(config: PipelineConfig) -> None:
    """Prepares the records of `config` when it has none (and `train.prepare_if_missing`)."""
    from albert_keras.jobs.pretrain import find_records  # Deferred: TensorFlow.

    records, _ = find_records(config)
    if records is None and config.train.prepare_if_missing \
            and config.train.strategy == "multi_worker":
        raise ValueError(
            "A multi-worker run reads records prepared beforehand (each worker would write the "
            f"same files at once): run `albert-keras prepare` once first. Received: "
            f"train.strategy='multi_worker', no records in "
            f"{os.path.join(config.data.output_dir, config.name)}/")
    if records is None and config.train.prepare_if_missing:
        from albert_keras.jobs.task_corpus import prepare_records

        print(f"[pretrain] no records for {config.name!r}: running prepare first")
        prepare_records(config)
