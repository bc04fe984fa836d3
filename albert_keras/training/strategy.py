"""`make_strategy`: the `tf.distribute` strategy named in a pipeline's `train.strategy`."""

from __future__ import annotations

import json
import os

import tensorflow as tf

from albert_keras.training.train_config import STRATEGIES


def make_strategy(name: str) -> tf.distribute.Strategy:
    """Makes the strategy `name`; call it once, first, and build everything in its scope.

    - `default`: one device (the current default strategy).
    - `mirrored`: all local GPUs (or the CPU when there is none), one replica each.
    - `multi_worker`: `MultiWorkerMirroredStrategy`; the cluster and this worker's index come
      from the `TF_CONFIG` environment variable.
    - `tpu`: `TPUStrategy` on the TPU found by `TPUClusterResolver` (`TPU_NAME` or the local
      TPU VM).

    Args:
        name: str. One of `default | mirrored | multi_worker | tpu`.

    Example:
    ```python
    strategy = make_strategy("mirrored")
    with strategy.scope():
        pretrainer = Pretrainer(Encoder.from_preset("albert_base"))
    ```
    """
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker":
        if "TF_CONFIG" not in os.environ:
            raise ValueError("train.strategy='multi_worker' needs the TF_CONFIG environment "
                             "variable (cluster and task). Received: TF_CONFIG unset")
        try:
            json.loads(os.environ["TF_CONFIG"])
        except json.JSONDecodeError as error:
            raise ValueError(f"TF_CONFIG is not valid JSON ({error}). "
                             f"Received: TF_CONFIG={os.environ['TF_CONFIG']!r}") from None
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "tpu":
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(
            tpu=os.environ.get("TPU_NAME", ""))
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    raise ValueError(f"`train.strategy` must be one of {STRATEGIES}. Received: train.strategy={name!r}")


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """Whether this process writes the run's files (always, except on non-chief workers)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.cluster_spec().as_dict():
        return True
    task_type, task_id = resolver.task_type, resolver.task_id
    return task_type in (None, "chief") or (task_type == "worker" and task_id == 0
                                            and "chief" not in resolver.cluster_spec().as_dict())
