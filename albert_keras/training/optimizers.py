"""`make_optimizer`: the optimizer and learning-rate schedule a `TrainConfig` asks for."""

from __future__ import annotations

from typing import Any

import keras

from albert_keras.training.adamw import AdamW
from albert_keras.training.lamb import Lamb
from albert_keras.training.time_budget import TimeFittedSchedule
from albert_keras.training.warmup_polynomial_decay import WarmupPolynomialDecay


def make_optimizer(config: Any) -> keras.optimizers.Optimizer:
    """`Lamb` or `AdamW` with a warmup + polynomial decay schedule over `config.steps` (or
    over `config.max_minutes` of training time).

    Under `precision="mixed_float16"` the optimizer is wrapped in a
    `keras.optimizers.LossScaleOptimizer` (dynamic loss scaling). Call it inside
    `strategy.scope()`.

    Args:
        config: `TrainConfig` (`albert_keras.jobs.train_config`), or anything with its fields
            `optimizer, learning_rate, warmup_steps, steps, end_learning_rate, decay_power,
            max_minutes, beta_1, beta_2, epsilon, weight_decay, global_clipnorm, precision`.
    """
    schedule = WarmupPolynomialDecay(
        config.learning_rate, warmup_steps=config.warmup_steps, decay_steps=config.steps,
        end_learning_rate=config.end_learning_rate, power=config.decay_power)
    if config.max_minutes is not None:  # The same schedule, over time (`time_budget.py`).
        schedule = TimeFittedSchedule(schedule, config.steps)
    optimizer_class = {"lamb": Lamb, "adamw": AdamW}[config.optimizer]
    optimizer = optimizer_class(
        learning_rate=schedule, beta_1=config.beta_1, beta_2=config.beta_2,
        epsilon=config.epsilon, weight_decay=config.weight_decay,
        global_clipnorm=config.global_clipnorm)
    if config.precision == "mixed_float16":
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer


def build_optimizer(model: keras.Model) -> None:
    """Creates `model.optimizer`'s variables (its slots) now, before the first `fit`.

    Keras builds them before training only under a non-default strategy; otherwise they are
    created inside the first call of the train step's `tf.function`, which TensorFlow then
    traces a second time (a function that creates variables is traced once to create them and
    again without). Built here, the step is traced once: seconds saved per run, which is most
    of a short fine-tuning run's fixed cost. Call it after `compile`, inside `strategy.scope()`.
    Metrics given to `compile` by name (`"accuracy"`) are also made in the first step; the jobs
    give metric objects, which are not.
    """
    if model.optimizer is not None and not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
