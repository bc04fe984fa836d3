"""`train.max_minutes`: pretraining on a time budget, the schedule fitted to time.

Cramming (Geiping & Goldstein 2022, https://arxiv.org/abs/2212.14034) trains for a fixed time
and lets the learning-rate schedule run over that time rather than over a step count, so the
decay ends when the budget does, whatever the machine's speed. Here the schedule of
`train.steps` (warmup, then decay) is read at `elapsed / budget * steps` instead of at the
optimizer's step, and training stops when the budget is spent (or at `train.steps`, if that
comes first). The first step of a `fit` call traces and builds the train step (about ten
steady steps' time for the quickstart's model on a CPU), so it counts toward neither: counted,
it would use up a short budget's warmup before the second step. Resumed runs count the time of
their earlier parts as their backup recorded it (`AtomicBackupAndRestore`).
"""

from __future__ import annotations

import time

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="albert_keras")
class TimeFittedSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """`schedule` read at the time-based step that `TimeBudget` sets, not the optimizer's.

    Args:
        schedule: a `LearningRateSchedule` over `steps` steps.
        steps: int. The steps the schedule spans (`train.steps`): the budget's end maps there.

    Example:
    ```python
    from albert_keras.training.warmup_polynomial_decay import WarmupPolynomialDecay

    base = WarmupPolynomialDecay(1e-3, warmup_steps=10, decay_steps=100)
    schedule = TimeFittedSchedule(base, steps=100)
    schedule.progress.assign(50.0)  # Half the budget spent: the rate of step 50.
    assert abs(float(schedule(3)) - float(base(50))) < 1e-9
    ```
    """

    def __init__(self, schedule, steps: int):
        self.schedule = schedule
        self.steps = steps
        # The time-based step, set by `TimeBudget` between steps (read inside the train step).
        self.progress = tf.Variable(0.0, trainable=False, dtype=tf.float32,
                                    name="time_budget_progress")

    def __call__(self, step):
        return self.schedule(self.progress)

    def get_config(self):
        return {"schedule": keras.saving.serialize_keras_object(self.schedule),
                "steps": self.steps}

    @classmethod
    def from_config(cls, config):
        return cls(keras.saving.deserialize_keras_object(config["schedule"]), config["steps"])


class TimeBudget(keras.callbacks.Callback):
    """Moves a `TimeFittedSchedule` with the training time and stops `fit` at the budget.

    The clock starts when the first step of the `fit` call ends: that step traces and builds
    the train step, and its time (`first_step_seconds`) counts toward neither the budget nor
    the schedule, which reads the rate of time 0 (the warmup's start) until then.

    Args:
        max_minutes: float. The training-time budget.
        schedule: `TimeFittedSchedule`. The optimizer's schedule.
        backup: `AtomicBackupAndRestore` or None. Its `train_seconds` (the time of the run's
            earlier parts, read in its `on_train_begin`, which must come first) start the clock.
        clock: callable returning seconds. Defaults to `time.perf_counter`.

    Attributes:
        reached: bool. Whether the budget ended training.
        seconds: float. Training seconds counted, earlier parts included.
        first_step_seconds: float or None. The uncounted first step's time (None before it
            ends).
    """

    def __init__(self, max_minutes: float, schedule: TimeFittedSchedule, backup=None,
                 clock=time.perf_counter):
        super().__init__()
        self.budget = 60.0 * max_minutes
        self.schedule, self.backup, self.clock = schedule, backup, clock
        self.reached, self.seconds, self._offset = False, 0.0, 0.0
        self.first_step_seconds, self._begun, self._started = None, 0.0, None

    def on_train_begin(self, logs=None):
        self.reached, self.first_step_seconds, self._started = False, None, None
        self._offset = self.backup.train_seconds if self.backup is not None else 0.0
        self._begun = self.clock()
        self._advance()

    def on_train_batch_begin(self, batch, logs=None):
        self._advance()

    def on_train_batch_end(self, batch, logs=None):
        if self._started is None:  # The first step (tracing included) ends: the clock starts.
            self._started = self.clock()
            self.first_step_seconds = self._started - self._begun
        if self._advance() >= 1.0:
            self.reached = True
            self.model.stop_training = True

    def _advance(self) -> float:
        """Sets the schedule's step from the time counted; returns the budget's spent share."""
        running = 0.0 if self._started is None else self.clock() - self._started
        self.seconds = self._offset + running
        share = min(self.seconds / self.budget, 1.0)
        self.schedule.progress.assign(share * self.schedule.steps)
        return share


def time_fitted_schedule(optimizer) -> TimeFittedSchedule | None:
    """The optimizer's `TimeFittedSchedule` (through a loss-scale wrapper), or None."""
    inner = getattr(optimizer, "inner_optimizer", optimizer)
    schedule = getattr(inner, "_learning_rate", None)  # Keras keeps the schedule object here.
    return schedule if isinstance(schedule, TimeFittedSchedule) else None
