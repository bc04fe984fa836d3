"""Gradient accumulation: one optimizer step from a batch computed in micro-batches.

`use_gradient_accumulation(model, steps)` makes `model.fit` split each (per-replica) batch into
`steps` micro-batches, run forward and backward on one micro-batch at a time (a `tf.while_loop`
without parallel iterations, so only one micro-batch's activations are alive), sum their
gradients, and apply the optimizer once. The step is the step of the whole batch:

- the same update as the batch in one piece, to float tolerance: each micro-batch's loss is
  weighted by its share of the batch, and `MaskedLMLoss` (masked-LM, token tagging) divides by
  the token weight of the *whole* step (all micro-batches, all replicas), not of its
  micro-batch;
- the optimizer sees one summed gradient: LAMB's trust ratio, weight decay and global-norm
  clipping (`CrossReplicaClipping`, after the cross-replica sum) act on it once;
- nothing is carried from one step to the next, so steps, learning-rate schedules, backups and
  resume are unchanged, and every `tf.distribute` strategy works as without accumulation.

Why not Keras' own `Optimizer(gradient_accumulation_steps=N)`: it counts each micro-batch as a
`fit` step (steps, epochs and callbacks change meaning), its learning-rate schedule reads the
micro-step counter (so warmup and decay run N times too fast; Keras 3.15 `_get_current_learning_rate`),
it averages micro-batch losses whatever their masked-token counts, and its accumulators are
optimizer state that a backup taken between two updates must carry.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from albert_keras.training.masked_lm_loss import MaskedLMLoss


def use_gradient_accumulation(model: keras.Model, steps: int) -> None:
    """Makes `model.fit` accumulate gradients over `steps` micro-batches per step.

    Call after `model.compile(...)`; `steps=1` restores the plain Keras step. Each per-replica
    batch must split into `steps` micro-batches: the last one takes what is left when it does
    not split evenly, and the weighting keeps the update exact.

    Args:
        model: keras.Model. A compiled model (`Pretrainer`, `TextClassifier`, ...).
        steps: int. Micro-batches per optimizer step, >= 1.

    Example:
    ```python
    # needs: a `pretrainer`, `pair_loss` and a `dataset`
    pretrainer.compile(optimizer=Lamb(), loss={"mlm": MaskedLMLoss(), "pair": pair_loss})
    use_gradient_accumulation(pretrainer, 4)   # global batch 32 = 4 micro-batches of 8
    pretrainer.fit(dataset, epochs=1, steps_per_epoch=100)
    ```
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError("`gradient_accumulation_steps` must be a positive integer. "
                         f"Received: gradient_accumulation_steps={steps!r}")
    if steps == 1:
        model.__dict__.pop("train_step", None)
    else:
        # An instance attribute: `fit` calls `self.train_step`, so this one is used.
        object.__setattr__(model, "train_step",
                           lambda data: accumulated_train_step(model, data, steps))
    model.train_function = None  # Rebuilt with the new step on the next `fit`.


def accumulated_train_step(model: keras.Model, data, steps: int) -> dict:
    """One optimizer step of `model` on `data`, computed in `steps` micro-batches."""
    x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
    first = tf.nest.flatten(x)[0]
    batch_size = tf.shape(first)[0]
    micro_batch = _micro_batches(first.shape[0], batch_size, steps, (x, y, sample_weight))
    mlm_losses = _masked_lm_losses(model)
    total_weight = {key: _global_weight(_get(y, key), _get(sample_weight, key))
                    for key in mlm_losses}
    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    loss_tracker = next(m for m in model.metrics if m.name == "loss")
    variables = model.trainable_variables

    def body(index, gradients):
        (x_i, y_i, weight_i), size = micro_batch(index)
        share = tf.cast(size, "float32") / tf.cast(batch_size, "float32")
        with tf.GradientTape() as tape:
            y_pred = model(x_i, training=True)
            for key, loss_fn in mlm_losses.items():  # This micro-batch's part of the step.
                loss_fn.total_weight = total_weight[key] * share
            try:
                loss = model.compute_loss(x=x_i, y=y_i, y_pred=y_pred, sample_weight=weight_i,
                                          training=True)
            finally:
                for loss_fn in mlm_losses.values():
                    loss_fn.total_weight = None
            loss_tracker.update_state(loss * replicas, sample_weight=size)
            scaled = model.optimizer.scale_loss(loss * tf.cast(share, loss.dtype))
        new = tape.gradient(scaled, variables)
        unused.update(i for i, g in enumerate(new) if g is None)  # Known when traced.
        model.compute_metrics(x_i, y_i, y_pred, sample_weight=weight_i)
        return index + 1, [total if g is None else total + tf.convert_to_tensor(g)
                           for total, g in zip(gradients, new)]

    unused: set[int] = set()
    zeros = [tf.zeros(v.shape, v.dtype) for v in variables]
    _, gradients = tf.while_loop(lambda index, _: index < steps, body, (0, zeros),
                                 parallel_iterations=1)  # One micro-batch alive at a time.
    # Variables the loss does not reach get no gradient, as in Keras' step (no decay either).
    pairs = [(g, v) for i, (g, v) in enumerate(zip(gradients, variables)) if i not in unused]
    model.optimizer.apply([g for g, _ in pairs], [v for _, v in pairs])
    results = model.get_metrics_result()
    if isinstance(tf.distribute.get_strategy(), tf.distribute.MultiWorkerMirroredStrategy):
        # Keras reduces a multi-worker step's outputs with `reduce(MEAN, axis=0)`, which
        # needs a batch axis: its own step's results have shape (1,) there, so these do too.
        results = {name: tf.reshape(value, [1]) for name, value in results.items()}
    return results


def _micro_batches(static_size, batch_size, steps: int, data):
    """`index -> (micro-batch of data, its size)`. Static shapes when the batch splits evenly
    (XLA needs them); else slices of ceil(batch / steps) rows, the last one what is left."""
    def split(function):
        return lambda t: None if t is None else function(t)

    if static_size is not None and static_size % steps == 0:
        size = static_size // steps
        stacked = tf.nest.map_structure(split(
            lambda t: tf.reshape(t, [steps, size, *t.shape[1:]] if None not in t.shape[1:]
                                 else tf.concat([[steps, size], tf.shape(t)[1:]], 0))), data)
        return lambda index: (tf.nest.map_structure(split(lambda t: t[index]), stacked),
                              tf.constant(size))
    micro_size = (batch_size + steps - 1) // steps

    def micro_batch(index):
        start = tf.minimum(index * micro_size, batch_size)
        end = tf.minimum(start + micro_size, batch_size)
        return tf.nest.map_structure(split(lambda t: t[start:end]), data), end - start
    return micro_batch


def _masked_lm_losses(model: keras.Model) -> dict:
    """`{output name (None for a single output): MaskedLMLoss}` among the compiled losses."""
    losses = model.loss if isinstance(model.loss, dict) else {None: model.loss}
    return {key: loss for key, loss in losses.items() if isinstance(loss, MaskedLMLoss)}


def _get(structure, key):
    if key is None:
        return structure
    return structure.get(key) if isinstance(structure, dict) else None


def _global_weight(y, weight) -> tf.Tensor:
    """The masked-token weight of the whole step over all replicas (what `MaskedLMLoss`
    divides by without accumulation)."""
    total = (tf.reduce_sum(tf.cast(weight, "float32")) if weight is not None
             else tf.cast(tf.size(y), "float32"))
    context = tf.distribute.get_replica_context()
    if context is not None and context.num_replicas_in_sync > 1:
        total = context.all_reduce(tf.distribute.ReduceOp.SUM, total)
    return total
