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


def test_fit_stops_when_the_budget_is_spent():
    base = WarmupPolynomialDecay(1e-2, warmup_steps=2, decay_steps=100)
    schedule = TimeFittedSchedule(base, steps=100)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=schedule), loss="mse")
    budget = TimeBudget(max_minutes=0.25, schedule=schedule, clock=_Clock(tick=1.0))  # 15 ticks
    x, y = np.ones((64, 4), "float32"), np.zeros((64, 1), "float32")
    model.fit(x, y, batch_size=1, epochs=10, callbacks=[budget], verbose=0)
    assert budget.reached and model.stop_training
    # Three clock reads a batch (begin, end) after one at the start: 15 s in 7 batches.
    assert int(model.optimizer.iterations.numpy()) == 7
    assert float(schedule.progress.numpy()) == 100.0  # The end of the schedule: rate 0.
    assert float(schedule(0)) == pytest.approx(0.0, abs=1e-9)


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
    run = tmp_path / "runs" / "tiny"
    assert (run / "encoder.keras").exists() and not (run / "backup").exists()
    assert "the time budget of 0.05 min reached" in capsys.readouterr().out
    assert os.path.isfile(run / "summary.json")
