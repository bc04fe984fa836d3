"""The pipeline's jobs: `prepare`, `pretrain`, `finetune` and `export` of one `PipelineConfig`.

Each job locks the directories it writes (`output_places`) while it runs, then calls its stage,
imported when the job runs (TensorFlow loads there, not when a config is read). The config
itself (`PipelineConfig`, `load_pipeline`, `pipeline_from_dict`, `ConfigError`) lives in
`albert_keras.pipeline_config` and `albert_keras.pipeline_fields`; its names are importable from
here too.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any

from albert_keras.jobs.pretrain_phases import phases, records_order
from albert_keras.pipeline_config import PipelineConfig, load_pipeline, pipeline_from_dict
from albert_keras.pipeline_fields import ConfigError
from albert_keras.utils.run_lock import RunLock
from albert_keras.utils.storage import check_path

__all__ = ["ConfigError", "PipelineConfig", "load_pipeline", "pipeline_from_dict", "records_place",
           "output_places", "writing", "prepare_job", "finetune_job", "export_job",
           "prepare_and_pretrain"]


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
