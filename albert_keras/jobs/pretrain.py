"""`pretrain`: records -> `Pretrainer` -> `model.fit` under a strategy -> encoder.keras + summary.

The job is a few visible steps: check the config against the strategy and the records (before any
work), build and compile the model in `strategy.scope()`, score a fixed set of batches, `fit`,
score them again, save, summarize (`fit_and_save` of `pretrain_fit.py`, given the run's
`PretrainRun`; the scores and the summary: `pretrain_report.py`).
The pieces (`build_pretrainer`, `fit_pretrainer`, and `compile_pretrainer`, `distribute` of
`albert_keras/training/pretraining.py`) are usable on their own, with any dataset of
`(x, y, sample_weight)` batches. Records are prepared by the
caller (`albert-keras prepare`, or `albert_keras.pipeline.prepare_and_pretrain`), not here.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

from albert_keras.jobs.pretrain_fit import (Evaluation, PretrainRun, TrainingFailed, fit_and_save,
                                            fit_pretrainer)
from albert_keras.jobs.pretrain_records import checked_records, find_records, records_digest
from albert_keras.models.pretrainer import Pretrainer
from albert_keras.models.task import make_encoder
from albert_keras.training.atomic_backup import AtomicBackupAndRestore
from albert_keras.training.callbacks import agreed_resume_epoch, backup_directory
from albert_keras.training.continued_pretraining import continued_pretrainer
from albert_keras.training.precision import dtype_policy, resolve_precision
from albert_keras.training.pretraining import (DatasetFn, compile_pretrainer, distribute,
                                               most_frequent_token_accuracy)
from albert_keras.training.strategy import make_strategy, num_workers, output_directory
from albert_keras.utils import file_io

# `find_records`, `fit_pretrainer` and `TrainingFailed` are imported from here too.
__all__ = ["pretrain", "build_pretrainer", "resume_settings", "check_batch_size",
           "check_shards_per_worker", "find_records", "fit_pretrainer", "TrainingFailed"]


def pretrain(config, continue_from: dict[str, Any] | None = None,
             phase: dict[str, Any] | None = None,
             earlier_phases: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Pretrains the pipeline's encoder; returns (and writes) the run's summary.

    Writes `{train.output_dir}/{name}/`: `encoder.keras` (for fine-tuning and export),
    `pretrainer.keras`, `tokenizer/` and `summary.json`, published as one unit (`save_run`),
    with `backup/` (until those are published), `checkpoints/` and `logs/` (TensorBoard). A run
    killed at any point, the final save included, resumes from its last backup when started
    again with the same settings (`resume_settings`; other ones are refused by name). Seeds
    Keras' global RNGs with `train.seed`, as a training script would, so that two runs with
    the same config start from the same weights.

    Args:
        config: `PipelineConfig` (see `albert_keras.pipeline.load_pipeline`).
        continue_from: dict or None. For a phase of a run in phases (`pretrain_phases.py`): the
            phase before's `path` (its `pretrainer.keras`, heads and all) and
            `weights_sha256`; training continues from it instead of `model`.
        phase: dict or None. That phase's settings, recorded in its summary.
        earlier_phases: list or None. The entries of the phases before (`phase_brief`): with
            them, this last phase's summary is the whole run's (`add_phases`).
    """
    train = config.train
    if train.phases:
        raise ValueError(f"`pretrain` trains one phase; run a config with train.phases "
                         f"({len(train.phases)}) through `pretrain_in_phases` (the `pretrain` "
                         "job does).")
    config.model.check_pretrained()
    run_dir = os.path.join(train.output_dir, config.name)
    strategy = make_strategy(train.strategy)
    check_batch_size(train.global_batch_size, strategy.num_replicas_in_sync,
                     train.gradient_accumulation_steps)
    precision, precision_reason = resolve_precision(train.precision, strategy)
    print(f"[pretrain] precision {precision} ({precision_reason})")
    found = checked_records(config)  # Ours (manifest, tokenizer/) or a reference script's.
    records, tokenizer_dir, tokenizer = found.pattern, found.tokenizer_path, found.tokenizer
    check_shards_per_worker(records, num_workers(strategy))
    pair_task = config.data.pair_task  # The records' pair labels decide the head's task.
    masking = found.masking
    # A resumed run skips the batches it already trained on: it sees what it would have seen.
    # Kept until the outputs are published (a kill at the end resumes, not retrains), and
    # made with the settings a resumed run must share.
    backup = AtomicBackupAndRestore(
        backup_directory(run_dir, strategy), delete_on_finish=False,
        settings={**resume_settings(config, records, tokenizer, precision, pair_task),
                  "continue_from": continue_from})
    skip = agreed_resume_epoch(backup, strategy) * train.steps_per_epoch  # Same on all workers.
    # Reads every shard once (unless `checked_records` did): a corrupt one fails here, by
    # name, before the model is built.
    train_data = distribute(strategy, _records_dataset_fn(
        config, records, tokenizer, masking=masking, skip_batches=skip, verify=not found.verified))

    with strategy.scope():
        pretrainer = build_pretrainer(config, tokenizer, precision, pair_task, tokenizer_dir,
                                      continue_from=(continue_from or {}).get("path"))
        compile_pretrainer(pretrainer, train)
    encoder = pretrainer.encoder
    print(f"[pretrain] {config.name}: {encoder.count_params():,} encoder parameters, "
          f"{pair_task.upper()}, strategy={train.strategy} ({strategy.num_replicas_in_sync} "
          f"replica(s)), global batch {train.global_batch_size}, {train.steps} steps")

    evaluation = _evaluation(config, records, tokenizer, masking, strategy)
    # Only the chief's files stay; the other workers write theirs into a temporary folder.
    with output_directory(run_dir, strategy) as out_dir:
        return fit_and_save(PretrainRun(
            config=config, strategy=strategy, pretrainer=pretrainer, train_data=train_data,
            evaluation=evaluation, backup=backup, skip=skip, records=records,
            tokenizer_dir=tokenizer_dir, precision=precision, precision_reason=precision_reason,
            run_dir=run_dir, out_dir=out_dir, phase=phase, earlier_phases=earlier_phases))


def _evaluation(config, records: str, tokenizer, masking: str, strategy) -> Evaluation:
    """The held-out records' first `train.eval_batches` batches (unshuffled, masks fixed by
    the seed) when the records have them and one process reads them; else the training
    records' (a multi-worker run keeps those: every worker must score as many batches)."""
    from albert_keras.pretraining_data.records.records_manifest import HELD_OUT_DIR

    train = config.train
    held_out = os.path.join(os.path.dirname(file_io.glob(records)[0]), HELD_OUT_DIR)
    if train.eval_batches and num_workers(strategy) == 1 and file_io.glob(
            os.path.join(held_out, "*.tfrecord*")):
        held_out_fn = _records_dataset_fn(
            config, held_out, tokenizer, verify=False, masking=config.data.masking,
            shuffle=False, repeat=False, length_buckets=())
        eval_fn = lambda context: held_out_fn(context).take(train.eval_batches).cache()  # noqa: E731
        batches = eval_fn(None)
        steps = sum(1 for _ in batches)  # Fills the cache the baseline then reads.
        if steps:
            return Evaluation(distribute(strategy, eval_fn), steps, "held_out",
                              most_frequent_token_accuracy(batches))
        print(f"[pretrain] the held-out records in {held_out} fill no batch of "
              f"{train.global_batch_size}: scoring the training records instead")
    scored_fn = _records_dataset_fn(config, records, tokenizer, verify=False,  # Checked above.
                                    masking=masking)
    eval_fn = lambda context: scored_fn(context).take(train.eval_batches).cache()  # noqa: E731
    return Evaluation(distribute(strategy, eval_fn), train.eval_batches, "training",
                      most_frequent_token_accuracy(eval_fn(None)))


def resume_settings(config, records: str, tokenizer, precision: str,
                    pair_task: str) -> dict[str, Any]:
    """What shapes the training of a run, recorded in its backups: a run resumes only from
    backups made with the same (`AtomicBackupAndRestore`)."""
    train, data = config.train, config.data
    return {
        "train": {key: getattr(train, key) for key in _TRAINING_FIELDS},
        "data": {key: getattr(data, key) for key in _READER_FIELDS},
        "model": dataclasses.asdict(config.model),
        "vocabulary_size": int(tokenizer.vocabulary_size()),
        "precision": precision, "pair_task": pair_task,
        "records": file_io.absolute(records), "records_sha256": records_digest(records),
    }


# The train and data fields that change what a step computes or which batches it sees.
_TRAINING_FIELDS = ("global_batch_size", "steps", "steps_per_epoch", "max_minutes", "optimizer",
                    "learning_rate", "warmup_steps", "end_learning_rate", "decay_power",
                    "beta_1", "beta_2", "epsilon", "weight_decay", "global_clipnorm",
                    "gradient_accumulation_steps", "seed")
_READER_FIELDS = ("masking", "mask_rate", "max_predictions", "max_ngram",
                  "shuffle_buffer_size", "length_buckets", "seed")


def check_shards_per_worker(records: str, workers: int) -> None:
    """Each worker of a multi-worker run reads shards of its own (the reader shards by file
    and turns off `tf.data`'s auto-sharding), so there must be at least one per worker."""
    from albert_keras.pretraining_data.records.shards import match_files

    files, _ = match_files(records)
    if workers > 1 and len(files) < workers:
        raise ValueError(
            f"A multi-worker run needs at least one record shard per worker: {len(files)} "
            f"shard(s) for {workers} workers. Prepare more (data.num_shards >= {workers}). "
            f"Received: shards={len(files)}, workers={workers}, records={records!r}")


def check_batch_size(global_batch_size: int, num_replicas: int,
                     gradient_accumulation_steps: int = 1) -> None:
    """The global batch must split evenly over the replicas, and each replica's share over
    the micro-batches of gradient accumulation."""
    if global_batch_size % (num_replicas * gradient_accumulation_steps):
        raise ValueError(
            "`train.global_batch_size` must be divisible by the number of replicas times "
            "`train.gradient_accumulation_steps`. Received: train.global_batch_size="
            f"{global_batch_size}, replicas={num_replicas}, "
            f"train.gradient_accumulation_steps={gradient_accumulation_steps}")


def build_pretrainer(config, tokenizer, precision: str, pair_task: str,
                     tokenizer_dir: str | None = None,
                     continue_from: str | None = None) -> Pretrainer:
    """The `Pretrainer` that continues `continue_from` (the phase before's) or
    `model.pretrained` (a `.keras` file or a checkpoint from elsewhere, with the heads it has:
    `continued_pretraining.py`), or a fresh `model` encoder with fresh heads, in the run's
    precision; call in `strategy.scope()`."""
    source = continue_from or config.model.pretrained
    if source:
        pretrainer, notes = continued_pretrainer(
            source, tokenizer, pair_task, dtype_policy(precision), tokenizer_dir=tokenizer_dir)
        key = "the phase before" if continue_from else "model.pretrained"
        for note in notes:
            print(f"[pretrain] {key}={source}: {note}")
        return pretrainer
    return Pretrainer(make_encoder(config.model, tokenizer, dtype_policy(precision)),
                      pair_task=pair_task)


def _records_dataset_fn(config, records: str, tokenizer, **kwargs) -> DatasetFn:
    """Batches of `(x, y, sample_weight)` from the records, masked on the fly by the reader."""
    from albert_keras.pretraining_data.reader.pretraining_dataset import (
        pretraining_dataset_from_config)

    def dataset_fn(context):
        return pretraining_dataset_from_config(
            config, records, tokenizer, config.train.global_batch_size, input_context=context,
            **kwargs)

    return dataset_fn
