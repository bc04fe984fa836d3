"""An arm's pretraining: in one phase or in several (`train.phases`), with its held-out curve.

Every phase trains on records of its own sequence length (all made with the comparison's one
tokenizer), continuing the weights and heads of the phase before with a fresh optimizer and a
schedule of its own, as `pretrain` does (`jobs/pretrain_phases.py`). The held-out scores,
every `compare.eval_every` steps, always come from the last phase's held-out records, so the
learning curve is one curve over the whole run, its steps counted from the first phase.

Each phase backs up into a folder of its own (`backup.phase{k}/` for the earlier phases,
`backup/` for the last; kept until the arm's result is written), with the phase's settings: a
killed arm resumes in the phase and epoch where it stopped, with its curve so far
(`curve.json`). A backup made with other settings is set aside with the reason, and so are
those of every later phase (they continued other weights): the arm starts again from there.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
from typing import Any

import keras
import tensorflow as tf

from albert_keras.compare.compare_config import ArmConfig
from albert_keras.jobs.pretrain_phases import Phase, phase_name, phases
from albert_keras.models.encoder import Encoder
from albert_keras.models.pretrainer import Pretrainer
from albert_keras.pretraining_data.reader.pretraining_dataset import pretraining_dataset_from_config
from albert_keras.training.atomic_backup import AtomicBackupAndRestore, ResumeRefused
from albert_keras.training.continued_pretraining import continued_pretrainer
from albert_keras.training.precision import dtype_policy
from albert_keras.training.pretraining import compile_pretrainer, distribute
from albert_keras.utils import file_io
from albert_keras.utils.atomic_files import write_json_atomic

BACKUP_DIR = "backup"  # In the arm's folder: the last phase's backups (`backup.phase{k}`: earlier).
CURVE = "curve.json"  # In the arm's folder: the learning curve so far, for a resumed arm.

SCORES = ("mlm_loss", "mlm_accuracy", "pair_loss", "pair_accuracy")


def backup_dir(arm_dir: str, phase: Phase) -> str:
    """The folder of `phase`'s backups in the arm's folder."""
    name = BACKUP_DIR if phase.last else phase_name(BACKUP_DIR, phase.index)
    return os.path.join(arm_dir, name)


def phase_backups(config, arm: ArmConfig, records: list[str], tokenizer: str, arm_dir: str,
                  precision: str) -> list[AtomicBackupAndRestore]:
    """Each phase's backups, in training order (`records`: each phase's training records).

    A backup made with other settings is deleted, with the reason printed; so are the backups
    of every phase after a phase that has not finished (they would continue other weights).
    Without any backup left, the curve file goes too: the arm starts from step 0.
    """
    run = phases(config)
    backups, complete = [], True
    for phase, phase_records in zip(run, records):
        settings = _backup_settings(config, phase, arm, phase_records, tokenizer, precision)
        folder = backup_dir(arm_dir, phase)
        backup = AtomicBackupAndRestore(folder, delete_on_finish=False, settings=settings)
        try:
            epoch = backup.resume_epoch()
        except ResumeRefused as refused:
            print(f"[compare] {arm.name}: starting again, not resuming: {refused}", flush=True)
            epoch = None
        if epoch and not complete:
            print(f"[compare] {arm.name}: the backups of phase {phase.index} continue an "
                  "unfinished phase; that phase starts again", flush=True)
            epoch = None
        if epoch is None:  # Set aside: this phase starts again.
            backup.delete()
            backup = AtomicBackupAndRestore(folder, delete_on_finish=False, settings=settings)
            epoch = 0
        complete = epoch == _epochs(config, phase)
        backups.append(backup)
    if not any(backup.backups() for backup in backups):
        file_io.remove(os.path.join(arm_dir, CURVE))
    return backups


def _epochs(config, phase: Phase) -> int:
    """A phase's epochs of `compare.eval_every` steps (one backup and curve point each)."""
    return phase.config.train.steps // config.compare.eval_every


def _backup_settings(config, phase: Phase, arm: ArmConfig, records: str, tokenizer: str,
                     precision: str) -> dict[str, Any]:
    """What shapes a phase's training: the arm, the phase's `train` and `data`, the precision,
    the curve's settings, the records and tokenizer (and, with phases, which phase)."""
    settings = {"arm": dataclasses.asdict(arm), "train": dataclasses.asdict(phase.config.train),
                "data": dataclasses.asdict(phase.config.data), "precision": precision,
                "eval_every": config.compare.eval_every,
                "eval_batches": config.compare.eval_batches,
                "max_minutes_per_arm": config.compare.max_minutes_per_arm,
                "records": records, "tokenizer": tokenizer}
    if phase.count > 1:
        settings["phase"] = {"index": phase.index, "count": phase.count,
                             "steps": [p.steps for p in config.train.phases]}
    return json.loads(json.dumps(settings, default=str))


def resume_step(config, backups: list[AtomicBackupAndRestore]) -> int:
    """The step of the whole run that the backups resume from (0 without any)."""
    step = 0
    for phase, backup in zip(phases(config), backups):
        epoch = backup.resume_epoch()
        step += epoch * config.compare.eval_every
        if epoch < _epochs(config, phase):
            break
    return step


def pretrain_arm(config, arm: ArmConfig, pretrainer: Pretrainer, strategy, records: list[str],
                 backups: list[AtomicBackupAndRestore], curve: list[dict], curve_path: str,
                 held_out: tuple[tf.data.Dataset, int], tokenizer) -> list[dict]:
    """Trains `pretrainer` through every phase from where its backups stand (only scores it
    at step 0 for an arm with `pretrain: false`); returns the per-phase entries (`index`,
    `max_sequence_length`, `first_step` and `last_step`: the run's steps the phase covers,
    `steps_run`). `curve` (empty for a fresh arm) grows by one point per `eval_every` steps.

    Stops early (later phases not trained) when `compare.max_minutes_per_arm` of training time
    is spent or a loss is not finite.
    """
    compare = config.compare
    max_minutes = compare.max_minutes_per_arm
    entries, offset = [], 0
    for phase, phase_records, backup in zip(phases(config), records, backups):
        steps = phase.config.train.steps
        with strategy.scope():  # A fresh optimizer and this phase's schedule.
            compile_pretrainer(pretrainer, phase.config.train)
        if not curve:  # The untrained model's scores.
            curve.append({"step": 0, "seconds": 0.0, **evaluate(pretrainer, *held_out)})
        spent = bool(max_minutes) and curve[-1]["seconds"] >= 60 * max_minutes
        if not arm.pretrain or spent or curve[-1]["step"] < offset:  # Or stopped before.
            break
        entry = {"index": phase.index,
                 "max_sequence_length": phase.config.data.max_sequence_length,
                 "first_step": offset, "last_step": offset + steps, "steps_run": 0}
        entries.append(entry)
        resumed = backup.resume_epoch()
        if phase.count > 1:
            finished = resumed == _epochs(config, phase)
            print(f"[compare] {arm.name}: {phase.describe()}"
                  + (": finished before, its weights restored" if finished else ""), flush=True)
        data = distribute(strategy, dataset_fn(phase.config, phase_records, tokenizer,
                                               resumed * compare.eval_every))
        recorder = CurveRecorder(arm.name, curve, config.train.steps, max_minutes, curve_path,
                                 first_step=offset)
        # The recorder before the backup: a kill between them leaves a curve one point ahead
        # of its backup, which a resumed arm cuts, never one behind. A finished phase's `fit`
        # trains nothing: it restores the weights the phase ended with.
        pretrainer.fit(data, epochs=_epochs(config, phase),
                       steps_per_epoch=compare.eval_every, validation_data=held_out[0],
                       validation_steps=held_out[1],
                       callbacks=[recorder, backup, keras.callbacks.TerminateOnNaN()],
                       verbose=0)
        entry["steps_run"] = min(curve[-1]["step"], offset + steps) - offset
        if pretrainer.stop_training:
            break
        offset += steps
    return entries


def delete_backups(config, arm_dir: str) -> None:
    """Deletes every phase's backups (once the arm's result is durable)."""
    for phase in phases(config):
        AtomicBackupAndRestore(backup_dir(arm_dir, phase)).delete()


def resumed_curve(path: str, step: int) -> list[dict]:
    """The curve an arm wrote before it was killed, up to `step` (its backup's)."""
    if not file_io.isfile(path):
        return []
    return [point for point in json.loads(file_io.read_text(path)) if point["step"] <= step]


def arm_pretrainer(arm: ArmConfig, tokenizer, pair_task: str, precision: str,
                   tokenizer_dir: str) -> Pretrainer:
    """The arm's `Pretrainer`: its checkpoint with the heads it has, or random weights."""
    if arm.pretrained:
        pretrainer, notes = continued_pretrainer(arm.pretrained, tokenizer, pair_task,
                                                 dtype_policy(precision), tokenizer_dir)
        for note in notes:
            print(f"[compare] {arm.name}: {arm.pretrained}: {note}", flush=True)
        return pretrainer
    encoder_config = arm.encoder_config(vocabulary_size=int(tokenizer.vocabulary_size()))
    encoder = Encoder(**encoder_config.to_dict(), dtype=dtype_policy(precision))
    return Pretrainer(encoder, pair_task=pair_task)


class CurveRecorder(keras.callbacks.Callback):
    """Held-out scores and training seconds (evaluation time excluded) at each epoch's end.

    Appends `{"step", "seconds", "mlm_loss", ...}` to `curve` from the `val_*` logs (and
    writes the whole curve to `path`, when given), and stops training once `max_minutes` of
    training time have passed. A curve that already has points goes on from its last one;
    `first_step` is the run's step this `fit` starts counting from (a later phase's).
    """

    def __init__(self, name: str, curve: list[dict], steps: int, max_minutes: float | None,
                 path: str | None = None, first_step: int = 0):
        super().__init__()
        self.name, self.curve, self.steps, self.max_minutes = name, curve, steps, max_minutes
        self.path, self.first_step = path, first_step
        self.started = 0.0
        self.train_seconds = curve[-1]["seconds"] if curve else 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()

    def on_test_begin(self, logs=None):
        self.train_seconds += time.perf_counter() - self.started

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        # epoch counts from the phase's first, resumed or not
        step = self.first_step + (epoch + 1) * self.params["steps"]
        point = {"step": step, "seconds": self.train_seconds,
                 **{k: float(logs.get(f"val_{k}", float("nan"))) for k in SCORES},
                 # The training batches' scores of this epoch, beside the held-out ones: a
                 # widening gap is overfitting.
                 **{f"train_{k}": float(logs.get(k, float("nan"))) for k in SCORES}}
        self.curve.append(point)
        if self.path:
            write_json_atomic(self.path, self.curve)
        print(f"[compare] {self.name}: step {step}/{self.steps}, {self.train_seconds:.0f}s of "
              f"training: held-out MLM loss {point['mlm_loss']:.3f}, accuracy "
              f"{point['mlm_accuracy']:.3f}, pair accuracy {point['pair_accuracy']:.3f}",
              flush=True)
        if self.max_minutes and self.train_seconds >= 60 * self.max_minutes:
            self.model.stop_training = True


def evaluate(pretrainer, held_out, steps: int) -> dict[str, float]:
    scores = pretrainer.evaluate(held_out, steps=steps, verbose=0, return_dict=True)
    return {k: float(scores[k]) for k in SCORES}


def dataset_fn(config, records: str, tokenizer, skip_batches: int = 0):
    """The arm's training batches of `records` read with `config`'s data settings: a
    `dataset_fn(input_context)` for `distribute`."""
    def make(context):
        return pretraining_dataset_from_config(config, records, tokenizer,
                                               config.train.global_batch_size, context,
                                               masking=config.data.masking,
                                               skip_batches=skip_batches)
    return make


def held_out_dataset(config, held_out: str, tokenizer) -> tuple[tf.data.Dataset, int]:
    """The same masked batches for every arm and every evaluation (no shuffle, fixed seed).

    Padded to the full length rather than length-bucketed: bucketing drops each bucket's last
    partial batch, and the loss of a padded row equals that of the cut one. Unshuffled, in the
    records' order: `held_out_intervals` reads each row's document in that order.
    """
    dataset = pretraining_dataset_from_config(
        config, held_out, tokenizer, config.train.global_batch_size, shuffle=False, repeat=False,
        length_buckets=(), masking=config.data.masking)
    dataset = dataset.take(config.compare.eval_batches).cache()
    batches = sum(1 for _ in dataset)  # Also fills the cache.
    if not batches:
        raise ValueError(
            f"The held-out records in {held_out} fill no batch of train.global_batch_size="
            f"{config.train.global_batch_size}: raise data.held_out_fraction (now "
            f"{config.data.held_out_fraction}) or lower the batch size.")
    return dataset, batches


def batches_fingerprint(dataset, batches: int | None) -> str:
    """SHA-256 of the inputs and labels of the first `batches` batches (all when None)."""
    digest = hashlib.sha256()
    for x, y, weights in (dataset.take(batches) if batches else dataset).as_numpy_iterator():
        for part in (x, y, weights):
            for key in sorted(part):
                digest.update(key.encode())
                digest.update(part[key].tobytes())
    return digest.hexdigest()
