"""`make_strategy`: the `tf.distribute` strategy named in a pipeline's `train.strategy`."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from typing import Iterator

import tensorflow as tf

from albert_keras.training.choices import STRATEGIES
from albert_keras.training.cluster_environment import cluster_environment, tpu_address


def make_strategy(name: str) -> tf.distribute.Strategy:
    """Makes the strategy `name`; call it once, first, and build everything in its scope.

    - `default`: one device (the current default strategy).
    - `mirrored`: all local GPUs (or the CPU when there is none), one replica each.
    - `multi_worker`: `MultiWorkerMirroredStrategy`; the cluster and this worker's index come
      from `TF_CONFIG`, or, when it is unset, from the scheduler's own variables (Kubernetes
      Indexed Job or JobSet, Vertex AI, Slurm: see `cluster_environment`).
    - `tpu`: `TPUStrategy` on the TPU found by `TPUClusterResolver` (`TPU_NAME`, else the local
      TPU VM).

    Args:
        name: str. One of `default | mirrored | multi_worker | tpu`.

    Example:
    ```python
    strategy = make_strategy("mirrored")
    with strategy.scope():
        pretrainer = Pretrainer(Encoder.from_preset("albert_base"))
    assert pretrainer.distribute_strategy is strategy
    ```
    """
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker":
        environment = cluster_environment()
        if environment.strategy != "multi_worker":
            raise ValueError(f"train.strategy='multi_worker' found a {environment.scheduler}, "
                             f"which runs train.strategy={environment.strategy!r}. Received: "
                             "train.strategy='multi_worker'")
        print(f"[strategy] {environment.scheduler}: {environment.task_type} "
              f"{environment.task_index} of {environment.num_workers} worker(s)")
        return tf.distribute.MultiWorkerMirroredStrategy(
            cluster_resolver=environment.cluster_resolver())
    if name == "tpu":
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu_address())
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


def num_workers(strategy: tf.distribute.Strategy) -> int:
    """The processes that train together: the chief and workers of a multi-worker cluster, or 1
    (also on a TPU pod, whose hosts one process drives)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or isinstance(strategy, tf.distribute.TPUStrategy):
        return 1
    spec = resolver.cluster_spec().as_dict()
    return max(1, sum(len(spec.get(kind, ())) for kind in ("chief", "worker")))


def min_over_workers(strategy: tf.distribute.Strategy, value: int) -> int:
    """The smallest of the `value`s that the workers of a multi-worker run pass (a collective
    op: every worker calls it at the same point); `value` itself with one worker."""
    if num_workers(strategy) == 1:
        return value
    values = strategy.experimental_distribute_values_from_function(
        lambda context: tf.constant([value], tf.int64))
    return int(tf.reduce_min(strategy.gather(values, axis=0)))


@contextlib.contextmanager
def output_directory(run_dir: str, strategy: tf.distribute.Strategy) -> Iterator[str]:
    """Where this process writes the run's files: `run_dir` on the chief; on every other
    worker a temporary folder of its own, deleted when the block ends.

    The pattern of TensorFlow's multi-worker guide: every worker runs the same saves (a save
    may take part in collective ops, so all must make it), and only the chief's copy stays.

    Example:
    ```python
    # needs: a `strategy` (e.g. from `make_strategy`) and a `model`
    with output_directory("runs/x", strategy) as out_dir:
        model.save(os.path.join(out_dir, "model.keras"))
    ```
    """
    if is_chief(strategy):
        yield run_dir
        return
    resolver = strategy.cluster_resolver
    path = tempfile.mkdtemp(prefix=f"albert-keras-{resolver.task_type}-{resolver.task_id}-")
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
