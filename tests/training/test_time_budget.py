"""`train.max_minutes`: the schedule runs over the training time, and training stops there."""

import os

import keras
import numpy as np
import pytest

from albert_keras.pipeline import ConfigError, pipeline_from_dict
from albert_keras.training.time_budget import TimeBudget, TimeFittedSchedule
from albert_keras.training.warmup_polynomial_decay import WarmupPolynomialDecay
from tests.helpers import tiny_pretraining_config


class _Clock:
    """`time.perf_counter` that moves `tick` seconds a call."""

    def __init__(self, tick: float):
        self.now, self.tick = 0.0, tick

    def __call__(self):
        self.now += self.tick
        return self.now


@pytest.mark.parametrize("spent", [0.0, 0.05, 0.3, 0.75, 1.0])
def test_the_schedule_is_read_at_the_share_of_time_spent(spent):
    base = WarmupPolynomialDecay(1e-3, warmup_steps=10, decay_steps=100, end_learning_rate=1e-5)
    schedule = TimeFittedSchedule(base, steps=100)
    schedule.progress.assign(spent * 100)
    for step in (0, 7, 99):  # The optimizer's own step does not matter.
        assert float(schedule(step)) == pytest.approx(float(base(spent * 100)), rel=1e-6)
    copy = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(schedule))
    assert isinstance(copy, TimeFittedSchedule) and copy.get_config() == schedule.get_config()


class _StepTimes(keras.callbacks.Callback):
    """Moves a fake clock by `first` seconds in the first step and `later` in each other, and
    records the schedule's progress at each step's start (after `TimeBudget` set it)."""

    def __init__(self, schedule, first: float, later: float):
        super().__init__()
        self.now, self.first, self.later, self.schedule = 0.0, first, later, schedule
        self.progress = []

    def __call__(self):  # The clock.
        return self.now

    def on_train_batch_begin(self, batch, logs=None):
        self.progress.append(float(self.schedule.progress.numpy()))

    def on_train_batch_end(self, batch, logs=None):
        self.now += self.first if not self.progress[1:] else self.later


@pytest.mark.parametrize("first", [0.5, 100.0])
def test_fit_stops_when_the_budget_is_spent_and_the_first_step_is_not_counted(first):
    base = WarmupPolynomialDecay(1e-2, warmup_steps=2, decay_steps=100)
    schedule = TimeFittedSchedule(base, steps=100)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=schedule), loss="mse")
    steps = _StepTimes(schedule, first=first, later=1.0)
    budget = TimeBudget(max_minutes=0.25, schedule=schedule, clock=steps)  # 15 s
    x, y = np.ones((64, 4), "float32"), np.zeros((64, 1), "float32")
    # The clock moves before the budget reads it at a step's end; progress is read after it.
    model.fit(x, y, batch_size=1, epochs=10, callbacks=[steps, budget], verbose=0)
    assert budget.reached and model.stop_training
    # However long the first step (tracing), the budget buys 15 one-second steps after it.
    assert budget.first_step_seconds == first
    assert int(model.optimizer.iterations.numpy()) == 16
    assert budget.seconds == 15.0
    # Steps 1 and 2 start at the schedule's start (the warmup's first rate), then one
    # fifteenth of the schedule a second.
    assert steps.progress[:2] == [0.0, 0.0]
    assert steps.progress[2:] == pytest.approx([100.0 * k / 15 for k in range(1, 15)])
    assert float(schedule.progress.numpy()) == 100.0  # The end of the schedule: rate 0.
    assert float(schedule(0)) == pytest.approx(0.0, abs=1e-9)


def test_a_resumed_run_counts_its_earlier_parts():
    class Backup:
        train_seconds = 12.0

    schedule = TimeFittedSchedule(WarmupPolynomialDecay(1e-2, 2, 100), steps=100)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=schedule), loss="mse")
    steps = _StepTimes(schedule, first=30.0, later=1.0)
    budget = TimeBudget(max_minutes=0.25, schedule=schedule, backup=Backup(), clock=steps)
    x, y = np.ones((64, 4), "float32"), np.zeros((64, 1), "float32")
    model.fit(x, y, batch_size=1, epochs=10, callbacks=[steps, budget], verbose=0)
    # 12 s were spent before: 3 counted steps after the uncounted first one.
    assert int(model.optimizer.iterations.numpy()) == 4 and budget.seconds == 15.0
    assert steps.progress[0] == pytest.approx(100.0 * 12 / 15)


def test_max_minutes_is_checked_before_any_work():
    with pytest.raises(ConfigError, match=r"train.max_minutes=0"):
        pipeline_from_dict({"name": "x", "train": {"max_minutes": 0}})
    with pytest.raises(ConfigError, match=r"train.max_minutes=5.0, train.strategy='multi_worker'"):
        pipeline_from_dict({"name": "x", "train": {"max_minutes": 5, "strategy": "multi_worker"}})


@pytest.mark.large
def test_pretrain_on_a_time_budget_finishes_early_and_completely(tmp_path, capsys):
    from albert_keras.pipeline import prepare_and_pretrain

    raw = tiny_pretraining_config(tmp_path, steps=2000, steps_per_epoch=50, max_minutes=0.05)
    summary = prepare_and_pretrain(pipeline_from_dict(raw))
    assert summary["status"] == "completed" and summary["stopped_by_time_budget"]
    assert 0 < summary["steps_run"] < 2000
    assert summary["train_seconds"] < 60  # 3 s of budget, plus the epoch-end work.
    assert 0 < summary["time_budget_first_step_seconds"] < summary["train_seconds"]
    run = tmp_path / "runs" / "tiny"
    assert (run / "encoder.keras").exists() and not (run / "backup").exists()
    printed = capsys.readouterr().out
    assert "the time budget of 0.05 min reached (the first step, which traces" in printed
    assert os.path.isfile(run / "summary.json")
