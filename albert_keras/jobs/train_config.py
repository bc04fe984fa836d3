"""`TrainConfig`: the `train` section of a pipeline (owned by the pretrain job)."""

from __future__ import annotations

import dataclasses
import math
from typing import Literal

from albert_keras.training.choices import PRECISIONS, STRATEGIES

_CHOICES = {"strategy": STRATEGIES, "optimizer": ("lamb", "adamw"), "precision": PRECISIONS}


@dataclasses.dataclass(frozen=True)
class PhaseConfig:
    """One phase of a run in phases (`train.phases`), as BERT's 128-then-512 schedule.

    Each phase trains `steps` steps on records of its own sequence length (made by `prepare`
    with the pipeline's tokenizer), continuing the phase before's weights and heads with a
    schedule of its own (a new warmup, then decay to `train.end_learning_rate` at its last
    step). A field left null is the pipeline's.

    Args:
        steps: steps of this phase; the phases' steps add up to `train.steps`.
        max_sequence_length: `data.max_sequence_length` of this phase's records.
        max_predictions: `data.max_predictions` (masked positions per sequence).
        length_buckets: `data.length_buckets` of this phase's reader.
        warmup_steps: `train.warmup_steps` of this phase's schedule.
        learning_rate: `train.learning_rate` (peak) of this phase's schedule.
    """

    steps: int
    max_sequence_length: int | None = None
    max_predictions: int | None = None
    length_buckets: tuple[int, ...] | None = None
    warmup_steps: int | None = None
    learning_rate: float | None = None

    def data_overrides(self) -> dict:
        """The `data` fields this phase sets."""
        return {key: getattr(self, key) for key in PHASE_DATA_FIELDS
                if getattr(self, key) is not None}

    def train_overrides(self) -> dict:
        """The `train` fields this phase sets (`steps` always)."""
        return {key: getattr(self, key) for key in PHASE_TRAIN_FIELDS
                if getattr(self, key) is not None}


PHASE_DATA_FIELDS = ("max_sequence_length", "max_predictions", "length_buckets")
PHASE_TRAIN_FIELDS = ("steps", "warmup_steps", "learning_rate")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """How pretraining runs: strategy, batch, steps, optimizer, precision, callbacks.

    An "epoch" here is `steps_per_epoch` steps: the interval of progress lines, TensorBoard
    points, checkpoints and `BackupAndRestore` backups. `steps` is the whole run and must be a
    multiple of it.

    Args:
        strategy: `default | mirrored | multi_worker | tpu` (see `make_strategy`).
        global_batch_size: sequences per step over all replicas; must divide by the replicas.
        steps: optimizer steps in the whole run.
        steps_per_epoch: steps between backups, checkpoints and log lines.
        max_minutes: a training-time budget (null = none): the schedule of `steps` runs over
            this time instead (warmup and decay fitted to the budget, as Cramming does) and
            training stops when it is spent, or at `steps` if that comes first. One process
            only (each worker's clock would give its own learning rate).
        optimizer: `lamb` (ALBERT) or `adamw` (BERT).
        learning_rate: peak learning rate, reached after `warmup_steps`.
        warmup_steps: linear warmup; then `decay_power` decay to `end_learning_rate` at `steps`.
        end_learning_rate, decay_power: see `WarmupPolynomialDecay` (power 1 = linear).
        beta_1, beta_2, epsilon, weight_decay: the optimizer's; LayerNorm and biases get no decay.
        global_clipnorm: clip of the global gradient norm (after the cross-replica sum); null = off.
        precision: `auto` (bfloat16 mixed precision where the chip computes bfloat16 natively,
            else float32; see `resolve_precision`), `float32`, `mixed_bfloat16`, or
            `mixed_float16` (with dynamic loss scaling).
        jit_compile: compile the train step with XLA.
        gradient_accumulation_steps: micro-batches per optimizer step (see
            `use_gradient_accumulation`): the same update as the whole `global_batch_size` at
            once, with the activation memory of one micro-batch. 1 = off.
        steps_per_execution: train steps per `tf.function` call.
        records: file pattern of the TFRecord shards; null = what `prepare` writes for this pipeline.
        prepare_if_missing: run `prepare` first when the records are not there (only when
            `records` is null).
        eval_batches: batches scored before and after training for the summary's loss/accuracy.
        output_dir: runs go to `{output_dir}/{pipeline name}/`.
        seed: seeds weight initialization (the job seeds Keras' global RNGs with it).
        verbose: Keras progress output: 0 silent, 1 progress bar, 2 one line per epoch.
        phases: a run in phases (`PhaseConfig`, e.g. shorter sequences first); empty = one.
    """

    strategy: Literal["default", "mirrored", "multi_worker", "tpu"] = "default"
    global_batch_size: int = 32
    steps: int = 1000
    steps_per_epoch: int = 100
    max_minutes: float | None = None
    optimizer: Literal["lamb", "adamw"] = "lamb"
    learning_rate: float = 0.00176
    warmup_steps: int = 100
    end_learning_rate: float = 0.0
    decay_power: float = 1.0
    beta_1: float = 0.9
    beta_2: float = 0.999
    epsilon: float = 1e-6
    weight_decay: float = 0.01
    global_clipnorm: float | None = 1.0
    precision: Literal["auto", "float32", "mixed_bfloat16", "mixed_float16"] = "auto"
    jit_compile: bool = False
    gradient_accumulation_steps: int = 1
    steps_per_execution: int = 1
    records: str | None = None
    prepare_if_missing: bool = True
    eval_batches: int = 20
    output_dir: str = "runs"
    seed: int = 0
    verbose: int = 1
    phases: tuple[PhaseConfig, ...] = ()

    def __post_init__(self) -> None:
        for name, choices in _CHOICES.items():
            if getattr(self, name) not in choices:
                raise ValueError(f"`train.{name}` must be one of {choices}. "
                                 f"Received: train.{name}={getattr(self, name)!r}")
        for name in ("global_batch_size", "steps", "steps_per_epoch", "steps_per_execution",
                     "gradient_accumulation_steps"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"`train.{name}` must be a positive integer. "
                                 f"Received: train.{name}={value!r}")
        for name in ("warmup_steps", "eval_batches", "verbose"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"`train.{name}` must be a non-negative integer. "
                                 f"Received: train.{name}={value!r}")
        if self.global_batch_size % self.gradient_accumulation_steps:
            raise ValueError("`train.global_batch_size` must be a multiple of "
                             "`train.gradient_accumulation_steps`. Received: train.global_batch_size="
                             f"{self.global_batch_size}, train.gradient_accumulation_steps="
                             f"{self.gradient_accumulation_steps}")
        if self.steps % self.steps_per_epoch:
            raise ValueError("`train.steps` must be a multiple of `train.steps_per_epoch`. "
                             f"Received: train.steps={self.steps}, "
                             f"train.steps_per_epoch={self.steps_per_epoch}")
        if self.steps_per_epoch % self.steps_per_execution:
            raise ValueError("`train.steps_per_epoch` must be a multiple of "
                             f"`train.steps_per_execution`. Received: train.steps_per_epoch="
                             f"{self.steps_per_epoch}, train.steps_per_execution="
                             f"{self.steps_per_execution}")
        if self.warmup_steps >= self.steps:
            raise ValueError("`train.warmup_steps` must be smaller than `train.steps`. "
                             f"Received: train.warmup_steps={self.warmup_steps}, "
                             f"train.steps={self.steps}")
        if not (math.isfinite(self.learning_rate) and self.learning_rate > 0):
            raise ValueError(f"`train.learning_rate` must be a positive, finite number. "
                             f"Received: train.learning_rate={self.learning_rate!r}")
        if not math.isfinite(self.end_learning_rate):
            raise ValueError(f"`train.end_learning_rate` must be a finite number. "
                             f"Received: train.end_learning_rate={self.end_learning_rate!r}")
        for name in ("end_learning_rate", "weight_decay"):
            if getattr(self, name) < 0:
                raise ValueError(f"`train.{name}` must be >= 0. "
                                 f"Received: train.{name}={getattr(self, name)!r}")
        for name in ("beta_1", "beta_2"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"`train.{name}` must be in [0, 1). "
                                 f"Received: train.{name}={getattr(self, name)!r}")
        if not self.epsilon > 0:
            raise ValueError(f"`train.epsilon` must be positive. Received: train.epsilon={self.epsilon!r}")
        if self.global_clipnorm is not None and not self.global_clipnorm > 0:
            raise ValueError("`train.global_clipnorm` must be positive or null. "
                             f"Received: train.global_clipnorm={self.global_clipnorm!r}")
        if self.max_minutes is not None and not self.max_minutes > 0:
            raise ValueError("`train.max_minutes` must be positive or null. "
                             f"Received: train.max_minutes={self.max_minutes!r}")
        if self.max_minutes is not None and self.strategy == "multi_worker":
            raise ValueError(
                "`train.max_minutes` fits the schedule to one process's clock; workers would "
                "disagree on the learning rate. Received: train.max_minutes="
                f"{self.max_minutes}, train.strategy='multi_worker'")
        if self.decay_power <= 0:
            raise ValueError(f"`train.decay_power` must be positive. "
                             f"Received: train.decay_power={self.decay_power!r}")
        if self.phases:
            self._check_phases()

    def _check_phases(self) -> None:
        """The phases add up to `steps`, each a whole number of epochs longer than its warmup;
        one process's clock cannot budget them (`max_minutes`)."""
        total = sum(phase.steps for phase in self.phases)
        if total != self.steps:
            raise ValueError(
                "The steps of `train.phases` must add up to `train.steps` (to change the "
                "run's length, change the phases' steps with it, or set train.phases=[] for one "
                f"phase). Received: train.steps={self.steps}, train.phases steps="
                f"{[phase.steps for phase in self.phases]} (sum {total})")
        if self.max_minutes is not None:
            raise ValueError(
                "`train.max_minutes` fits one schedule to the time; it cannot be combined "
                f"with `train.phases`. Received: train.max_minutes={self.max_minutes}, "
                f"{len(self.phases)} phases")
        for index, phase in enumerate(self.phases):
            where = f"train.phases[{index}]"
            steps, warmup = phase.steps, (phase.warmup_steps if phase.warmup_steps is not None
                                          else self.warmup_steps)
            if isinstance(steps, bool) or not isinstance(steps, int) or steps <= 0 \
                    or steps % self.steps_per_epoch:
                raise ValueError(
                    f"`{where}.steps` must be a positive multiple of `train.steps_per_epoch`. "
                    f"Received: {where}.steps={steps!r}, train.steps_per_epoch="
                    f"{self.steps_per_epoch}")
            if not 0 <= warmup < steps:
                raise ValueError(
                    f"The warmup of `{where}` must be smaller than its steps (set "
                    f"{where}.warmup_steps). Received: warmup_steps={warmup}, "
                    f"{where}.steps={steps}")
            if phase.learning_rate is not None and not (
                    math.isfinite(phase.learning_rate) and phase.learning_rate > 0):
                raise ValueError(f"`{where}.learning_rate` must be a positive, finite number. "
                                 f"Received: {where}.learning_rate={phase.learning_rate!r}")
            for key in ("max_sequence_length", "max_predictions"):
                value = getattr(phase, key)
                if value is not None and (isinstance(value, bool) or value <= 0):
                    raise ValueError(f"`{where}.{key}` must be a positive integer or null. "
                                     f"Received: {where}.{key}={value!r}")
