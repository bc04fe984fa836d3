"""Runs one small pretraining job in its own process, for the distribution and resume tests.

    python distributed_worker.py mirrored OUT.json      # default vs MirroredStrategy(2 CPUs)
    python distributed_worker.py mirrored_buckets RECORDS OUT.json  # length-bucketed, 2 CPUs
    python distributed_worker.py multi_worker OUT.npz   # one worker; TF_CONFIG from the env
    python distributed_worker.py multi_worker_accumulated OUT.npz  # the same, 2 micro-batches
    python distributed_worker.py multi_worker_finetune OUT.npz  # the same, a TextClassifier
    python distributed_worker.py resume RUN_DIR OUT.npz [KILL_AFTER_EPOCH]

Not collected by pytest (no `test_` prefix): the tests start it with `subprocess`.
"""

from __future__ import annotations

import json
import os
import signal
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

SEQUENCE_LENGTH, PREDICTIONS, VOCABULARY, EXAMPLES = 16, 4, 64, 64


def synthetic_dataset_fn(global_batch_size: int, repeat: bool = True):
    """Fixed records with varying numbers of real predictions per row (weights 0/1)."""
    rng = np.random.default_rng(7)
    token_ids = rng.integers(5, VOCABULARY, (EXAMPLES, SEQUENCE_LENGTH)).astype("int32")
    lengths = rng.integers(8, SEQUENCE_LENGTH + 1, EXAMPLES)
    padding_mask = (np.arange(SEQUENCE_LENGTH)[None, :] < lengths[:, None]).astype("int32")
    token_ids *= padding_mask
    segment_ids = (np.arange(SEQUENCE_LENGTH)[None, :] >= lengths[:, None] // 2).astype("int32")
    segment_ids *= padding_mask
    positions = np.sort(rng.integers(1, 8, (EXAMPLES, PREDICTIONS)), axis=1).astype("int32")
    mask_ids = np.take_along_axis(token_ids, positions, axis=1)
    # Row i has 1 + i % PREDICTIONS real predictions: replicas see different weight sums.
    weights = (np.arange(PREDICTIONS)[None, :] <= (np.arange(EXAMPLES) % PREDICTIONS)[:, None])
    masked = token_ids.copy()
    np.put_along_axis(masked, positions, 4, axis=1)
    pair = rng.integers(0, 2, EXAMPLES).astype("int32")
    x = {"token_ids": masked, "segment_ids": segment_ids, "padding_mask": padding_mask,
         "mask_positions": positions}
    data = (x, {"mlm": mask_ids, "pair": pair}, {"mlm": weights.astype("float32")})

    def dataset_fn(context):
        dataset = tf.data.Dataset.from_tensor_slices(data)
        batch_size = global_batch_size
        if context is not None:
            dataset = dataset.shard(context.num_input_pipelines, context.input_pipeline_id)
            batch_size = context.get_per_replica_batch_size(global_batch_size)
        dataset = dataset.batch(batch_size, drop_remainder=True)
        return dataset.repeat() if repeat else dataset

    return dataset_fn


def tiny_train_config(**overrides):
    from albert_keras.jobs.train_config import TrainConfig

    values = dict(global_batch_size=8, steps=6, steps_per_epoch=2, warmup_steps=1,
                  learning_rate=0.01, verbose=0, eval_batches=0)
    return TrainConfig(**{**values, **overrides})


def build(strategy, train, seed=1, accumulation=1):
    import keras

    from albert_keras.training.gradient_accumulation import use_gradient_accumulation

    from albert_keras.models.encoder import Encoder
    from albert_keras.models.pretrainer import Pretrainer
    from albert_keras.training.pretraining import compile_pretrainer

    keras.utils.set_random_seed(seed)
    with strategy.scope():
        encoder = Encoder(vocabulary_size=VOCABULARY, num_layers=2, num_heads=2, hidden_dim=16,
                          intermediate_dim=32, embedding_dim=8, share="all", dropout=0.0,
                          max_sequence_length=SEQUENCE_LENGTH)
        pretrainer = Pretrainer(encoder, pair_task="sop")
        compile_pretrainer(pretrainer, train)
        use_gradient_accumulation(pretrainer, accumulation)
    return pretrainer


def weights_of(model) -> dict[str, np.ndarray]:
    return {v.path: np.array(v) for v in model.weights}


def _two_logical_cpus() -> None:
    """Splits the CPU into two logical devices (before TensorFlow starts) for MirroredStrategy."""
    (cpu,) = tf.config.list_physical_devices("CPU")
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2)


def run_mirrored(out_path: str) -> None:
    _two_logical_cpus()
    from albert_keras.training.pretraining import distribute

    # Clip at a norm the gradients exceed, so that per-replica clipping would show.
    train = tiny_train_config(global_clipnorm=0.05, steps=4, steps_per_epoch=4)
    results = {}
    # One MirroredStrategy for every mirrored run: two in one process would number their
    # collective ops alike, and one's all-reduce could meet the other's.
    mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    for name, strategy in (("default", tf.distribute.get_strategy()), ("mirrored", mirrored)):
        model = build(strategy, train)
        dataset = distribute(strategy, synthetic_dataset_fn(train.global_batch_size))
        history = model.fit(dataset, epochs=1, steps_per_epoch=train.steps, verbose=0)
        results[name] = {"replicas": strategy.num_replicas_in_sync,
                         "history": {k: [float(x) for x in v] for k, v in history.history.items()},
                         "weights": {k: v.tolist() for k, v in weights_of(model).items()}}
    # Gradient accumulation: 2 replicas x 2 micro-batches of 2 == one device, one batch of 8.
    # epsilon=1 keeps Adam's first step proportional to the gradient (with 1e-6 it is its sign,
    # which turns float noise in near-zero gradients into whole learning-rate steps).
    train = tiny_train_config(global_clipnorm=0.05, steps=4, steps_per_epoch=4, epsilon=1.0)
    for name, strategy, steps in (
            ("default_eps1", tf.distribute.get_strategy(), 1),
            ("mirrored_accumulated", mirrored, 2)):
        model = build(strategy, train, accumulation=steps)
        dataset = distribute(strategy, synthetic_dataset_fn(train.global_batch_size))
        history = model.fit(dataset, epochs=1, steps_per_epoch=train.steps, verbose=0)
        results[name] = {"replicas": strategy.num_replicas_in_sync,
                         "history": {k: [float(x) for x in v] for k, v in history.history.items()},
                         "weights": {k: v.tolist() for k, v in weights_of(model).items()}}
    with open(out_path, "w") as f:
        json.dump(results, f)


def run_mirrored_buckets(records: str, out_path: str) -> None:
    """MirroredStrategy(2 CPUs) on length-bucketed batches: replicas get different shapes."""
    _two_logical_cpus()
    from albert_keras.pretraining_data.reader.pretraining_dataset import (ReaderOptions,
                                                                          pretraining_dataset)
    from albert_keras.training.pretraining import distribute

    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    train = tiny_train_config(steps=6, steps_per_epoch=6)

    def dataset_fn(context):
        return pretraining_dataset(records, train.global_batch_size, context,
                                   options=ReaderOptions(seed=1, length_buckets=(8, 12)))

    widths = []  # Per step, the sequence length each replica got.
    iterator = iter(distribute(strategy, dataset_fn))
    for _ in range(train.steps):
        x, _, _ = next(iterator)
        widths.append([int(t.shape[1])
                       for t in strategy.experimental_local_results(x["token_ids"])])
    model = build(strategy, train)
    history = model.fit(distribute(strategy, dataset_fn), epochs=1,
                        steps_per_epoch=train.steps, verbose=0)
    replicas = {v.path: [np.array(t) for t in strategy.experimental_local_results(v.value)]
                for v in model.trainable_weights}
    with open(out_path, "w") as f:
        json.dump({"widths": widths, "loss": [float(x) for x in history.history["loss"]],
                   "replicas_equal": all(np.array_equal(a, b) for a, b in replicas.values())}, f)


def run_multi_worker(out_path: str, accumulation: int = 1) -> None:
    from albert_keras.training.pretraining import distribute
    from albert_keras.training.strategy import make_strategy

    strategy = make_strategy("multi_worker")
    train = tiny_train_config(steps=3, steps_per_epoch=3)
    model = build(strategy, train, accumulation=accumulation)
    start = weights_of(model)
    dataset = distribute(strategy, synthetic_dataset_fn(train.global_batch_size))
    model.fit(dataset, epochs=1, steps_per_epoch=train.steps, verbose=0)
    end = weights_of(model)
    np.savez(out_path, replicas=strategy.num_replicas_in_sync,
             moved=max(float(np.abs(end[k] - start[k]).max()) for k in end),
             **{k.replace("/", "|"): v for k, v in end.items()})


def run_multi_worker_finetune(out_path: str) -> None:
    """A `TextClassifier` fit the way `finetune` fits it: a plain dataset, Keras distributes it."""
    import keras

    from albert_keras.models.encoder import Encoder
    from albert_keras.models.text_classifier import TextClassifier
    from albert_keras.training.strategy import make_strategy

    strategy = make_strategy("multi_worker")
    keras.utils.set_random_seed(1)
    with strategy.scope():
        encoder = Encoder(vocabulary_size=VOCABULARY, num_layers=2, num_heads=2, hidden_dim=16,
                          intermediate_dim=32, dropout=0.0, max_sequence_length=SEQUENCE_LENGTH)
        model = TextClassifier(encoder, num_classes=2, dropout=0.0)
        model.compile(optimizer=keras.optimizers.AdamW(0.01),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      metrics=[keras.metrics.SparseCategoricalAccuracy("accuracy")])
    start = weights_of(model)
    (x, y, _), = synthetic_dataset_fn(EXAMPLES, repeat=False)(None).as_numpy_iterator()
    inputs = {name: x[name] for name in ("token_ids", "segment_ids", "padding_mask")}
    dataset = tf.data.Dataset.from_tensor_slices((inputs, y["pair"])).batch(8).repeat()
    history = model.fit(dataset, epochs=1, steps_per_epoch=3, verbose=0)
    end = weights_of(model)
    np.savez(out_path, replicas=strategy.num_replicas_in_sync,
             moved=max(float(np.abs(end[k] - start[k]).max()) for k in end),
             accuracy=history.history["accuracy"][-1],
             **{k.replace("/", "|"): v for k, v in end.items()})


class _KillAfterEpoch:
    def __new__(cls, epoch):
        import keras

        class Kill(keras.callbacks.Callback):
            def on_epoch_end(self, index, logs=None):
                if index + 1 == epoch:  # After the backup of this epoch.
                    os.kill(os.getpid(), signal.SIGKILL)

        return Kill()


class _CountSteps:
    def __new__(cls):
        import keras

        class Count(keras.callbacks.Callback):
            steps = 0

            def on_train_batch_end(self, batch, logs=None):
                Count.steps += 1

        return Count()


def run_resume(run_dir: str, out_path: str, kill_after_epoch: int | None) -> None:
    from albert_keras.jobs.pretrain import fit_pretrainer
    from albert_keras.training.pretraining import distribute

    strategy = tf.distribute.get_strategy()
    train = tiny_train_config()
    model = build(strategy, train)
    # One pass over the records per epoch, in the same order every epoch: a resumed run sees
    # the same batches as an uninterrupted one.
    dataset = distribute(strategy, synthetic_dataset_fn(train.global_batch_size, repeat=False)
                         ).take(train.steps_per_epoch)
    counter = _CountSteps()
    extra = [counter] + ([_KillAfterEpoch(kill_after_epoch)] if kill_after_epoch else [])
    fit_pretrainer(model, dataset, train, run_dir, strategy, callbacks=extra)
    np.savez(out_path, steps_run=type(counter).steps,
             iterations=int(model.optimizer.iterations.numpy()),
             **{k.replace("/", "|"): v for k, v in weights_of(model).items()})


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "mirrored":
        run_mirrored(sys.argv[2])
    elif mode == "mirrored_buckets":
        run_mirrored_buckets(sys.argv[2], sys.argv[3])
    elif mode == "multi_worker":
        run_multi_worker(sys.argv[2])
    elif mode == "multi_worker_accumulated":  # 2 workers x 2 micro-batches of 2.
        run_multi_worker(sys.argv[2], accumulation=2)
    elif mode == "multi_worker_finetune":
        run_multi_worker_finetune(sys.argv[2])
    elif mode == "resume":
        run_resume(sys.argv[2], sys.argv[3], int(sys.argv[4]) if len(sys.argv) > 4 else None)
    else:
        raise SystemExit(f"unknown mode {mode!r}")
