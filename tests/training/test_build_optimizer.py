"""`build_optimizer`: the train step is traced once per `fit`, not twice, on the default
strategy (where Keras leaves the optimizer's variables to the first step)."""

import keras
import numpy as np
import pytest

from albert_keras.jobs.train_config import TrainConfig
from albert_keras.training.optimizers import build_optimizer, make_optimizer


def _traced_steps(build_first: bool, optimizer_name: str) -> tuple[int, keras.Model]:
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dense(2)])
    model.compile(optimizer=make_optimizer(TrainConfig(optimizer=optimizer_name, steps=10, steps_per_epoch=10,
                                                       warmup_steps=1)),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=[keras.metrics.SparseCategoricalAccuracy("accuracy")])
    if build_first:
        build_optimizer(model)
    traces = []
    step = model.train_step

    def counted(data):  # Runs in Python only while the step's function is traced.
        traces.append(1)
        return step(data)

    object.__setattr__(model, "train_step", counted)
    x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
    model.fit(x, (x[:, 0] > 0).astype("int32"), batch_size=16, epochs=2, verbose=0)
    return len(traces), model


@pytest.mark.parametrize("optimizer_name", ["lamb", "adamw"])
def test_built_optimizer_traces_the_train_step_once(optimizer_name):
    traced_once, built = _traced_steps(True, optimizer_name)
    traced_lazily, lazy = _traced_steps(False, optimizer_name)
    assert traced_once == 1
    assert traced_lazily == 2  # What the build saves: TensorFlow's second trace.
    for a, b in zip(built.get_weights(), lazy.get_weights()):  # The same training.
        np.testing.assert_array_equal(a, b)


def test_build_optimizer_is_idempotent():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer="adam", loss="mse")
    build_optimizer(model)
    variables = [v.path for v in model.optimizer.variables]
    build_optimizer(model)
    assert [v.path for v in model.optimizer.variables] == variables and variables
