"""The reusable pieces of pretraining: compile a `Pretrainer`, feed it under a strategy, and the
baseline its MLM accuracy is read against.

The `pretrain` job (`albert_keras/jobs/pretrain.py`) and `compare`'s arms train with them; so
can any script, with any dataset of `(x, y, sample_weight)` batches.
"""

from __future__ import annotations

from typing import Any, Callable

import keras
import tensorflow as tf

from albert_keras.models.pretrainer import Pretrainer
from albert_keras.training.gradient_accumulation import use_gradient_accumulation
from albert_keras.training.masked_lm_loss import MaskedLMLoss
from albert_keras.training.optimizers import build_optimizer, make_optimizer

DatasetFn = Callable[[tf.distribute.InputContext | None], tf.data.Dataset]


def compile_pretrainer(pretrainer: Pretrainer, train: Any) -> None:
    """Compiles with the optimizer, MLM + pair losses and their accuracies (call in scope).

    Args:
        pretrainer: `Pretrainer`. Built in the strategy's scope.
        train: `TrainConfig` (`albert_keras.jobs.train_config`), the pipeline's `train`
            section: its optimizer fields (see `make_optimizer`), `jit_compile`,
            `steps_per_execution` and `gradient_accumulation_steps`.
    """
    pretrainer.compile(
        optimizer=make_optimizer(train),
        loss={"mlm": MaskedLMLoss(),
              "pair": keras.losses.SparseCategoricalCrossentropy(from_logits=True)},
        weighted_metrics={"mlm": [keras.metrics.SparseCategoricalAccuracy("accuracy")]},
        metrics={"pair": [keras.metrics.SparseCategoricalAccuracy("accuracy")]},
        jit_compile=train.jit_compile, steps_per_execution=train.steps_per_execution)
    build_optimizer(pretrainer)  # The train step traced once, not twice.
    use_gradient_accumulation(pretrainer, train.gradient_accumulation_steps)


def distribute(strategy: tf.distribute.Strategy, dataset_fn: DatasetFn):
    """`dataset_fn(input_context)` per worker under a strategy; `dataset_fn(None)` otherwise.

    `dataset_fn` returns batches of the per-replica size when given an input context
    (`context.get_per_replica_batch_size(global_batch_size)`) and of the global size when not.
    """
    if strategy.num_replicas_in_sync == 1 and strategy.cluster_resolver is None:
        return dataset_fn(None)
    return strategy.distribute_datasets_from_function(dataset_fn)


def most_frequent_token_accuracy(dataset: tf.data.Dataset) -> float:
    """MLM accuracy of always predicting the most frequent masked token of these batches."""
    counts: dict[int, float] = {}
    for _, y, sample_weight in dataset.as_numpy_iterator():
        ids = y["mlm"].reshape(-1)
        weights = sample_weight["mlm"].reshape(-1)
        for token, weight in zip(ids[weights > 0], weights[weights > 0]):
            counts[int(token)] = counts.get(int(token), 0.0) + float(weight)
    total = sum(counts.values())
    return max(counts.values()) / total if total else 0.0
